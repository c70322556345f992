"""optim.lr_scheduler without torch: a state_dict saved mid-way (through JSON, as the
Trainer's checkpoint stores it) continues exactly as an uninterrupted schedule; the
documented schedules; clear errors for bad arguments. PyTorch parity of the lr sequences is
in test_torch_parity.py."""

import json
import math

import numpy as np
import pytest

from minitorch_cv import nn, optim
from minitorch_cv.optim import lr_scheduler


def two_groups():
    return optim.SGD([{"params": [nn.Parameter(np.zeros(2))]},
                      {"params": [nn.Parameter(np.zeros(3))], "lr": 0.02}], lr=0.1)


SCHEDULERS = {
    "step": lambda opt: lr_scheduler.StepLR(opt, step_size=3, gamma=0.5),
    "multistep": lambda opt: lr_scheduler.MultiStepLR(opt, milestones=[2, 6, 6, 11]),
    "exponential": lambda opt: lr_scheduler.ExponentialLR(opt, gamma=0.8),
    "cosine": lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=8, eta_min=0.001),
    "plateau": lambda opt: lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5,
                                                          cooldown=1),
}
METRICS = [1.0, 0.8, 0.85, 0.9, 0.7, 0.75, 0.76, 0.77, 0.5, 0.6, 0.6, 0.6, 0.4, 0.41, 0.42,
           0.43]


def advance(sched, epochs):
    """``epochs`` scheduler steps (the plateau one fed METRICS), with the lr of each."""
    lrs = []
    for _ in range(epochs):
        if isinstance(sched, lr_scheduler.ReduceLROnPlateau):
            sched.step(METRICS[sched.last_epoch])
        else:
            sched.step()
        lrs.append(sched.get_last_lr())
    return lrs


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_state_dict_through_json_mid_way_continues_exactly(name):
    full_opt = two_groups()
    full = advance(SCHEDULERS[name](full_opt), 16)

    part_opt = two_groups()
    part = SCHEDULERS[name](part_opt)
    first = advance(part, 7)
    saved = json.loads(json.dumps({"optimizer": part_opt.state_dict(),
                                   "scheduler": part.state_dict()}))
    opt = two_groups()
    resumed = SCHEDULERS[name](opt)          # built first, then the states loaded (torch's order)
    opt.load_state_dict(saved["optimizer"])
    resumed.load_state_dict(saved["scheduler"])
    assert resumed.get_last_lr() == first[-1]
    assert first + advance(resumed, 9) == full
    assert len({tuple(lrs) for lrs in full}) >= 3                 # the schedule moved


def test_the_documented_schedules():
    opt = two_groups()
    step = lr_scheduler.StepLR(opt, step_size=5, gamma=0.1)
    lrs = [step.get_last_lr()[0]] + [lr[0] for lr in advance(step, 10)]
    assert lrs == pytest.approx([0.1] * 5 + [0.01] * 5 + [0.001], rel=1e-15)
    assert opt.param_groups[1]["initial_lr"] == 0.02

    opt = two_groups()
    multi = lr_scheduler.MultiStepLR(opt, milestones=[5, 8], gamma=0.1)
    lrs = [multi.get_last_lr()[1]] + [lr[1] for lr in advance(multi, 9)]
    assert lrs == pytest.approx([0.02] * 5 + [0.002] * 3 + [0.0002] * 2, rel=1e-15)

    opt = two_groups()
    cosine = lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.001)
    lrs = advance(cosine, 10)
    closed = [0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * t / 10)) / 2
              for t in range(1, 11)]
    assert [lr[0] for lr in lrs] == pytest.approx(closed, rel=1e-12)
    assert lrs[-1][0] == pytest.approx(0.001, rel=1e-12)


def test_plateau_counts_bad_evaluations_and_respects_min_lr():
    opt = two_groups()
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.1, min_lr=[0.005, 0.0])
    history = []
    for metric in [1.0, 1.0, 1.0, 0.5, 0.6, 0.7, 0.8, 0.9]:
        sched.step(metric)
        history.append(sched.get_last_lr())
    assert history[1] == [0.1, 0.02]                  # one bad evaluation is tolerated
    assert history[2] == pytest.approx([0.01, 0.002])  # the second lowers the lr
    assert history[3] == history[4] == pytest.approx([0.01, 0.002])   # 0.5 improved
    assert history[5] == pytest.approx([0.005, 0.0002])  # floored at min_lr 0.005
    assert history[7] == pytest.approx([0.005, 0.00002])
    with pytest.raises(TypeError, match="the validation loss"):
        sched.step()


@pytest.mark.parametrize("build, error, message", [
    (lambda o: lr_scheduler.StepLR(o, step_size=0), ValueError, "step_size must be an int >= 1"),
    (lambda o: lr_scheduler.StepLR(o, step_size=2.5), ValueError, "step_size"),
    (lambda o: lr_scheduler.StepLR(o, 2, gamma=-0.1), ValueError, "gamma must be a number > 0"),
    (lambda o: lr_scheduler.MultiStepLR(o, milestones=5), ValueError, "list of epochs"),
    (lambda o: lr_scheduler.MultiStepLR(o, milestones=[3, -1]), ValueError, "ints >= 0"),
    (lambda o: lr_scheduler.ExponentialLR(o, gamma=float("nan")), ValueError, "gamma"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), ValueError, "T_max"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, 5, eta_min=-1.0), ValueError, "eta_min"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), ValueError,
     r"Factor should be < 1.0"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="minimum"), ValueError,
     "mode 'minimum' is unknown"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="relative"), ValueError,
     "threshold mode 'relative' is unknown"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.0]), ValueError,
     "expected 2 min_lrs, got 1"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=-1), ValueError, "patience"),
    (lambda o: lr_scheduler.StepLR(o, 2, last_epoch=-2), ValueError, "last_epoch"),
    (lambda o: lr_scheduler.StepLR(o, 2, last_epoch=4), KeyError, "initial_lr"),
    (lambda o: lr_scheduler.StepLR(o.param_groups, 2), TypeError, "is not an Optimizer"),
])
def test_bad_arguments_are_refused_clearly(build, error, message):
    opt = two_groups()
    with pytest.raises(error, match=message):
        build(opt)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.02]


def test_a_state_of_another_scheduler_is_refused_and_changes_nothing():
    opt = two_groups()
    step = lr_scheduler.StepLR(opt, step_size=3)
    advance(step, 2)
    before = step.state_dict()
    other = lr_scheduler.CosineAnnealingLR(two_groups(), T_max=5).state_dict()
    with pytest.raises(ValueError, match=r"unknown keys \['T_max', 'eta_min'\]"):
        step.load_state_dict(other)
    with pytest.raises(ValueError, match="one value per parameter group"):
        step.load_state_dict({**before, "base_lrs": [0.1]})
    plateau = lr_scheduler.ReduceLROnPlateau(opt)
    plateau_before = plateau.state_dict()
    with pytest.raises(ValueError, match="mode 'up' is unknown"):
        plateau.load_state_dict({**plateau_before, "mode": "up"})
    assert step.state_dict() == before and plateau.state_dict() == plateau_before
