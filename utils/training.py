"""Training helpers: per-epoch timing and the results table that grows through a lesson (lesson 02),
reading overfitting from a validation-loss curve, early stopping after a minimum of epochs and the noise
of a difference in accuracy (lesson 03)."""

from __future__ import annotations

import time

import keras
import numpy as np
import pandas as pd


class EpochTimer(keras.callbacks.Callback):
    """Record the wall time of every training epoch in ``self.times`` (seconds).

    The first epoch includes tracing and compilation; :attr:`seconds_per_epoch`
    reports the median, which is robust to that one slow epoch.
    """

    def on_train_begin(self, logs=None):
        self.times: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)

    @property
    def seconds_per_epoch(self) -> float:
        if not getattr(self, "times", None):
            raise RuntimeError("EpochTimer has no epochs yet: pass it to model.fit(callbacks=[...])")
        return float(np.median(self.times))


class ResultsTable:
    """A table of experiments that grows through a notebook, one row per model.

    >>> table = ResultsTable()
    >>> table.add("baseline", params=1000, epochs=2, train_acc=0.9, test_acc=0.8)
    >>> float(table.frame().loc[0, "test accuracy"])
    0.8
    """

    COLUMNS = ["model", "parameters", "train images", "epochs", "train accuracy",
               "validation accuracy", "gap", "test accuracy", "s / epoch"]

    def __init__(self):
        self.rows: list[dict] = []

    def add(self, model: str, *, params: int, epochs: int, train_acc: float, test_acc: float,
            train_images: int | None = None, seconds_per_epoch: float | None = None,
            val_acc: float | None = None, **extra):
        """Add (or replace, when ``model`` is already there) one row.

        With ``val_acc`` (lesson 03), the row also gets the validation accuracy and the
        gap, training minus validation accuracy, before the test accuracy.
        """
        fractions = [("train_acc", train_acc), ("test_acc", test_acc)]
        if val_acc is not None:
            fractions.append(("val_acc", val_acc))
        for name, value in fractions:
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be a fraction in [0, 1], got {value}")
        row = {
            "model": model,
            "parameters": int(params),
            "train images": train_images,
            "epochs": int(epochs),
            "train accuracy": round(float(train_acc), 4),
            "validation accuracy": None if val_acc is None else round(float(val_acc), 4),
            "gap": None if val_acc is None else round(float(train_acc) - float(val_acc), 4),
            "test accuracy": round(float(test_acc), 4),
            "s / epoch": None if seconds_per_epoch is None else round(float(seconds_per_epoch), 2),
            **extra,
        }
        self.rows = [r for r in self.rows if r["model"] != model] + [row]

    def frame(self) -> pd.DataFrame:
        """The table as a DataFrame (columns with no values left out)."""
        frame = pd.DataFrame(self.rows)
        if frame.empty:
            return pd.DataFrame(columns=self.COLUMNS)
        return frame.dropna(axis=1, how="all")

    def _repr_html_(self):
        return self.frame().to_html(index=False)

    def __repr__(self):
        return self.frame().to_string(index=False)


def validation_loss_turn(val_loss) -> dict:
    """Where a validation-loss curve bottoms out, and how far it rises after (lesson 03).

    Returns ``{"epochs", "best_epoch", "best", "last", "rise"}``: the number of epochs,
    the epoch (counted from 1) of the lowest validation loss, that loss, the last one,
    and the relative rise ``last / best - 1`` (0 when the last epoch is the best).
    """
    losses = np.asarray(val_loss, dtype=float).ravel()
    if losses.size == 0 or not np.all(np.isfinite(losses)):
        raise ValueError(f"need at least one finite validation loss, got {val_loss!r}")
    best = int(np.argmin(losses))
    return {"epochs": int(losses.size), "best_epoch": best + 1, "best": float(losses[best]),
            "last": float(losses[-1]), "rise": float(losses[-1] / losses[best] - 1)}


def describe_overfitting(val_loss, min_rise: float = 0.1) -> str:
    """One sentence, computed from the numbers, on what a validation-loss curve shows.

    "validation loss bottomed at epoch 6 (0.912) and rose 40% by epoch 20 (1.277):
    overfitting" when the lowest loss comes before the last epoch and the last one is
    at least ``min_rise`` (a fraction) higher; otherwise it says the loss is still
    falling, or rose only a little. A rise under 10% is given to a tenth of a percent
    ("rose only 0.4%"), so that a small rise never reads as "0%".
    """
    t = validation_loss_turn(val_loss)
    where = f"validation loss bottomed at epoch {t['best_epoch']} of {t['epochs']} ({t['best']:.3f})"
    if t["best_epoch"] == t["epochs"]:
        return (f"validation loss still falling at the last epoch, {t['epochs']} ({t['last']:.3f}): "
                "no sign of overfitting yet")
    if t["rise"] >= min_rise:
        return f"{where} and rose {t['rise']:.0%} by epoch {t['epochs']} ({t['last']:.3f}): overfitting"
    rise = f"{t['rise']:.1%}" if t["rise"] < 0.1 else f"{t['rise']:.0%}"
    return (f"{where} and rose only {rise} by epoch {t['epochs']} ({t['last']:.3f}): "
            "little overfitting")


