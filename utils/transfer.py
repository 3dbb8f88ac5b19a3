"""Data plumbing for lesson 04 (transfer learning): few-label samples, training for an
exact number of steps, image folders and their train/test split, TensorFlow's flower
photos, ImageNet class scores, and a cache for extracted features."""

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


def fit_steps(model, x, y, steps: int, batch_size: int = 32, seed: int = 0):
    """Train a compiled Keras ``model`` on (x, y) for exactly ``steps`` gradient steps.

    The examples are reshuffled (with ``seed``) every pass and batches of ``batch_size``
    are drawn from the repeated stream, so the count of steps does not depend on how
    many examples there are: 25 examples and 2,500 get the same number of updates.
    Returns the ``History``.
    """
    import tensorflow as tf

    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    ds = (tf.data.Dataset.from_tensor_slices((x, y))
          .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
          .repeat().batch(batch_size))
    return model.fit(ds, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0)


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


def image_folder_split(folder: str | Path, image_size: int, validation_split: float = 0.25,
                       seed: int = 42, batch_size: int = 32):
    """Disjoint training and test datasets from one folder with a sub-folder per class.

    Uses ``keras.utils.image_dataset_from_directory(subset="both", shuffle=True, seed=seed)``:
    the list of all files is shuffled once with ``seed`` and then cut, so the two subsets
    share no file and every class lands in both, in about its share. (Asking for each
    subset in a separate call with ``shuffle=False`` for the test one cuts the list
    *unshuffled*, in class order: the "test" subset is then the last files of the last
    classes, most of which the shuffled training subset also holds.)

    Images are resized to ``image_size`` x ``image_size``. Returns ``(train_ds, test_ds)``;
    the training set is reshuffled every epoch, the test set is not; both have
    ``class_names`` and ``file_paths``.
    """
    import keras

    if not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be between 0 and 1, got {validation_split}")
    return keras.utils.image_dataset_from_directory(
        folder, validation_split=validation_split, subset="both", shuffle=True, seed=seed,
        image_size=(image_size, image_size), batch_size=batch_size, verbose=False)


def imagenet_classifier(name: str, image_size: int, weights: str | None = "imagenet"):
    """A whole ImageNet network of ``utils.imagenet.BACKBONES``, top included, that maps
    RGB images in [0, 1] of ``image_size`` x ``image_size`` to its 1000 class scores
    (the logits, before the softmax).

    The top's weights are a separate download from the convolutional base's; offline,
    when they are not cached, this raises (Keras's own download error).
    ``weights=None`` builds the same network with random weights (for tests).
    """
    import keras

    from .imagenet import BACKBONES

    if name not in BACKBONES:
        raise ValueError(f"unknown network {name!r}; choose one of {sorted(BACKBONES)}")
    cls_name, kwargs, module_name = BACKBONES[name]
    preprocess = getattr(keras.applications, module_name).preprocess_input
    net = getattr(keras.applications, cls_name)(
        include_top=True, weights=weights, input_shape=(image_size, image_size, 3),
        classifier_activation=None, **kwargs)
    inputs = keras.Input((image_size, image_size, 3), name="rgb_0_to_1")
    x = keras.layers.Lambda(lambda t: preprocess(t * 255.0), name="preprocess")(inputs)
    return keras.Model(inputs, net(x), name=f"{name}_class_scores")


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
