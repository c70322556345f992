"""Resume checkpoints hold no code: arrays in .npz plus JSON, written atomically; a pickle
(an older checkpoint.pkl included), an archive of Python objects or any other crafted file
is refused with a clear error and never executed; a refused checkpoint changes nothing."""

import json
import os
import pickle
import shutil
import zipfile

import numpy as np
import pytest

from minitorch_cv import nn, optim
from minitorch_cv.data import BatchIterator
from minitorch_cv.data.transforms import Compose, Normalize, RandomHorizontalFlip, ToFloat
from minitorch_cv.train import CheckpointError, Trainer, load_checkpoint, save_checkpoint


def tiny_model(seed=0, rng_for_dropout=True, out=2):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, rng=rng), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2),
                         nn.Dropout2d(0.2, rng=rng if rng_for_dropout else None),
                         nn.Flatten(), nn.Linear(64, out, rng=rng))


def loaders():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 96)
    images = rng.integers(0, 128, (96, 3, 8, 8)).astype(np.uint8)
    images[labels == 1] += 100
    tf = Compose([RandomHorizontalFlip(), ToFloat(), Normalize(0.5, 0.25)])
    train = BatchIterator(images[:64], labels[:64], 16, shuffle=True, drop_last=True,
                          transform=tf, rng=0)
    val = BatchIterator(images[64:], labels[64:], 32,
                        transform=Compose([ToFloat(), Normalize(0.5, 0.25)]))
    return train, val


def make_trainer(out_dir, resume=False, epochs=3, model=None, make_optimizer=None,
                 make_scheduler=None):
    model = model if model is not None else tiny_model()
    train, val = loaders()
    make_optimizer = make_optimizer or (lambda p: optim.SGD(p, lr=0.05, momentum=0.9))
    opt = make_optimizer(model.parameters())
    return Trainer(model, opt, train, val, epochs=epochs,
                   early_stop_count=100, out_dir=out_dir, resume=resume, progress=False,
                   log=lambda *a: None,
                   scheduler=make_scheduler(opt) if make_scheduler is not None else None)


def interrupted_run(trainer, after_checkpoints):
    original = trainer._save_checkpoint
    calls = {"n": 0}

    def save_then_crash():
        original()
        calls["n"] += 1
        if calls["n"] == after_checkpoints:
            raise KeyboardInterrupt
    trainer._save_checkpoint = save_then_crash
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()


@pytest.fixture
def default_generator_kept():
    state = nn.init.default_generator().bit_generator.state
    yield
    nn.init.default_generator().bit_generator.state = state


def test_resume_with_adam_and_the_default_generator_equals_uninterrupted(
        tmp_path, default_generator_kept):
    """Adam's moments and step counts, tuple betas, and a Dropout drawing from the
    library's default generator all come back from the JSON + npz checkpoint."""
    adam = lambda p: optim.Adam(p, lr=0.01, betas=(0.8, 0.99))
    nn.init.manual_seed(5)
    full = make_trainer(tmp_path / "full", model=tiny_model(rng_for_dropout=False),
                        make_optimizer=adam)
    full_history = full.fit()

    nn.init.manual_seed(5)
    part = make_trainer(tmp_path / "part", model=tiny_model(rng_for_dropout=False),
                        make_optimizer=adam)
    interrupted_run(part, after_checkpoints=3)                # mid-epoch (1.5 epochs)
    nn.init.manual_seed(123)                                  # the checkpoint restores it
    resumed = make_trainer(tmp_path / "part", resume=True,
                           model=tiny_model(rng_for_dropout=False), make_optimizer=adam)
    assert resumed.global_step == 6
    assert resumed.optimizer.betas == (0.8, 0.99)
    history = resumed.fit()
    assert history["train"]["loss"] == full_history["train"]["loss"]
    assert history["val"]["loss"] == full_history["val"]["loss"]
    for k, v in full.model.state_dict().items():
        np.testing.assert_array_equal(resumed.model.state_dict()[k], v)
    for a, b in zip(full.optimizer.state, resumed.optimizer.state):
        assert a["step"] == b["step"]
        np.testing.assert_array_equal(a["exp_avg_sq"], b["exp_avg_sq"])


