"""Lesson 03, sections 4-10: the remedies' rows trained from several seeds, to measure the
run-to-run noise that the notebook's standard errors do not count.

The notebook trains every row once, from seed 42, and prints each difference between rows
with the standard error of the validation set (which images happen to be in it). Training
the same model from another seed (other initial weights, batch order, dropout masks and
augmentations) ends at another accuracy too. This script runs the lesson's own code cells
(read from the notebook, not copied) with the data split of seed 42, then re-trains the rows
from each seed given, and prints each row's validation and test accuracy per seed, their
mean and their standard deviation over the seeds.

    CIFAR10_DIR=/tmp/cifar COURSE_SIZE=fast python benchmarks/cifar_remedy_seeds.py --seeds 1 2 3
    ... --json out.json                      # also write the results

Without CIFAR10_DIR it loads CIFAR-10 through keras.datasets (a download).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LESSON = ROOT / "notebooks" / "03_cifar10.ipynb"
SPLIT_CELL = "b5ce87b5"      # the cell that draws the training / validation split from SEED
LAST_ROW_CELL = "d8040421"   # the cell that trains the last remedy row (GAP)


def lesson_cells(last=LAST_ROW_CELL) -> list:
    """The lesson's code cells, in order, up to and including the cell with id ``last``."""
    import nbformat

    cells = []
    for cell in nbformat.read(LESSON, as_version=4).cells:
        if cell.cell_type == "code":
            cells.append(cell)
        if cell.get("id") == last:
            return cells
    raise LookupError(f"{LESSON.name} has no cell {last!r}")


def run(seed: int, cells) -> dict:
    """Run the lesson's cells with the split of seed 42 and training from ``seed``; the rows."""
    import contextlib
    import io

    import matplotlib
    matplotlib.use("Agg")
    import keras

    scope = {"__name__": "__lesson__"}
    for cell in cells:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(cell.source, f"<cell {cell.get('id')}>", "exec"), scope)
        if cell.get("id") == SPLIT_CELL:   # the split stays seed 42's; training from here on uses `seed`
            scope["SEED"] = seed
            keras.utils.set_random_seed(seed)
    if "plt" in scope:
        scope["plt"].close("all")
    frame = scope["results"].frame().set_index("model")
    return {name: {"validation": float(row["validation accuracy"]), "test": float(row["test accuracy"]),
                   "kept epoch": int(row["kept epoch"]), "epochs": int(row["epochs"])}
            for name, row in frame.iterrows()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    import tensorflow as tf

    from utils import setup_notebook

    tf.get_logger().setLevel("ERROR")   # AutoGraph cannot read the source of exec'd cells: it says so per lambda

    print(f"size: {os.environ.get('COURSE_SIZE', 'full')}; data: {os.environ.get('CIFAR10_DIR', 'keras.datasets')}; "
          f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    setup_notebook()
    cells = lesson_cells()
    per_seed = {}
    for seed in args.seeds:
        start = time.perf_counter()
        per_seed[seed] = run(seed, cells)
        print(f"seed {seed}: {time.perf_counter() - start:.0f} s")
        for name, r in per_seed[seed].items():
            print(f"  {name:>26}: validation {r['validation']:.3f}  test {r['test']:.3f}  "
                  f"(epoch {r['kept epoch']} of {r['epochs']})")
    names = list(per_seed[args.seeds[0]])
    summary = {}
    print(f"\nover seeds {args.seeds}: mean ± standard deviation")
    sd = (lambda a: float(a.std(ddof=1)) if len(a) > 1 else float("nan"))
    for name in names:
        val = np.array([per_seed[s][name]["validation"] for s in args.seeds])
        test = np.array([per_seed[s][name]["test"] for s in args.seeds])
        summary[name] = {"validation mean": float(val.mean()), "validation sd": sd(val),
                         "test mean": float(test.mean()), "test sd": sd(test)}
        print(f"  {name:>26}: validation {val.mean():.3f} ± {sd(val):.3f}   test {test.mean():.3f} ± {sd(test):.3f}")
    if args.json:
        args.json.write_text(json.dumps({"seeds": args.seeds, "per_seed": per_seed, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
