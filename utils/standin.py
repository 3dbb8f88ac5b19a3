"""A synthetic stand-in for CIFAR-10, written in CIFAR-10's own on-disk format (lesson 03).

Where CIFAR-10 cannot be downloaded (an offline CI machine), lesson 03 runs on these
images instead. They are **not** CIFAR-10: each class is a shape (a plus for
"airplane", a ring for "cat", ...) drawn at a random place, size, tilt and colour on a
random two-colour background with coarse and fine noise, sometimes beside a small
distractor blob. A CNN can learn them, not perfectly, and every shape is unchanged by
a horizontal flip, so flip augmentation keeps labels right as it does on CIFAR-10.

The files are laid out exactly like ``cifar-10-python.tar.gz`` unpacked::

    cifar-10-batches-py/
        data_batch_1 ... data_batch_5   pickled dicts: b"data" (10000, 3072) uint8,
        test_batch                      b"labels" (list of ints), b"batch_label", b"filenames"
        batches.meta                    b"label_names" (the ten real names), b"num_vis" ...
        STAND-IN.txt                    what this folder is

Each row of ``data`` holds 1024 red, then 1024 green, then 1024 blue values of a
32x32 image, row-major, as in the original. ``batches.meta`` also carries a
``b"stand_in"`` entry, which :func:`utils.data.cifar10_is_standin` reads so that a
notebook can say plainly which data it ran on.

From a shell::

    python -m utils.standin /tmp/cifar-standin        # then: export CIFAR10_DIR=/tmp/cifar-standin

**The online path, offline** (``make test-online``, CI only, with ``COURSE_SIZE=smoke``)::

    python -m utils.standin --online "$KERAS_HOME"

writes generated files where the real loaders look, in the real formats:

* ``datasets/cifar-10-batches-py-target_archive``: a ``.tar.gz`` laid out like
  ``cifar-10-python.tar.gz`` (``cifar-10-batches-py/`` with 5 x 10,000 training and
  10,000 test rows of this stand-in), where ``keras.datasets.cifar10.load_data()``
  (Keras 3's ``get_file(fname="cifar-10-batches-py-target", extract=True)``) looks for
  its download. Keras checks that file's sha256 against the real archive's *every*
  time, before extracting it again (an extracted folder alone is ignored and
  downloaded over), so no generated file can pass that check: a sidecar
  ``...target_archive.course-generated`` records the generated archive's own sha256,
  and :func:`accept_generated_files`, which :func:`utils.notebook.setup_notebook` calls in
  the smoke size only, lets Keras's ``validate_file`` accept a file that matches its
  sidecar. Everything else (finding the file, extracting it, parsing the batches) is
  Keras's own code.
* ``datasets/flower_photos/<class>/*.jpg``: small JPEGs of five generated classes
  named as :data:`utils.transfer.FLOWERS_CLASSES`, where
  :func:`utils.transfer.load_flowers` finds them without downloading. Not flowers.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import tarfile
import tempfile
from pathlib import Path

import numpy as np
from matplotlib.colors import hsv_to_rgb

from .data import CIFAR10_CLASSES, CIFAR10_FOLDER, sha256_of

SIZE = 32
STANDIN_NOTE = (
    "Synthetic stand-in for CIFAR-10 made by utils.standin (cnn-keras-course): one shape per "
    "class on noisy backgrounds, with CIFAR-10's class names and file format. Not CIFAR-10."
)
# What each class looks like, in the order of CIFAR10_CLASSES.
SHAPES = ("plus", "wide rectangle", "triangle", "ring", "disk",
          "X", "disk with horizontal stripes", "disk with vertical stripes",
          "checkerboard", "two dots")


def _shape_masks(label: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Boolean masks (N, 32, 32): image i's shape ``label[i]`` in its own coordinates
    ``u`` (right) and ``v`` (down), scaled so that the shape spans about [-1, 1]."""
    r2 = u * u + v * v
    a, b = np.abs(u), np.abs(v)
    masks = np.stack([
        ((b < 0.22) & (a < 1.0)) | ((a < 0.22) & (b < 1.0)),                    # plus
        (a < 1.0) & (b < 0.5),                                                   # wide rectangle
        (v > -0.85) & (v < 0.75) & (a < 0.62 * (v + 0.85)),                      # triangle, apex up
        (r2 < 1.0) & (r2 > 0.45),                                                # ring
        r2 < 0.7,                                                                # disk
        ((np.abs(u - v) < 0.32) & (np.abs(u + v) < 1.7))
        | ((np.abs(u + v) < 0.32) & (np.abs(u - v) < 1.7)),                      # X
        (r2 < 1.0) & (np.sin(v * 2.6 * np.pi) > 0),                              # horizontal stripes
        (r2 < 1.0) & (np.cos(u * 2.6 * np.pi) > 0),                              # vertical stripes
        (a < 0.9) & (b < 0.9) & (np.cos(u * 2.2 * np.pi) * np.cos(v * 2.2 * np.pi) > 0),  # checkerboard
        ((a - 0.55) ** 2 + v * v < 0.16),                                        # two dots
    ])
    return masks[label, np.arange(len(label))]


