"""The run-size switch shared by every lesson (introduced in lesson 01).

Every notebook runs in one of the sizes chosen by the environment variable
``COURSE_SIZE``:

* ``full`` (the default): what students run, with all the data and epochs.
* ``fast``: the same code on less data, fewer epochs or smaller images, so that
  the whole course executes in CI in minutes.
* ``smoke``: for CI only, never for students. It runs the path a student runs
  *online* (the real ``keras.applications`` networks and ``keras.datasets``
  loaders) at a tiny size, offline: :func:`utils.notebook.setup_notebook` makes every
  ``keras.applications`` network build with random weights (same architecture, same
  layer names), and CI places generated files in the real formats where the loaders
  look (``python -m utils.standin --online``). Only the download and the pretrained
  numbers differ from a student's run, so a wrong layer name or a shape that only
  the big network produces fails in CI. Its numbers mean nothing.

Pick a value by size with :func:`by_size`::

    EPOCHS = by_size(full=15, fast=2)
"""

from __future__ import annotations

import os
from typing import TypeVar

ENV_VAR = "COURSE_SIZE"
SIZES = ("full", "fast", "smoke")
DEFAULT_SIZE = "full"

T = TypeVar("T")
_UNSET = object()


def run_size() -> str:
    """Return the current run size, ``"full"``, ``"fast"`` or ``"smoke"``.

    Read from ``$COURSE_SIZE`` each time it is called (so a notebook can set it
    before importing). Raises ``ValueError`` for any other value.
    """
    value = os.environ.get(ENV_VAR, DEFAULT_SIZE).strip().lower() or DEFAULT_SIZE
    if value not in SIZES:
        raise ValueError(
            f"{ENV_VAR}={os.environ.get(ENV_VAR)!r} is not a run size; "
            f"use full or fast (default: {DEFAULT_SIZE})."
        )
    return value


def is_fast() -> bool:
    """True when the notebooks run in the fast (CI) size, or in the smoke size."""
    return run_size() in ("fast", "smoke")


def is_smoke() -> bool:
    """True in the smoke size: a lesson's online path at a tiny size, with random
    pretrained weights and generated data (CI only; see the module's docstring)."""
    return run_size() == "smoke"


def by_size(*, full: T, fast: T, smoke: T = _UNSET) -> T:
    """Return ``full`` or ``fast`` according to the current run size.

    In the smoke size (CI only) this returns ``smoke`` when given, else ``fast``:
    a lesson passes ``smoke=`` where its online path differs from its fast one
    (``MODEL = by_size(full="InceptionV3", fast="MobileNet", smoke="InceptionV3")``)
    or where a tiny size needs its own number.

    >>> import os; os.environ["COURSE_SIZE"] = "fast"
    >>> by_size(full=60_000, fast=2_000)
    2000
    """
    size = run_size()
    if size == "smoke":
        return fast if smoke is _UNSET else smoke
    return fast if size == "fast" else full
