"""Optimizers' parameter groups and state dicts in torch.optim's layout: per-group
hyperparameters, add_param_group, opt.lr-style attributes, clear refusals, and the layout of
earlier versions ({"hyper", "state": list}) still loading. PyTorch parity is in
test_torch_parity.py."""

import json

import numpy as np
import pytest

from minitorch_cv import nn, optim


def params(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [nn.Parameter(rng.standard_normal(s).astype(dtype)) for s in ((3, 4), (5,), (2,))]


def run(opt, ps, steps, seed=1):
    """Give every parameter a seeded gradient and step, ``steps`` times."""
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        for p in ps:
            p.grad = rng.standard_normal(p.data.shape).astype(p.data.dtype)
        opt.step()
        opt.zero_grad()


def test_groups_have_their_own_lr_and_weight_decay():
    """A group with its own lr and weight decay moves exactly as a separate optimizer with
    those values would (the same operations, so the same bits)."""
    a, b = params(), params()
    grouped = optim.SGD([{"params": a[:2]}, {"params": a[2:], "lr": 0.01, "weight_decay": 0.1}],
                        lr=0.1, momentum=0.9)
    first = optim.SGD(b[:2], lr=0.1, momentum=0.9)
    second = optim.SGD(b[2:], lr=0.01, momentum=0.9, weight_decay=0.1)
    for step in range(3):
        rng = np.random.default_rng(step)
        for p, q in zip(a, b):
            p.grad = q.grad = rng.standard_normal(p.data.shape)
        grouped.step()
        first.step()
        second.step()
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p.data, q.data)
    assert [g["lr"] for g in grouped.param_groups] == [0.1, 0.01]
    assert grouped.param_groups[1]["momentum"] == 0.9                 # the default filled in
    assert grouped.params == a


def test_add_param_group_joins_with_its_own_lr_and_keeps_the_numbering():
    ps = params()
    opt = optim.Adam(ps[:2], lr=0.01)
    run(opt, ps[:2], 2)
    opt.add_param_group({"params": ps[2], "lr": 0.001})             # one Parameter is fine
    assert [len(g["params"]) for g in opt.param_groups] == [2, 1]
    assert opt.param_groups[1]["betas"] == (0.9, 0.999)
    run(opt, ps, 1)
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["state"][0]["step"] == 3 and sd["state"][2]["step"] == 1


def test_state_dict_layout_is_torchs():
    ps = params()
    opt = optim.SGD([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.5}], lr=0.1, momentum=0.9)
    assert optim.SGD(ps, lr=0.1).state_dict()["state"] == {}        # nothing before a step
    ps[2].requires_grad = False
    run(opt, ps[:2], 1)
    sd = opt.state_dict()
    assert list(sd) == ["state", "param_groups"]
    assert sorted(sd["state"]) == [0, 1]                             # only parameters with state
    assert list(sd["state"][0]) == ["momentum_buffer"]
    assert [list(g)[-1] for g in sd["param_groups"]] == ["params", "params"]
    assert sd["param_groups"][1] == {"lr": 0.5, "momentum": 0.9, "dampening": 0.0,
                                     "weight_decay": 0.0, "nesterov": False,
                                     "maximize": False, "params": [2]}


def json_round_trip(sd):
    """What a checkpoint's JSON gives back: string keys, lists for tuples and arrays."""
    def encode(v):
        return v.tolist() if isinstance(v, np.ndarray) else v
    text = json.dumps({"state": {i: {k: encode(v) for k, v in s.items()}
                                 for i, s in sd["state"].items()},
                       "param_groups": sd["param_groups"]})
    back = json.loads(text)
    back["state"] = {i: {k: np.array(v) if isinstance(v, list) else v for k, v in s.items()}
                     for i, s in back["state"].items()}
    return back


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.02}], lr=0.1,
                         momentum=0.9, nesterov=True),
    lambda ps: optim.Adam([{"params": ps[:1], "betas": (0.8, 0.99)}, {"params": ps[1:]}],
                          lr=0.01),
    lambda ps: optim.AdamW([{"params": ps[:2]}, {"params": ps[2:], "weight_decay": 0.5}],
                           lr=0.01),
], ids=["sgd", "adam", "adamw"])
def test_state_dict_round_trip_through_json_continues_exactly(make):
    full_ps = params()
    full = make(full_ps)
    run(full, full_ps, 5)
    part_ps = params()
    part = make(part_ps)
    run(part, part_ps, 2)
    saved = json_round_trip(part.state_dict())
    resumed_ps = [nn.Parameter(p.data.copy()) for p in part_ps]
    resumed = make(resumed_ps)
    resumed.load_state_dict(saved)
    for group in resumed.param_groups:
        assert not isinstance(group.get("betas"), list)              # a tuple again
    assert resumed.state_dict()["param_groups"] == part.state_dict()["param_groups"]
    run_from_step(resumed, resumed_ps, 2, 5)
    for p, q in zip(full_ps, resumed_ps):
        np.testing.assert_array_equal(p.data, q.data)


def run_from_step(opt, ps, start, stop, seed=1):
    """Steps start+1..stop of :func:`run` (the same gradients)."""
    rng = np.random.default_rng(seed)
    for step in range(stop):
        grads = [rng.standard_normal(p.data.shape).astype(p.data.dtype) for p in ps]
        if step >= start:
            for p, g in zip(ps, grads):
                p.grad = g
            opt.step()
            opt.zero_grad()