def make_standin_images(labels, seed: int = 0) -> np.ndarray:
    """Images (N, 32, 32, 3) uint8 for the given class labels (0..9), reproducibly.

    >>> make_standin_images([0, 3, 9]).shape
    (3, 32, 32, 3)
    """
    labels = np.asarray(labels, dtype=int).ravel()
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"labels must lie in 0..9, got {labels.min()}..{labels.max()}")
    rng = np.random.default_rng(seed)
    n = len(labels)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64) + 0.5

    # Background: a linear blend of two random colours in a random direction, plus
    # coarse noise (a random 4x4 grid, upsampled) and fine pixel noise below.
    c0, c1 = rng.uniform(0.0, 1.0, (2, n, 1, 1, 3))
    angle = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    ramp = ((xx - 16) * np.cos(angle) + (yy - 16) * np.sin(angle)) / 45 + 0.5
    img = c0 + (c1 - c0) * ramp[..., None]
    coarse = rng.normal(0, 0.05, (n, 4, 4, 3)).repeat(8, axis=1).repeat(8, axis=2)
    img += coarse

    # The object: a class shape at a random centre, size and tilt (at most 20 degrees,
    # so a tilted plus never looks like an X). Hue leans towards the class's own hue,
    # with a wide spread, so colour is a hint but not the answer.
    cy, cx = rng.uniform(10, 22, (2, n, 1, 1))
    half = rng.uniform(6.0, 11.0, (n, 1, 1))
    tilt = np.deg2rad(rng.uniform(-20, 20, (n, 1, 1)))
    dx, dy = xx - cx, yy - cy
    u = (dx * np.cos(tilt) + dy * np.sin(tilt)) / half
    v = (-dx * np.sin(tilt) + dy * np.cos(tilt)) / half
    mask = _shape_masks(labels, u, v)
    hue = (labels / 10 + rng.normal(0, 0.07, n)) % 1.0
    colour = hsv_to_rgb(np.stack([hue, rng.uniform(0.3, 1.0, n), rng.uniform(0.35, 1.0, n)], axis=-1))
    img = np.where(mask[..., None], colour[:, None, None, :], img)

    # A distractor blob of any colour in 30% of the images, anywhere.
    blob = rng.random(n) < 0.3
    by, bx = rng.uniform(2, 30, (2, n, 1, 1))
    radius = rng.uniform(1.5, 3.0, (n, 1, 1))
    blob_mask = (((yy - by) ** 2 + (xx - bx) ** 2) < radius ** 2) & blob[:, None, None]
    img = np.where(blob_mask[..., None], rng.uniform(0, 1, (n, 1, 1, 3)), img)

    img += rng.normal(0, 0.04, img.shape)
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def _rows(images: np.ndarray) -> np.ndarray:
    """(N, 32, 32, 3) -> (N, 3072): all red values, then green, then blue, row-major."""
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), -1))


