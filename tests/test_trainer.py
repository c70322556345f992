"""Trainer: validation cadence, early stopping, best checkpoint, resume, non-finite loss."""

import json

import numpy as np
import pytest

from minitorch_cv import nn, optim
from minitorch_cv.data import BatchIterator
from minitorch_cv.data.transforms import Compose, Normalize, RandomHorizontalFlip, ToFloat
from minitorch_cv.train import Trainer, evaluate


def tiny_data(n=96, seed=0):
    """Two learnable classes: bright images vs dark images (uint8, 3x8x8)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    images = rng.integers(0, 128, (n, 3, 8, 8)).astype(np.uint8)
    images[labels == 1] += 100
    return images, labels


def tiny_model(seed=0, dropout=0.2):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, rng=rng), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Dropout2d(dropout, rng=rng), nn.Flatten(),
                         nn.Linear(64, 2, rng=rng))


def loaders(seed=0, batch_size=16):
    images, labels = tiny_data()
    tf = Compose([RandomHorizontalFlip(), ToFloat(), Normalize(0.5, 0.25)])
    train = BatchIterator(images[:64], labels[:64], batch_size, shuffle=True, drop_last=True,
                          transform=tf, rng=seed)
    val = BatchIterator(images[64:], labels[64:], 32,
                        transform=Compose([ToFloat(), Normalize(0.5, 0.25)]))
    return train, val


def make_trainer(tmp_path=None, resume=False, epochs=3, early_stop_count=4, lr=0.05):
    model = tiny_model()
    train, val = loaders()
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    return Trainer(model, opt, train, val, val, epochs=epochs,
                   early_stop_count=early_stop_count, out_dir=tmp_path, resume=resume,
                   progress=False, log=lambda *a: None)


def test_validates_every_half_epoch(tmp_path):
    trainer = make_trainer(tmp_path, epochs=2, early_stop_count=100)
    history = trainer.fit()
    assert history["val"]["step"] == [2, 4, 6, 8]        # 4 steps per epoch -> every 2
    assert len(history["train"]["loss"]) == 8
    assert history["stop_reason"] == "completed all epochs"
    assert (tmp_path / "best.npz").exists() and (tmp_path / "checkpoint.npz").exists()


def test_early_stop_rule():
    trainer = make_trainer(epochs=1)
    trainer.history["val"]["loss"] = [1.0, 0.9, 0.95, 0.97]
    assert not trainer.should_early_stop()               # 0.9 is not first of the last 4
    trainer.history["val"]["loss"] = [1.0, 0.9, 0.95, 0.97, 0.92]
    assert trainer.should_early_stop()                   # 0.9 first and smallest of last 4
    trainer.history["val"]["loss"] = [0.9, 0.95]
    assert not trainer.should_early_stop()               # fewer than early_stop_count


def test_early_stop_halts_training(monkeypatch):
    trainer = make_trainer(epochs=50, early_stop_count=2)
    losses = iter([1.0, 2.0, 3.0, 4.0])                  # never improves after the first
    monkeypatch.setattr("minitorch_cv.train.trainer.evaluate",
                        lambda *a, **k: (next(losses), 0.5))
    history = trainer.fit()
    assert history["val"]["loss"] == [1.0, 2.0]
    assert history["stop_reason"].startswith("early stop")


def test_best_weights_restored(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path, epochs=2, early_stop_count=100)
    snapshots = []
    fake = iter([0.5, 0.3, 0.4, 0.6])                    # the 2nd validation is the best

    def fake_evaluate(model, loader, loss_fn=None, **kwargs):
        snapshots.append(model.state_dict())
        return next(fake), 0.0
    monkeypatch.setattr("minitorch_cv.train.trainer.evaluate", fake_evaluate)
    trainer.fit()
    monkeypatch.undo()
    trainer.restore_best()
    for k, v in snapshots[1].items():
        np.testing.assert_array_equal(trainer.model.state_dict()[k], v)
    saved = np.load(tmp_path / "best.npz")
    for k, v in snapshots[1].items():
        np.testing.assert_array_equal(saved[k], v)
    results = trainer.final_evaluation()
    assert set(results) == {"val", "test"}


def test_resume_equals_uninterrupted(tmp_path):
    full = make_trainer(tmp_path / "full", epochs=3, early_stop_count=100)
    full_history = full.fit()

    # Interrupt after the 3rd validation (1.5 epochs, i.e. mid-epoch) by raising inside it.
    part = make_trainer(tmp_path / "part", epochs=3, early_stop_count=100)
    original = part._save_checkpoint
    calls = {"n": 0}

    def save_then_crash():
        original()
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
    part._save_checkpoint = save_then_crash
    with pytest.raises(KeyboardInterrupt):
        part.fit()

    resumed = make_trainer(tmp_path / "part", epochs=3, early_stop_count=100, resume=True)
    assert resumed.global_step == 6
    resumed_history = resumed.fit()
    assert resumed_history["train"]["loss"] == full_history["train"]["loss"]
    assert resumed_history["val"]["loss"] == full_history["val"]["loss"]
    for k, v in full.model.state_dict().items():
        np.testing.assert_array_equal(resumed.model.state_dict()[k], v)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_non_finite_loss_stops_and_keeps_best(tmp_path):
    trainer = make_trainer(tmp_path, epochs=5, lr=1e30, early_stop_count=100)
    history = trainer.fit()
    assert "non-finite loss" in history["stop_reason"]
    assert np.isfinite(history["train"]["loss"]).all()


def test_evaluate_counts_images_not_batches():
    model = tiny_model().eval()
    images, labels = tiny_data(n=50)
    tf = Compose([ToFloat(), Normalize(0.5, 0.25)])
    loss_a, acc_a = evaluate(model, BatchIterator(images, labels, 7, transform=tf))
    loss_b, acc_b = evaluate(model, BatchIterator(images, labels, 50, transform=tf))
    assert loss_a == pytest.approx(loss_b, rel=1e-5)
    # Batches of 7 and of 50 make other matrix products: the logits agree to rounding
    # (float32), so only an image whose two best logits are that close may flip.
    logits = np.sort(model(tf(images)), axis=1)
    near_ties = int(np.sum(logits[:, -1] - logits[:, -2] < 1e-4))
    assert abs(acc_a - acc_b) <= near_ties / len(images)


def test_trainer_refuses_bad_settings():
    model = tiny_model()
    train, val = loaders()
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="epochs"):
        Trainer(model, opt, train, val, epochs=0)
    with pytest.raises(ValueError, match="early_stop_count"):
        Trainer(model, opt, train, val, early_stop_count=0)


def test_history_is_json_serializable(tmp_path):
    trainer = make_trainer(tmp_path, epochs=1)
    json.dumps(trainer.fit())


def test_logged_train_loss_is_the_mean_of_the_steps_since_the_last_validation(monkeypatch):
    """Each validation line's "train loss" is the mean of the step losses history records
    since the previous validation (not a moving average seeded by the first step), and
    the progress bar's ``mean_loss`` is the same mean over the same steps."""
    import re

    import tqdm.auto

    postfixes = []

    class RecordingBar(tqdm.auto.tqdm):
        def set_postfix(self, *args, **kwargs):
            postfixes.append(kwargs.get("mean_loss"))
            return super().set_postfix(*args, **kwargs)

    monkeypatch.setattr(tqdm.auto, "tqdm", RecordingBar)
    lines = []
    model = tiny_model()
    train, val = loaders()
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.2, momentum=0.9), train, val,
                      epochs=3, early_stop_count=100, progress=False, log=lines.append)
    history = trainer.fit()
    steps, losses = history["train"]["step"], history["train"]["loss"]
    reports = [line for line in lines if "train loss" in line]
    assert history["val"]["step"] == [2, 4, 6, 8, 10, 12] and len(reports) == 6
    previous = 0
    for line, val_step in zip(reports, history["val"]["step"]):
        interval = [loss for step, loss in zip(steps, losses) if previous < step <= val_step]
        printed = float(re.search(r"train loss ([0-9.]+)", line).group(1))
        assert abs(printed - np.mean(interval)) <= 0.5e-4 + 1e-12    # printed to 4 places
        which = (f"step {val_step}" if previous + 1 == val_step else
                 f"mean of steps {previous + 1}-{val_step}")
        assert f"train loss {printed:.4f} ({which})" in line
        # the bar shows the same mean, step by step, restarting after each report
        for k in range(1, len(interval) + 1):
            assert postfixes[previous + k - 1] == f"{np.mean(interval[:k]):.3f}"
        previous = val_step