def test_the_layout_before_parameter_groups_still_loads():
    """Checkpoints of earlier versions hold {"hyper": {...}, "state": [one per parameter]};
    they load (and continue exactly as the new layout does)."""
    ps = params()
    opt = optim.Adam(ps, lr=0.01, betas=(0.8, 0.99))
    run(opt, ps, 2)
    sd = opt.state_dict()
    old = {"hyper": {"lr": 0.01, "betas": [0.8, 0.99], "eps": 1e-8, "weight_decay": 0.0},
           "state": [sd["state"][i] for i in range(3)]}
    a_ps, b_ps = [nn.Parameter(p.data.copy()) for p in ps], [nn.Parameter(p.data.copy())
                                                            for p in ps]
    a, b = optim.Adam(a_ps), optim.Adam(b_ps)
    a.load_state_dict(old)
    b.load_state_dict(sd)
    assert a.state_dict()["param_groups"] == b.state_dict()["param_groups"]
    assert a.betas == (0.8, 0.99) and a.lr == 0.01
    run_from_step(a, a_ps, 2, 4)
    run_from_step(b, b_ps, 2, 4)
    for p, q in zip(a_ps, b_ps):
        np.testing.assert_array_equal(p.data, q.data)
    with pytest.raises(ValueError, match="state for 2 parameters, optimizer has 3"):
        a.load_state_dict({"hyper": {"lr": 0.1}, "state": [{}, {}]})
    with pytest.raises(ValueError, match=r"unknown hyperparameters \['momentum'\]"):
        a.load_state_dict({"hyper": {"momentum": 0.9}, "state": [{}, {}, {}]})


def test_lr_and_other_hyperparameters_stay_attributes():
    ps = params()
    opt = optim.SGD([{"params": ps[:2]}, {"params": ps[2:]}], lr=0.1, momentum=0.9)
    assert opt.lr == 0.1 and opt.momentum == 0.9
    opt.lr = 0.05                                                    # every group
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.05]
    opt.param_groups[1]["lr"] = 0.01
    with pytest.raises(AttributeError, match=r"param_groups\[i\]\['lr'\]"):
        _ = opt.lr
    with pytest.raises(ValueError, match="learning rate"):
        opt.lr = -1.0
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.01]      # a refusal changes nothing
    with pytest.raises(AttributeError, match="no attribute 'betas'"):
        _ = opt.betas


@pytest.mark.parametrize("build, error, message", [
    (lambda ps: optim.SGD([{"params": ps[:2]}, {"params": ps[1:]}], lr=0.1), ValueError,
     "more than one parameter group"),
    (lambda ps: optim.SGD([ps[0], ps[0]], lr=0.1), ValueError, "same parameter twice"),
    (lambda ps: optim.SGD([{"params": ps, "weight_decy": 0.1}], lr=0.1), ValueError,
     r"unknown hyperparameters \['weight_decy'\]"),
    (lambda ps: optim.SGD(set(ps), lr=0.1), TypeError, "not a set"),
    (lambda ps: optim.SGD([], lr=0.1), ValueError, "empty parameter list"),
    (lambda ps: optim.SGD(ps[0], lr=0.1), TypeError, "iterable of Parameters"),
    (lambda ps: optim.SGD([("w", ps[0])], lr=0.1), TypeError, "named_parameters"),
    (lambda ps: optim.SGD([np.zeros(3)], lr=0.1), TypeError, "only optimize Parameters"),
    (lambda ps: optim.SGD([{"params": ps[:1]}, {"params": ps[1:], "lr": -0.1}], lr=0.1),
     ValueError, r"learning rate must be a number >= 0.0, got -0.1 \(parameter group 1\)"),
    (lambda ps: optim.SGD(ps, lr=0.1, nesterov=True), ValueError, "Nesterov"),
    (lambda ps: optim.Adam([{"params": ps, "betas": (0.9, 1.0)}]), ValueError, "betas"),
    (lambda ps: optim.Adam(ps, amsgrad=True), NotImplementedError, "amsgrad"),
])
def test_bad_groups_are_refused_clearly(build, error, message):
    with pytest.raises(error, match=message):
        build(params())


def test_a_refused_load_changes_nothing():
    ps = params()
    opt = optim.SGD([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.01}], lr=0.1, momentum=0.9)
    run(opt, ps, 1)
    before = opt.state_dict()
    one_group = optim.SGD(params(), lr=0.1, momentum=0.9)
    run(one_group, one_group.params, 1)
    bad = [one_group.state_dict(),                                   # 1 group, not 2
           {**before, "param_groups": [before["param_groups"][0],
                                       {**before["param_groups"][1], "params": [2, 3]}]},
           {**before, "state": {7: {}}},
           {**before, "param_groups": [before["param_groups"][0],
                                       {**before["param_groups"][1], "lr": -1.0}]},
           {"state": [], "param_groups": []}]
    for sd in bad:
        with pytest.raises(ValueError):
            opt.load_state_dict(sd)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for i, s in before["state"].items():
        np.testing.assert_array_equal(after["state"][i]["momentum_buffer"], s["momentum_buffer"])