def _dump(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        pickle.dump(obj, f, protocol=4)  # 5 would need numpy globals that Keras refuses
    os.replace(tmp, path)


def write_cifar10_standin(folder: str | os.PathLike, n_train: int = 50_000,
                          n_test: int = 10_000, seed: int = 0) -> Path:
    """Write the stand-in to ``folder/cifar-10-batches-py`` and return that folder.

    Five training batches share ``n_train`` images (a multiple of 5), the test batch
    holds ``n_test``; every batch is class-balanced up to rounding and shuffled, as
    in CIFAR-10. The same ``seed`` gives the same bytes. Point ``$CIFAR10_DIR`` at
    ``folder`` and :func:`utils.load_cifar10` reads it.
    """
    if n_train <= 0 or n_train % 5 or n_test <= 0:
        raise ValueError(f"n_train must be a positive multiple of 5 and n_test positive, "
                         f"got {n_train} and {n_test}")
    out = Path(folder) / CIFAR10_FOLDER
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    per_batch = n_train // 5
    batches = [(f"data_batch_{i}", per_batch, f"training batch {i} of 5") for i in range(1, 6)]
    batches.append(("test_batch", n_test, "testing batch 1 of 1"))
    for k, (name, n, label) in enumerate(batches):
        labels = rng.permutation(np.arange(n) % 10)
        images = make_standin_images(labels, seed=seed * 1000 + k + 1)
        _dump({
            b"batch_label": f"{label} (synthetic stand-in, not CIFAR-10)".encode(),
            b"labels": [int(y) for y in labels],
            b"data": _rows(images),
            b"filenames": [f"standin_{CIFAR10_CLASSES[y]}_{k}_{i:05d}.png".encode()
                           for i, y in enumerate(labels)],
        }, out / name)
    _dump({
        b"num_cases_per_batch": per_batch,
        b"label_names": [name.encode() for name in CIFAR10_CLASSES],
        b"num_vis": 3 * SIZE * SIZE,
        b"stand_in": STANDIN_NOTE.encode(),
    }, out / "batches.meta")
    (out / "STAND-IN.txt").write_text(
        STANDIN_NOTE + "\n\nShapes per class:\n"
        + "".join(f"  {i} {c}: {s}\n" for i, (c, s) in enumerate(zip(CIFAR10_CLASSES, SHAPES)))
        + f"\nMade with n_train={n_train}, n_test={n_test}, seed={seed}.\n")
    return out


# keras.datasets.cifar10.load_data() calls get_file(fname=KERAS_CIFAR10, extract=True):
# Keras 3 keeps the download as datasets/<fname>_archive and extracts it to datasets/<fname>.
KERAS_CIFAR10 = "cifar-10-batches-py-target"
GENERATED_SUFFIX = ".course-generated"   # sidecar: the generated file's own sha256


def _mark_generated(path: Path, what: str) -> None:
    """Write ``path``'s sidecar: its sha256, then a line saying what it is."""
    Path(str(path) + GENERATED_SUFFIX).write_text(f"{sha256_of(path)}\n{what}\n")


def write_keras_cifar10_archive(keras_home: str | os.PathLike, n_train: int = 50_000,
                                n_test: int = 10_000, seed: int = 0) -> Path:
    """Write the stand-in as ``keras.datasets.cifar10`` caches its download; return the file.

    ``keras_home/datasets/cifar-10-batches-py-target_archive`` is a gzipped tar holding
    ``cifar-10-batches-py/`` (as ``cifar-10-python.tar.gz`` does), beside its sidecar
    (see :func:`accept_generated_files`). ``load_data()`` needs five training batches
    of exactly 10,000 rows, so only ``n_train=50_000`` works there; smaller values are
    for tests.
    """
    datasets = Path(keras_home) / "datasets"
    datasets.mkdir(parents=True, exist_ok=True)
    archive = datasets / f"{KERAS_CIFAR10}_archive"
    with tempfile.TemporaryDirectory(dir=datasets) as tmp:
        folder = write_cifar10_standin(tmp, n_train, n_test, seed)
        part = datasets / (archive.name + ".part")
        with tarfile.open(part, "w:gz", compresslevel=1) as tar:
            tar.add(folder, arcname=CIFAR10_FOLDER)
        os.replace(part, archive)
    shutil.rmtree(datasets / KERAS_CIFAR10, ignore_errors=True)   # Keras extracts it again anyway
    _mark_generated(archive, STANDIN_NOTE + " Not cifar-10-python.tar.gz.")
    return archive


# Five generated classes, one per flower class: a shape in a colour on a gradient.
FLOWER_LOOKS = {"daisy": ("disk", (240, 240, 235)), "dandelion": ("ring", (245, 205, 30)),
                "roses": ("plus", (200, 30, 50)), "sunflowers": ("triangle", (250, 170, 20)),
                "tulips": ("wide rectangle", (230, 90, 160))}


def write_flower_photos(keras_home: str | os.PathLike, per_class: int = 24, seed: int = 0) -> Path:
    """Write ``keras_home/datasets/flower_photos/<class>/*.jpg`` and return the folder.

    ``per_class`` JPEGs of each class of :data:`utils.transfer.FLOWERS_CLASSES`, of
    varied sizes (about 120 to 320 pixels a side, like the real photos' varied
    shapes, only smaller), each a shape of the class's colour on a noisy background.
    Not flowers: only the layout and the file format are the real ones.
    """
    from PIL import Image

    from .transfer import FLOWERS_CLASSES

    if per_class <= 0:
        raise ValueError(f"per_class must be positive, got {per_class}")
    root = Path(keras_home) / "datasets" / "flower_photos"
    rng = np.random.default_rng(seed)
    for label, name in enumerate(FLOWERS_CLASSES):
        shape, rgb = FLOWER_LOOKS[name]
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        shape_label = SHAPES.index(shape)
        for i in range(per_class):
            h, w = (int(v) for v in rng.integers(120, 321, size=2))
            yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
            base = rng.uniform(0, 1, 3) * 0.5
            img = base + 0.3 * xx[..., None] * rng.uniform(-1, 1, 3) + rng.normal(0, 0.05, (h, w, 3))
            cy, cx = rng.uniform(0.35, 0.65, 2) * (h, w)
            half = rng.uniform(0.2, 0.35) * min(h, w)
            mask = _shape_masks(np.array([shape_label]), ((np.mgrid[0:h, 0:w][1] - cx) / half)[None],
                                ((np.mgrid[0:h, 0:w][0] - cy) / half)[None])[0]
            colour = np.clip(np.array(rgb) / 255 + rng.normal(0, 0.06, 3), 0, 1)
            img[mask] = colour
            pixels = np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"generated_{name}_{i:04d}.jpg", quality=85)
    (root / "GENERATED.txt").write_text(
        "Generated by utils.standin (cnn-keras-course) for CI's smoke size: one shape per class "
        "on noisy backgrounds, in flower_photos' layout and format. Not the flower photos.\n")
    return root