class FloatBatches:
    """A training loader of given float batches (the Trainer's loader protocol)."""

    def __init__(self, batches):
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        return iter(self.batches)

    def get_state(self):
        return {}

    def set_state(self, state):
        pass


def float_batches(n_batches=4, size=16, seed=0):
    images, labels = tiny_data(n=n_batches * size, seed=seed)
    x = ((images / 255.0 - 0.5) / 0.25).astype(np.float32)
    return [(x[i:i + size], labels[i:i + size]) for i in range(0, len(x), size)]


def failing_trainer(train_batches, val_batches, tmp_path, lr=0.05):
    messages = []
    model = tiny_model(dropout=0.0)
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=lr), FloatBatches(train_batches),
                      FloatBatches(val_batches), epochs=2, early_stop_count=100,
                      out_dir=tmp_path, progress=False, log=messages.append)
    return trainer, messages


def test_nan_in_the_input_is_reported_as_such_not_as_divergence(tmp_path):
    batches = float_batches()
    batches[2][0][3, 1, 2, 2] = np.nan                  # step 3's batch holds one NaN
    trainer, messages = failing_trainer(batches, float_batches(1, seed=1), tmp_path)
    history = trainer.fit()
    assert history["stop_reason"] == "the input batch at step 3 holds NaN"
    assert (history["stop_kind"], history["stop_step"]) == ("bad_input", 3)
    assert trainer.failed and trainer.global_step == 2      # steps 1 and 2 ran
    assert "smaller learning rate" not in messages[-1]
    # the validation after step 2 gave best weights: kept, and the evaluation uses them
    assert "the best weights so far (step 2" in messages[-1]
    assert set(trainer.final_evaluation()) == {"val"}


