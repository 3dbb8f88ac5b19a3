"""Lesson 02, section 6: time the all-data MNIST recipes in one run on one machine.

The lesson's first all-data recipe (a 4-convolution CNN with BatchNorm, 6 epochs) took
about 100 s per epoch on a 2-core CPU: too long to wait for in a lecture. This script
trains that recipe and the faster candidates one after another in the same process, on
the same 55,000 training / 5,000 validation images, and prints for each the training
time, the validation accuracy and the test accuracy. A candidate is chosen on
validation accuracy only; the test accuracy is reported, never used to choose.

    python benchmarks/mnist_recipes.py                 # all recipes
    python benchmarks/mnist_recipes.py fast_cnn bn4    # some of them
    python benchmarks/mnist_recipes.py --json out.json # also write the results
    python benchmarks/mnist_recipes.py small4_e6 --seeds 1 2 3   # the spread over seeds

Runs offline when the MNIST files are in Keras's cache (see tools/offline_cache.py).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
from keras import layers  # noqa: E402

from utils import load_mnist  # noqa: E402


LESSON = Path(__file__).resolve().parents[1] / "notebooks" / "02_mnist_cnn.ipynb"


def lesson_blocks(names=("conv_bn_relu", "conv_relu")) -> dict:
    """The lesson's own building blocks, read from its code cells (not copied here, so the
    recipes timed are the lesson's): each function of ``names``, defined as the lesson does."""
    import nbformat

    from instructor.assignment import function_sources

    found = function_sources(nbformat.read(LESSON, as_version=4), names)
    scope = {"layers": layers, "keras": keras}
    exec("\n\n".join(found[n] for n in names), scope)
    return {n: scope[n] for n in names}


_blocks = lesson_blocks()
conv_bn_relu, conv_relu = _blocks["conv_bn_relu"], _blocks["conv_relu"]   # a list, a layer


def bn4():
    """The lesson's first recipe: 4 convolutions with BatchNorm, 32 and 64 filters."""
    return [*conv_bn_relu(32), *conv_bn_relu(32), layers.MaxPooling2D(2),
            *conv_bn_relu(64), *conv_bn_relu(64), layers.MaxPooling2D(2),
            layers.Flatten(), layers.Dropout(0.3), layers.Dense(128, activation="relu"),
            layers.Dropout(0.3)]


def small4():
    """The lesson's compact CNN: 4 convolutions without BatchNorm (16, 32, 32, 64 filters),
    then Dense 128."""
    return [conv_relu(16), layers.MaxPooling2D(2), conv_relu(32), conv_relu(32),
            layers.MaxPooling2D(2), conv_relu(64), layers.MaxPooling2D(2),
            layers.Flatten(), layers.Dropout(0.3), layers.Dense(128, activation="relu"),
            layers.Dropout(0.3)]


def two_conv():
    """Two 'valid' convolutions, 32 and 64 filters, each followed by pooling."""
    return [layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2), layers.Flatten(), layers.Dropout(0.5)]


# name: (layers, epochs, batch size, peak learning rate of Adam with cosine decay)
RECIPES = {
    "bn4": (bn4, 6, 128, 2e-3),              # the lesson's first all-data recipe
    "small4": (small4, 5, 128, 2e-3),
    "small4_e6": (small4, 6, 128, 2e-3),
    "small4_e7": (small4, 7, 128, 2e-3),
    "small4_b256": (small4, 5, 256, 3e-3),
    "two_conv": (two_conv, 8, 128, 3e-3),
}