def test_checkpoint_is_an_npz_of_numbers_plus_json(tmp_path):
    trainer = make_trainer(tmp_path, epochs=1)
    trainer.fit()
    path = tmp_path / "checkpoint.npz"
    with np.load(path, allow_pickle=False) as archive:      # readable without pickle
        assert all(archive[name].dtype.kind in "biuf" for name in archive.files)
        meta = json.loads(archive["__checkpoint__.json"].tobytes())
    assert meta["format"] == "minitorch_cv.checkpoint" and meta["version"] == 1
    assert meta["global_step"] == 4 and meta["history"]["val"]["step"] == [2, 4]
    assert not (tmp_path / "checkpoint.pkl").exists()
    arrays, meta = load_checkpoint(path)
    for k, v in trainer.model.state_dict().items():
        np.testing.assert_array_equal(arrays["model." + k], v)


class RunsCode:
    """Unpickling this calls os.mkdir(marker): what a crafted pickle can do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def write_json_checkpoint(path, **changes):
    """A checkpoint archive whose JSON member is changed as given."""
    meta = {"format": "minitorch_cv.checkpoint", "version": 1, **changes}
    text = json.dumps(meta).encode()
    np.savez(path, **{"__checkpoint__.json": np.frombuffer(text, np.uint8)})


CRAFTED = {
    "pickle": lambda path, marker: path.write_bytes(pickle.dumps({"model": RunsCode(marker)})),
    "npz-of-objects": lambda path, marker: np.savez(
        path, **{"__checkpoint__.json": np.array([RunsCode(marker)], dtype=object)}),
    "npz-without-json": lambda path, marker: np.savez(path, w=np.zeros(3)),
    "not-a-zip": lambda path, marker: path.write_bytes(b"PK\x03\x04 broken" * 10),
    "pickle-protocol-0": lambda path, marker: path.write_bytes(
        pickle.dumps(RunsCode(marker), protocol=0)),
    "garbage": lambda path, marker: path.write_bytes(bytes(range(1, 100))),
    "other-format": lambda path, marker: write_json_checkpoint(path, format="something"),
    "other-version": lambda path, marker: write_json_checkpoint(path, version=2),
    "object-dtype-in-json": lambda path, marker: write_json_checkpoint(
        path, generators={"x": {"__ndarray__": [1], "dtype": "O"}}),
    "array-tag-not-naming-a-meta-member": lambda path, marker: write_json_checkpoint(
        path, generators={"x": {"__ndarray__": "__checkpoint__.json"}}),
    "json-not-utf8": lambda path, marker: np.savez(
        path, **{"__checkpoint__.json": np.frombuffer(b"\xff\xfe{", np.uint8)}),
}


@pytest.mark.parametrize("kind", sorted(CRAFTED))
def test_crafted_checkpoints_are_refused_and_change_nothing(tmp_path, kind):
    run = tmp_path / "run"
    run.mkdir()
    marker = tmp_path / "code_ran"
    path = run / "checkpoint.npz"
    CRAFTED[kind](path, marker)
    if not path.exists():                                    # np.savez appended .npz
        shutil.move(str(path) + ".npz", path)
    model = tiny_model()
    before = model.state_dict()
    with pytest.raises(CheckpointError, match=str(path.name)):
        make_trainer(run, resume=True, model=model)
    assert not marker.exists()                               # nothing was executed
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_old_pickled_checkpoint_is_refused_with_what_to_do(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    marker = tmp_path / "code_ran"
    (run / "checkpoint.pkl").write_bytes(pickle.dumps({"state": RunsCode(marker)}))
    with pytest.raises(CheckpointError) as info:
        make_trainer(run, resume=True)
    message = str(info.value)
    assert "checkpoint.pkl" in message and "pickle" in message
    assert "without --resume" in message and "best.npz" in message
    assert not marker.exists()
    make_trainer(run, resume=False, epochs=1).fit()          # a fresh run writes the npz
    assert (run / "checkpoint.npz").exists()
    make_trainer(run, resume=True, epochs=1)                 # and resumes from it


def assert_resume_refused_changing_nothing(run, model, match):
    """Resuming ``model`` (SGD with momentum) from ``run``'s checkpoint raises a
    CheckpointError matching ``match`` and leaves the model, the loader and the optimizer
    as they were."""
    train, val = loaders()
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model_before, loader_before = model.state_dict(), train.get_state()
    with pytest.raises(CheckpointError, match=match):
        Trainer(model, opt, train, val, out_dir=run, resume=True, progress=False,
                log=lambda *a: None)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, model_before[k])
    assert train.get_state() == loader_before
    assert all(not s for s in opt.state)


def test_a_checkpoint_that_does_not_fit_changes_nothing(tmp_path):
    make_trainer(tmp_path, epochs=1).fit()
    assert_resume_refused_changing_nothing(tmp_path, tiny_model(seed=1, out=3),  # 3 classes
                                           "does not fit")
    with pytest.raises(CheckpointError, match="written with SGD"):
        make_trainer(tmp_path, resume=True,
                     make_optimizer=lambda p: optim.Adam(p, lr=0.01))


def test_an_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path, epochs=1)
    trainer.fit()
    path = tmp_path / "checkpoint.npz"
    before = path.read_bytes()
    trainer.global_step += 1
    written = {"n": 0}
    original = np.lib.format.write_array

    def write_then_fail(*args, **kwargs):
        written["n"] += 1
        if written["n"] == 3:
            raise KeyboardInterrupt                          # Ctrl-C in the middle
        return original(*args, **kwargs)
    monkeypatch.setattr(np.lib.format, "write_array", write_then_fail)
    with pytest.raises(KeyboardInterrupt):
        trainer._save_checkpoint()
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.npz", "checkpoint.npz"]
    assert zipfile.is_zipfile(path)
    _, meta = load_checkpoint(path)
    assert meta["global_step"] == 4


def test_save_checkpoint_refuses_what_json_cannot_hold(tmp_path):
    with pytest.raises(TypeError):
        save_checkpoint(tmp_path / "c.npz", {}, {"x": object()})
    assert not (tmp_path / "c.npz").exists()
    save_checkpoint(tmp_path / "c.npz", {"a": np.arange(3)},
                    {"inf": float("inf"), "key": np.arange(4, dtype=np.uint32),
                     "n": np.int64(7)})
    arrays, meta = load_checkpoint(tmp_path / "c.npz")
    assert meta["inf"] == float("inf") and meta["n"] == 7
    assert meta["key"].dtype == np.uint32 and meta["key"].tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(arrays["a"], np.arange(3))


@pytest.mark.skipif(not os.environ.get("MINITORCH_CV_DATA"), reason="MINITORCH_CV_DATA not set")
def test_example_resume_equals_uninterrupted_run(tmp_path, monkeypatch):
    """examples/task2.py --resume after an interruption mid-epoch ends where an
    uninterrupted run ends (same history, same test loss and accuracy)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
    try:
        import task2
    finally:
        sys.path.pop(0)
    from minitorch_cv.train import experiment
    make_loaders = experiment.cifar10_loaders

    def test_set_is_the_validation_set(*args, **kwargs):  # 14 images instead of 10,000
        train, val, _, train_eval = make_loaders(*args, **kwargs)
        return train, val, val, train_eval
    monkeypatch.setattr(experiment, "cifar10_loaders", test_set_is_the_validation_set)
    quick = ["--limit", "128", "--batch-size", "32", "--epochs", "2", "--no-progress",
             "--no-train-eval"]
    task2.main([*quick, "--out", str(tmp_path / "full")])

    original = Trainer._save_checkpoint
    calls = {"n": 0}

    def save_then_crash(self):
        original(self)
        calls["n"] += 1
        if calls["n"] == 3:                                  # 1.5 epochs: mid-epoch
            raise KeyboardInterrupt
    monkeypatch.setattr(Trainer, "_save_checkpoint", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        task2.main([*quick, "--out", str(tmp_path / "part")])
    monkeypatch.setattr(Trainer, "_save_checkpoint", original)
    assert not (tmp_path / "part" / "metrics.json").exists()
    task2.main([*quick, "--out", str(tmp_path / "part"), "--resume"])

    def read(run, name):
        return json.loads((tmp_path / run / name).read_text())
    full, resumed = read("full", "history.json"), read("part", "history.json")
    assert resumed["train"] == full["train"] and resumed["val"] == full["val"]
    for split in ("val", "test"):
        assert read("part", "metrics.json")[split] == read("full", "metrics.json")[split]


def test_a_checkpoint_refused_half_way_puts_everything_back(tmp_path):
    """The generators come last: a checkpoint whose generator names do not fit is refused
    after the model, optimizer and loader were loaded, and all of them are put back."""
    make_trainer(tmp_path, epochs=1).fit()
    arrays, meta = load_checkpoint(tmp_path / "checkpoint.npz")
    meta["generators"] = {"no.such.layer": next(iter(meta["generators"].values()))}
    save_checkpoint(tmp_path / "checkpoint.npz", arrays, meta)

    assert_resume_refused_changing_nothing(tmp_path, tiny_model(seed=3),
                                           "does not fit.*no.such.layer")


# ----------------------------------------------------------------------------- schedulers
def two_groups_sgd(params):
    params = list(params)
    return optim.SGD([{"params": params[:2]}, {"params": params[2:], "lr": 0.02}], lr=0.05,
                     momentum=0.9)


SCHEDULED = {
    "step": lambda opt: optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5),
    "plateau": lambda opt: optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5,
                                                                threshold=0.5),
}


