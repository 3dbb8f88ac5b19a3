"""Data plumbing for lesson 04 (transfer learning): few-label samples, image folders,
TensorFlow's flower photos, and a cache for extracted features."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .data import fetch, keras_cache_dir

# TensorFlow's flower photos: 3,670 JPEGs of 5 classes, one folder per class.
# Size and sha256 as recorded by TensorFlow Datasets (url_checksums/tf_flowers.txt).
FLOWERS_ORIGIN = "https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz"
FLOWERS_SHA256 = "4c54ace7911aaffe13a365c34f650e71dd5bf1be0a58b464e5a7183e3e595d9c"
FLOWERS_CLASSES = ("daisy", "dandelion", "roses", "sunflowers", "tulips")


def sample_per_class(labels, n: int, rng=None, classes: Sequence[int] | None = None) -> np.ndarray:
    """Indices of ``n`` randomly chosen examples of each class, classes in order.

    ``classes`` defaults to every label present. Raises ``ValueError`` when a class
    has fewer than ``n`` examples.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(rng)
    classes = np.unique(labels) if classes is None else classes
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    picked = []
    for c in classes:
        pool = np.flatnonzero(labels == c)
        if len(pool) < n:
            raise ValueError(f"class {c} has only {len(pool)} examples, fewer than n={n}")
        picked.append(rng.choice(pool, size=n, replace=False))
    return np.concatenate(picked)


def write_image_folder(dest: str | Path, images, labels, class_names: Sequence[str],
                       size: int | None = None) -> Path:
    """Write images as PNG files into one sub-folder per class, the layout that
    ``keras.utils.image_dataset_from_directory`` reads; returns ``dest``.

    ``images`` are uint8 arrays (N, H, W) or (N, H, W, 3); grey images are written as
    RGB. With ``size`` each image is resized to ``size`` x ``size``.
    """
    from PIL import Image

    images = np.asarray(images)
    labels = np.asarray(labels)
    if len(images) != len(labels):
        raise ValueError(f"got {len(images)} images but {len(labels)} labels")
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8, got {images.dtype}")
    dest = Path(dest)
    for name in class_names:
        (dest / name).mkdir(parents=True, exist_ok=True)
    for i, (img, label) in enumerate(zip(images, labels)):
        pil = Image.fromarray(img).convert("RGB")
        if size is not None:
            pil = pil.resize((size, size), Image.BILINEAR)
        pil.save(dest / class_names[int(label)] / f"{i:05d}.png")
    return dest


def load_flowers() -> Path:
    """TensorFlow's flower photos: downloads (228 MB, checked by sha256) and extracts
    them once into ``$KERAS_HOME/datasets/flower_photos/``; returns that folder, which
    holds one sub-folder of JPEGs per class.

    Raises :class:`utils.data.DataUnavailableError` when offline and not cached.
    """
    folder = keras_cache_dir() / "datasets" / "flower_photos"
    if all((folder / c).is_dir() for c in FLOWERS_CLASSES):
        return folder
    archive = fetch("flower_photos.tgz", FLOWERS_ORIGIN, FLOWERS_SHA256, "datasets")
    with tarfile.open(archive) as tar:
        tar.extractall(folder.parent, filter="data")      # the archive holds flower_photos/...
    return folder


def cached_arrays(path: str | Path, compute: Callable[[], dict]) -> dict:
    """Load a dict of arrays from ``path`` (.npz) or compute, save and return it.

    For work that is slow and always gives the same result, such as running a frozen
    backbone over a dataset. Delete the file to compute again.
    """
    path = Path(path)
    if path.exists():
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    arrays = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return {k: np.asarray(v) for k, v in arrays.items()}
