"""Training helpers: per-epoch timing and the results table that grows through a lesson (lesson 02)."""

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
    >>> table.frame().loc[0, "test accuracy"]
    0.8
    """

    COLUMNS = ["model", "parameters", "train images", "epochs", "train accuracy",
               "test accuracy", "s / epoch"]

    def __init__(self):
        self.rows: list[dict] = []

    def add(self, model: str, *, params: int, epochs: int, train_acc: float, test_acc: float,
            train_images: int | None = None, seconds_per_epoch: float | None = None, **extra):
        """Add (or replace, when ``model`` is already there) one row."""
        for name, value in (("train_acc", train_acc), ("test_acc", test_acc)):
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be a fraction in [0, 1], got {value}")
        row = {
            "model": model,
            "parameters": int(params),
            "train images": train_images,
            "epochs": int(epochs),
            "train accuracy": round(float(train_acc), 4),
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