@pytest.mark.parametrize("name", sorted(SCHEDULED))
def test_resume_with_a_scheduler_equals_uninterrupted(tmp_path, name):
    """The scheduler's state travels in the checkpoint's JSON: interrupted after 1.5
    epochs and resumed, the run has the same losses, learning rates and weights."""
    kwargs = {"make_optimizer": two_groups_sgd, "make_scheduler": SCHEDULED[name]}
    full = make_trainer(tmp_path / "full", **kwargs)
    full_history = full.fit()
    part = make_trainer(tmp_path / "part", **kwargs)
    interrupted_run(part, after_checkpoints=3)
    resumed = make_trainer(tmp_path / "part", resume=True, **kwargs)
    assert resumed.scheduler.last_epoch == part.scheduler.last_epoch
    history = resumed.fit()
    assert history["val"] == full_history["val"]
    assert history["train"]["loss"] == full_history["train"]["loss"]
    lrs = [tuple(lr) for lr in history["val"]["lr"]]
    assert len(set(lrs)) >= 2 and lrs[0] == (0.05, 0.02)             # the schedule moved
    assert resumed.scheduler.state_dict() == full.scheduler.state_dict()
    for k, v in full.model.state_dict().items():
        np.testing.assert_array_equal(resumed.model.state_dict()[k], v)


