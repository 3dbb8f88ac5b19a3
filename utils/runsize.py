"""The run-size switch shared by every lesson (introduced in lesson 01).

Every notebook runs in one of two sizes, chosen by the environment variable
``COURSE_SIZE``:

* ``full`` (the default): what students run, with all the data and epochs.
* ``fast``: the same code on less data, fewer epochs or smaller images, so that
  the whole course executes in CI in minutes.

Pick a value by size with :func:`by_size`::

    EPOCHS = by_size(full=15, fast=2)
"""

from __future__ import annotations

import os
from typing import TypeVar

ENV_VAR = "COURSE_SIZE"
SIZES = ("full", "fast")
DEFAULT_SIZE = "full"

T = TypeVar("T")


def run_size() -> str:
    """Return the current run size, ``"full"`` or ``"fast"``.

    Read from ``$COURSE_SIZE`` each time it is called (so a notebook can set it
    before importing). Raises ``ValueError`` for any other value.
    """
    value = os.environ.get(ENV_VAR, DEFAULT_SIZE).strip().lower() or DEFAULT_SIZE
    if value not in SIZES:
        raise ValueError(
            f"{ENV_VAR}={os.environ.get(ENV_VAR)!r} is not a run size; "
            f"use one of {', '.join(SIZES)} (default: {DEFAULT_SIZE})."
        )
    return value


def is_fast() -> bool:
    """True when the notebooks run in the fast (CI) size."""
    return run_size() == "fast"


def by_size(*, full: T, fast: T) -> T:
    """Return ``full`` or ``fast`` according to the current run size.

    >>> import os; os.environ["COURSE_SIZE"] = "fast"
    >>> by_size(full=60_000, fast=2_000)
    2000
    """
    return fast if is_fast() else full