def train(name, data, seed=1):
    """Train one recipe; return its time, validation and test accuracy."""
    make, epochs, batch, peak = RECIPES[name]
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = data
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((28, 28, 1)), *make(),
                              layers.Dense(10, activation="softmax")], name=name)
    steps = epochs * int(np.ceil(len(x_tr) / batch))
    schedule = keras.optimizers.schedules.CosineDecay(peak, decay_steps=steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(x_tr, y_tr, validation_data=(x_va, y_va), epochs=epochs,
                        batch_size=batch, verbose=2)
    seconds = time.perf_counter() - start
    return {"recipe": name, "parameters": model.count_params(), "epochs": epochs,
            "batch_size": batch, "peak_lr": peak, "train_seconds": round(seconds, 1),
            "val_accuracy": round(float(history.history["val_accuracy"][-1]), 4),
            "test_accuracy": round(float(model.evaluate(x_te, y_te, verbose=0)[1]), 4)}


def choose(results, n_val):
    """The fastest recipe whose validation accuracy is within one standard error of the best
    (the "one standard error" rule): on 5,000 validation images at 99.4%, one standard
    error is about 0.1%, five images; smaller differences say nothing about the recipes."""
    best = max(r["val_accuracy"] for r in results)
    se = (best * (1 - best) / n_val) ** 0.5
    close = [r for r in results if r["val_accuracy"] >= best - se]
    return min(close, key=lambda r: r["train_seconds"])


def load():
    """55,000 training, 5,000 validation (the last ones) and the 10,000 test images,
    standardized with one mean and one standard deviation of the training part's pixels,
    as in lesson 02 (until 2026-12-03 the lesson and this script standardized each pixel
    with its own statistics; results/mnist_recipes_2026-11-25.txt was measured that way)."""
    (x, y), (x_test, y_test) = load_mnist()
    x = (x.astype("float32") / 255.0)[..., np.newaxis]
    x_test = (x_test.astype("float32") / 255.0)[..., np.newaxis]
    x_tr, y_tr, x_va, y_va = x[:55_000], y[:55_000], x[-5_000:], y[-5_000:]
    mean, std = float(x_tr.mean()), float(x_tr.std())
    return [((a - mean) / std, b) for a, b in ((x_tr, y_tr), (x_va, y_va), (x_test, y_test))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recipes", nargs="*", metavar="RECIPE",
                        help=f"recipes to train (default: all of {', '.join(RECIPES)})")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1], metavar="SEED",
                        help="train each recipe once per seed (default: 1, the lesson's) and print "
                             "the mean and the spread of its validation and test accuracy")
    args = parser.parse_args(argv)
    unknown = [r for r in args.recipes if r not in RECIPES]
    if unknown:
        parser.error(f"unknown recipe(s) {', '.join(unknown)}; known: {', '.join(RECIPES)}")
    args.recipes = args.recipes or list(RECIPES)
    data = load()
    print(f"{platform.processor() or platform.machine()}, Keras {keras.__version__}", flush=True)
    results, runs = [], {}
    for name in args.recipes:
        for seed in args.seeds:
            run = train(name, data, seed=seed)
            run["seed"] = seed
            runs.setdefault(name, []).append(run)
            print(json.dumps(run), flush=True)
        results.append(runs[name][0])
    if len(args.seeds) > 1:
        print(f"\nover seeds {args.seeds}: mean (sample standard deviation, min..max)")
        for name, rs in runs.items():
            for key in ("val_accuracy", "test_accuracy"):
                v = np.array([r[key] for r in rs])
                print(f"{name:>16} {key:>13}: {v.mean():.4f} ({v.std(ddof=1):.4f}, {v.min():.4f}..{v.max():.4f})")
    base = next((r for r in results if r["recipe"] == "bn4"), None)
    print(f"\n{'recipe':>16} {'params':>8} {'epochs':>6} {'seconds':>8} {'speed-up':>8} "
          f"{'val acc':>8} {'test acc':>8}")
    for r in results:
        speedup = f"{base['train_seconds'] / r['train_seconds']:.1f}x" if base else "-"
        print(f"{r['recipe']:>16} {r['parameters']:>8,} {r['epochs']:>6} {r['train_seconds']:>8.1f} "
              f"{speedup:>8} {r['val_accuracy']:>8.4f} {r['test_accuracy']:>8.4f}")
    if base:
        fast = [r for r in results if r is not base and r["train_seconds"] * 3 <= base["train_seconds"]]
        if fast:
            chosen = choose(fast, n_val=5_000)
            print(f"\nchosen on validation accuracy among recipes at least 3x faster than bn4 "
                  f"(the fastest within one standard error of the best): {chosen['recipe']} "
                  f"(validation {chosen['val_accuracy']:.4f}, test {chosen['test_accuracy']:.4f})")
    if args.json:
        Path(args.json).write_text(json.dumps([r for rs in runs.values() for r in rs], indent=1) + "\n")


if __name__ == "__main__":
    main()