def paired_difference(correct_a, correct_b) -> tuple[float, float]:
    """Accuracy of model A minus model B on the same images, and its standard error (lesson 03).

    ``correct_a`` and ``correct_b`` say, image by image, whether each model was right. The
    difference is the mean of ``a - b`` (each term -1, 0 or 1); its standard error is that
    term's sample standard deviation over the square root of the number of images: the
    evaluation set's sampling noise. Pairing counts only the images on which the models
    disagree, so it is smaller than treating the two accuracies as independent.

    >>> diff, se = paired_difference([1, 1, 0, 1], [1, 0, 0, 0])
    >>> diff, round(se, 4)
    (0.5, 0.2887)
    """
    a = np.asarray(correct_a, dtype=float).ravel()
    b = np.asarray(correct_b, dtype=float).ravel()
    if a.shape != b.shape or a.size < 2:
        raise ValueError(f"need two equally long 0/1 vectors of at least 2 images, got {a.size} and {b.size}")
    if not (np.isin(a, (0, 1)).all() and np.isin(b, (0, 1)).all()):
        raise ValueError("correct_a and correct_b must hold only 0/1 or False/True")
    d = a - b
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size))


class EarlyStoppingAfter(keras.callbacks.EarlyStopping):
    """Keras's ``EarlyStopping`` that never stops before ``min_epochs`` (lesson 03).

    The best epoch is tracked from the first epoch on, as without the minimum, and with
    ``restore_best_weights=True`` its weights are put back at the end; only the decision to
    stop waits until ``min_epochs`` epochs have run. (Keras's own ``start_from_epoch``
    differs: it ignores the epochs before it, so an early best epoch could never be kept.)
    A run whose validation loss is noisy early, as with BatchNorm's batch statistics on few
    images, is not ended by a chance rise before it has learned much.

    >>> stop = EarlyStoppingAfter(30, monitor="val_loss", patience=5, restore_best_weights=True)
    >>> stop.min_epochs
    30
    """

    def __init__(self, min_epochs: int = 0, **kwargs):
        super().__init__(**kwargs)
        if int(min_epochs) < 0:
            raise ValueError(f"min_epochs must be 0 or more, got {min_epochs}")
        self.min_epochs = int(min_epochs)

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if self.model.stop_training and epoch + 1 < self.min_epochs:
            self.model.stop_training = False
            self.stopped_epoch = 0


class EpochProgress(keras.callbacks.Callback):
    """A one-line text progress bar over epochs, with the latest metrics (lesson 03).

    Use with ``verbose=0``: ``model.fit(..., verbose=0, callbacks=[EpochProgress("baseline")])``.
    The bar is text on stdout (see :func:`utils.notebook.progress`), so a stored notebook
    shows its final state: epochs done, time taken, and the last epoch's numbers.
    """

    # The bar of the latest fit, while it runs. An interrupted fit (Ctrl-C, "interrupt the
    # kernel") never reaches on_train_end, so the next fit closes its bar, without printing
    # it again; left open, it would push the next bar a line down and reappear later.
    _open = None

    def __init__(self, desc: str | None = None, metrics=("loss", "accuracy", "val_accuracy")):
        super().__init__()
        self.desc = desc
        self.metrics = tuple(metrics)

    def on_train_begin(self, logs=None):
        from .notebook import progress

        if EpochProgress._open is not None:
            EpochProgress._open.leave = False
            EpochProgress._open.close()
        self._bar = EpochProgress._open = progress(
            total=self.params.get("epochs"), desc=self.desc, unit="epoch")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        shown = {k.replace("accuracy", "acc"): f"{logs[k]:.3f}" for k in self.metrics if k in logs}
        self._bar.set_postfix(shown, refresh=False)
        self._bar.update(1)

    def on_train_end(self, logs=None):
        self._bar.close()
        EpochProgress._open = None


def measure_throughput(model, batch_size: int = 128, n_batches: int = 5, seed: int = 0,
                       repeats: int = 1) -> dict:
    """Images per second of a compiled model: training steps and inference (lesson 03).

    Runs one warm-up batch (tracing and compilation are not counted), then times
    ``n_batches`` batches of random inputs of the model's input shape, for
    ``train_on_batch`` (forward, backward, update: the model's weights change) and
    ``predict_on_batch``. Targets are random class indices, or random one-hot rows when
    the loss expects them; pass a model compiled with the loss it trains with.
    Returns ``{"train": images_per_s, "inference": images_per_s}``.

    With ``repeats`` > 1, each timing is repeated that many times (training first, then
    inference), the values are the medians, and ``"train_runs"`` and ``"inference_runs"``
    hold every repeat's images per second, so a comparison can be held against the spread
    of one machine's timings.
    """
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        raise ValueError("compile the model before measuring its training throughput")
    if n_batches < 1 or batch_size < 1 or repeats < 1:
        raise ValueError("batch_size, n_batches and repeats must be at least 1")
    rng = np.random.default_rng(seed)
    shape = tuple(model.inputs[0].shape[1:])
    if any(d is None for d in shape):
        raise ValueError(f"the model's input shape {shape} must be fully known")
    x = rng.uniform(0, 255, (batch_size, *shape)).astype("float32")
    n_classes = int(model.outputs[0].shape[-1])
    labels = rng.integers(0, n_classes, batch_size)
    loss = model.loss if isinstance(model.loss, str) else type(model.loss).__name__
    loss = loss.lower().replace("_", "")
    one_hot = "categorical" in loss and "sparse" not in loss
    y = np.eye(n_classes, dtype="float32")[labels] if one_hot else labels

    def timed(step):
        step()  # warm-up: tracing and compilation
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(n_batches):
                step()
            runs.append(batch_size * n_batches / (time.perf_counter() - start))
        return runs

    train = timed(lambda: model.train_on_batch(x, y))
    inference = timed(lambda: np.asarray(model.predict_on_batch(x)))
    speed = {"train": float(np.median(train)), "inference": float(np.median(inference))}
    if repeats > 1:
        speed.update(train_runs=train, inference_runs=inference)
    return speed