def test_an_empty_batch_is_reported_as_such(tmp_path):
    batches = float_batches()
    batches[0] = (batches[0][0][:0], batches[0][1][:0])
    trainer, messages = failing_trainer(batches, float_batches(1, seed=1), tmp_path)
    history = trainer.fit()
    assert history["stop_reason"] == "the input batch at step 1 is empty"
    assert "no validation finished before, so there are no best weights" in messages[-1]
    assert trainer.final_evaluation() == {}                 # nothing sound to evaluate
    assert not (tmp_path / "checkpoint.npz").exists()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_before_any_validation_claims_no_best_checkpoint(tmp_path):
    trainer, messages = failing_trainer(float_batches(), float_batches(1, seed=1), tmp_path,
                                        lr=1e30)
    history = trainer.fit()
    assert history["stop_kind"] == "diverged" and history["stop_step"] == 2
    assert "non-finite loss at step 2" in history["stop_reason"]
    assert "kept" not in messages[-1] and "no best weights" in messages[-1]
    assert trainer.final_evaluation() == {}
    json.dumps(history, allow_nan=False)                    # strict JSON: no NaN recorded
    assert not (tmp_path / "checkpoint.npz").exists() and not (tmp_path / "best.npz").exists()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_non_finite_validation_loss_stops_the_run(tmp_path):
    val = float_batches(1, seed=1)

    class WeightsBlowUpBeforeValidation(FloatBatches):
        """Finite inputs; the weights turn inf just before validation (as after a huge
        step whose own training loss was still finite)."""

        def __iter__(self):
            trainer.model[-1].bias.data[:] = np.inf
            return super().__iter__()

    trainer, _ = failing_trainer(float_batches(), None, tmp_path)
    trainer.val_loader = WeightsBlowUpBeforeValidation(val)
    history = trainer.fit()
    assert history["stop_kind"] == "diverged" and history["stop_step"] == 2
    assert "non-finite validation loss after step 2" in history["stop_reason"]
    assert history["val"]["loss"] == [] and trainer.final_evaluation() == {}
    nan_val = [(val[0][0].copy(), val[0][1])]
    nan_val[0][0][0, 0, 0, 0] = np.inf
    trainer, _ = failing_trainer(float_batches(), nan_val, tmp_path / "b")
    assert trainer.fit()["stop_reason"] == "validation batch 1 holds inf"


def test_resume_with_more_epochs_trains_on(tmp_path):
    make_trainer(tmp_path, epochs=1, early_stop_count=100).fit()
    longer = make_trainer(tmp_path, epochs=2, early_stop_count=100, resume=True)
    history = longer.fit()
    assert history["stop_reason"] == "completed all epochs" and history["epochs_run"] == 2
    assert history["val"]["step"] == [2, 4, 6, 8]
    full = make_trainer(tmp_path / "full", epochs=2, early_stop_count=100).fit()
    assert history["train"]["loss"] == full["train"]["loss"]