def test_scheduler_cadence_once_per_epoch_or_per_validation(tmp_path):
    """StepLR steps after each epoch's last training step; ReduceLROnPlateau after each
    validation (two per epoch) with the validation loss. history["val"]["lr"] holds the lr
    of each group used by the steps before each validation."""
    step = make_trainer(tmp_path / "step", make_optimizer=two_groups_sgd,
                        make_scheduler=SCHEDULED["step"])
    history = step.fit()
    assert history["val"]["step"] == [2, 4, 6, 8, 10, 12]
    assert history["val"]["lr"] == [[0.05, 0.02]] * 2 + [[0.025, 0.01]] * 2 \
        + [[0.0125, 0.005]] * 2
    assert step.scheduler.last_epoch == 3
    plateau = make_trainer(tmp_path / "plateau", make_scheduler=lambda opt:
                           optim.lr_scheduler.ReduceLROnPlateau(opt, patience=100))
    plateau.fit()
    assert plateau.scheduler.last_epoch == 6
    assert plateau.scheduler.best == min(plateau.history["val"]["loss"])
    with pytest.raises(ValueError, match="another optimizer"):
        model = tiny_model()
        train, val = loaders()
        other = optim.SGD(tiny_model().parameters(), lr=0.1)
        Trainer(model, optim.SGD(model.parameters(), lr=0.1), train, val,
                scheduler=optim.lr_scheduler.StepLR(other, 1))


def test_a_scheduler_mismatch_on_resume_is_refused(tmp_path):
    make_trainer(tmp_path / "plain", epochs=1).fit()
    with pytest.raises(CheckpointError, match="written with no scheduler, this run uses StepLR"):
        make_trainer(tmp_path / "plain", resume=True, make_scheduler=SCHEDULED["step"])
    make_trainer(tmp_path / "step", epochs=1, make_scheduler=SCHEDULED["step"]).fit()
    with pytest.raises(CheckpointError, match="written with StepLR, this run uses no scheduler"):
        make_trainer(tmp_path / "step", resume=True)
    with pytest.raises(CheckpointError, match="written with StepLR, this run uses "
                                              "ReduceLROnPlateau"):
        make_trainer(tmp_path / "step", resume=True, make_scheduler=SCHEDULED["plateau"])