def accept_generated_files() -> None:
    """Let Keras's download check accept the files this module generated (CI only).

    ``keras.utils.get_file`` validates a cached download against the real file's sha256
    (and downloads again when it differs). After this call, a file with a
    ``.course-generated`` sidecar passes when its sha256 equals the one the sidecar
    records (the file as generated); every other file is checked as before.
    Idempotent. Called by ``setup_notebook`` in the smoke size (``make test-online``) only.
    """
    from keras.src.utils import file_utils

    if getattr(file_utils.validate_file, "_course_generated", False):
        return
    original = file_utils.validate_file

    def validate_file(fpath, file_hash, algorithm="auto", chunk_size=65535):
        sidecar = Path(str(fpath) + GENERATED_SUFFIX)
        if sidecar.is_file():
            return sha256_of(Path(fpath)) == sidecar.read_text().split()[0]
        return original(fpath, file_hash, algorithm=algorithm, chunk_size=chunk_size)

    validate_file._course_generated = True
    file_utils.validate_file = validate_file


def write_online(keras_home: str | os.PathLike, seed: int = 0) -> dict[str, Path]:
    """Both generated downloads of the smoke size into ``keras_home``."""
    return {"cifar10": write_keras_cifar10_archive(keras_home, seed=seed),
            "flowers": write_flower_photos(keras_home, seed=seed)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m utils.standin",
        description="Write a synthetic CIFAR-10 stand-in (CIFAR-10's file format, not its "
                    "images) for offline runs of lesson 03; then set CIFAR10_DIR to FOLDER. "
                    "With --online, write generated CIFAR-10 and flower photos where "
                    "keras.datasets and utils.transfer.load_flowers look in KERAS_HOME "
                    "(CI's smoke size; see the module's docstring).")
    parser.add_argument("folder", help="FOLDER, or KERAS_HOME with --online")
    parser.add_argument("--online", action="store_true",
                        help="write into FOLDER as a Keras cache (KERAS_HOME) for COURSE_SIZE=smoke")
    parser.add_argument("--train", type=int, default=50_000, help="training images (default 50000)")
    parser.add_argument("--test", type=int, default=10_000, help="test images (default 10000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.online:
        for name, path in write_online(args.folder, seed=args.seed).items():
            print(f"generated {name} (not the real data) written to {path}")
        return
    out = write_cifar10_standin(args.folder, args.train, args.test, args.seed)
    print(f"stand-in CIFAR-10 ({args.train} + {args.test} synthetic images) written to {out}")


if __name__ == "__main__":
    main()
