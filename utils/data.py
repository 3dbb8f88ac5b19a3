"""Datasets for the course, loaded through Keras's own download code (lessons 02 onwards).

All downloads go through ``keras.utils.get_file`` or ``keras.datasets`` and land in
Keras's cache, ``$KERAS_HOME`` (default ``~/.keras``). Machines without internet
work as soon as the files sit where these functions look; see the README's
"Data and working offline" section and ``tools/offline_cache.py``.

Errors are explicit: :class:`DataUnavailableError` when a file is neither cached
nor downloadable (it names the file, its origin and where to put it), and
:class:`DataIntegrityError` when a cached file's hash is wrong. Wrong data is never
returned silently, and a user's file is never deleted.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np

MNIST_ORIGIN = "https://storage.googleapis.com/cvdf-datasets/mnist/"
MNIST_CACHE_SUBDIR = os.path.join("datasets", "mnist")
# sha256 of the four original IDX files, as published for the CVDF mirror.
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

FASHION_MNIST_CACHE_SUBDIR = os.path.join("datasets", "fashion-mnist")
FASHION_MNIST_FILES = tuple(MNIST_FILES)  # the same four names
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

CIFAR10_ENV_VAR = "CIFAR10_DIR"
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)

# Element types of the IDX format (http://yann.lecun.com/exdb/mnist/), big-endian.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class DataUnavailableError(FileNotFoundError):
    """A dataset file is neither in the cache nor downloadable right now."""


class DataIntegrityError(ValueError):
    """A dataset file exists but its content is not what it should be."""


# --------------------------------------------------------------------------- IDX
def parse_idx(data: bytes) -> np.ndarray:
    """Parse the bytes of one IDX file (optionally gzip-compressed) into an array.

    The header is two zero bytes, one type byte, one byte with the number of
    dimensions, then each dimension as a big-endian uint32. Raises
    :class:`DataIntegrityError` for anything else, including a size mismatch.
    """
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataIntegrityError("not an IDX file: it must start with two zero bytes")
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_DTYPES:
        raise DataIntegrityError(f"unknown IDX element type 0x{type_code:02x}")
    header_end = 4 + 4 * ndim
    if len(data) < header_end:
        raise DataIntegrityError("IDX header is truncated")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header_end != expected:
        raise DataIntegrityError(
            f"IDX body holds {len(data) - header_end} bytes, but shape {shape} "
            f"of {dtype.name} needs {expected}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_end).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (``.gz`` or not) from disk; see :func:`parse_idx`."""
    return parse_idx(Path(path).read_bytes())


# ---------------------------------------------------------------- downloading
def keras_cache_dir() -> Path:
    """The folder Keras caches downloads in: ``$KERAS_HOME`` or ``~/.keras``.

    Read when called (Keras itself reads ``$KERAS_HOME`` once, at import). Mirrors ``keras.utils.get_file``: an unwritable folder is replaced by
    ``/tmp/.keras``.
    """
    base = Path(os.path.expanduser(os.environ.get("KERAS_HOME", os.path.join("~", ".keras"))))
    if base.exists() and not os.access(base, os.W_OK):
        base = Path(tempfile.gettempdir()) / ".keras"
    return base


def sha256_of(path: str | os.PathLike) -> str:
    """The sha256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(fname: str, origin: str, sha256: str, cache_subdir: str) -> Path:
    """Return the path of a cached, verified file, downloading it if needed.

    A thin wrapper around ``keras.utils.get_file`` that turns its failures into
    errors a student can act on. A cached file with the wrong hash raises
    :class:`DataIntegrityError` and is left in place (Keras would delete it and
    try to download it again, which fails offline and loses the evidence).
    """
    import keras  # deferred: importing Keras starts TensorFlow

    target = keras_cache_dir() / cache_subdir / fname
    if target.exists():
        actual = sha256_of(target)
        if actual != sha256:
            raise DataIntegrityError(
                f"{target} is corrupted or not the expected file: its sha256 is {actual}, "
                f"expected {sha256}. Delete it to download it again from {origin}, "
                f"or replace it with a good copy."
            )
        return target
    try:
        path = keras.utils.get_file(
            fname, origin=origin, file_hash=sha256, cache_subdir=cache_subdir,
            cache_dir=str(keras_cache_dir()),  # Keras reads $KERAS_HOME only at import
        )
    except ValueError as err:  # Keras: "Incomplete or corrupted file detected"
        raise DataIntegrityError(
            f"The download of {fname} from {origin} did not match its sha256 {sha256}: {err}"
        ) from err
    except Exception as err:  # no network, HTTP error, ...
        raise DataUnavailableError(
            f"Could not get {fname}: it is not in the cache and downloading it from "
            f"{origin} failed ({err}).\n"
            f"Offline? Put the file at {target} (a copy with sha256 {sha256}); "
            f"the README's 'Data and working offline' section shows how."
        ) from err
    return Path(path)


# --------------------------------------------------------------------- MNIST
def load_mnist():
    """MNIST from its four original IDX files, like ``keras.datasets.mnist.load_data()``.

    Files come from the CVDF mirror through ``keras.utils.get_file`` with their
    sha256, cached in ``$KERAS_HOME/datasets/mnist/``.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 arrays of shapes
        (60000, 28, 28), (60000,), (10000, 28, 28), (10000,).
    """
    arrays = {
        name: read_idx(fetch(name, MNIST_ORIGIN + name, sha256, MNIST_CACHE_SUBDIR))
        for name, sha256 in MNIST_FILES.items()
    }
    return (
        (arrays["train-images-idx3-ubyte.gz"], arrays["train-labels-idx1-ubyte.gz"]),
        (arrays["t10k-images-idx3-ubyte.gz"], arrays["t10k-labels-idx1-ubyte.gz"]),
    )


def load_fashion_mnist():
    """Fashion-MNIST through ``keras.datasets.fashion_mnist.load_data()``.

    Keras caches it in ``$KERAS_HOME/datasets/fashion-mnist/`` (no hash check).
    Class names are in :data:`FASHION_MNIST_CLASSES`.
    """
    import keras

    try:
        return keras.datasets.fashion_mnist.load_data()
    except Exception as err:
        folder = keras_cache_dir() / FASHION_MNIST_CACHE_SUBDIR
        raise DataUnavailableError(
            f"Could not load Fashion-MNIST ({err}).\nOffline? Put its four files "
            f"({', '.join(FASHION_MNIST_FILES)}) in {folder}."
        ) from err


# ------------------------------------------------------------------ CIFAR-10
def _unpickle(path: Path) -> dict:
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in batch.items()}


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.exists():
        raise DataUnavailableError(f"CIFAR-10 batch file missing: {path}")
    batch = _unpickle(path)
    try:
        data = np.asarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch["labels"], dtype=np.uint8)
    except KeyError as err:
        raise DataIntegrityError(f"{path} has no {err} entry: not a CIFAR-10 batch") from err
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DataIntegrityError(
            f"{path}: expected data of shape (N, 3072) and N labels, "
            f"got {data.shape} and {len(labels)}"
        )
    # Rows hold 1024 red, then 1024 green, then 1024 blue values, row-major.
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels.reshape(-1, 1)


def cifar10_local_dir() -> Path | None:
    """The local ``cifar-10-batches-py`` folder named by ``$CIFAR10_DIR``, if any.

    The variable may name that folder or its parent.
    """
    value = os.environ.get(CIFAR10_ENV_VAR)
    if not value:
        return None
    folder = Path(os.path.expanduser(value))
    if (folder / CIFAR10_FOLDER).is_dir():
        folder = folder / CIFAR10_FOLDER
    if not (folder / "test_batch").exists():
        raise DataUnavailableError(
            f"${CIFAR10_ENV_VAR}={value} does not hold CIFAR-10 in the python format: "
            f"expected data_batch_1 ... data_batch_5 and test_batch in {folder} "
            f"(or in {folder / CIFAR10_FOLDER})."
        )
    return folder


def load_cifar10_from_dir(folder: str | os.PathLike):
    """Read CIFAR-10 from a ``cifar-10-batches-py`` folder (the original python format).

    Returns ``(x_train, y_train), (x_test, y_test)`` like
    ``keras.datasets.cifar10.load_data()``: images (N, 32, 32, 3) uint8, labels (N, 1) uint8.
    """
    folder = Path(folder)
    parts = [_read_cifar_batch(folder / f"data_batch_{i}") for i in range(1, 6)]
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    x_test, y_test = _read_cifar_batch(folder / "test_batch")
    return (x_train, y_train), (x_test, y_test)


def cifar10_class_names(folder: str | os.PathLike | None = None) -> tuple[str, ...]:
    """Class names from ``batches.meta`` of a local folder, else the official ten."""
    folder = Path(folder) if folder is not None else cifar10_local_dir()
    if folder is not None and (folder / "batches.meta").exists():
        names = _unpickle(folder / "batches.meta").get("label_names")
        if names:
            return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
    return CIFAR10_CLASSES


def cifar10_is_standin(folder: str | os.PathLike | None = None) -> bool:
    """True when the local CIFAR-10 folder is the synthetic stand-in of :mod:`utils.standin`.

    With no ``folder``, looks at ``$CIFAR10_DIR``; with neither, the data comes from
    ``keras.datasets`` and is the real CIFAR-10 (False).
    """
    folder = Path(folder) if folder is not None else cifar10_local_dir()
    if folder is None:
        return False
    if (folder / CIFAR10_FOLDER).is_dir():
        folder = folder / CIFAR10_FOLDER
    meta = folder / "batches.meta"
    return meta.exists() and bool(_unpickle(meta).get("stand_in"))


def cifar10_source() -> str:
    """One line saying where :func:`load_cifar10` reads from: a stand-in, a folder, or Keras."""
    folder = cifar10_local_dir()
    if folder is None:
        return "CIFAR-10, through keras.datasets.cifar10 (downloaded once, then cached)"
    if cifar10_is_standin(folder):
        return (f"SYNTHETIC STAND-IN, not CIFAR-10 (from ${CIFAR10_ENV_VAR}={folder}): "
                "one shape per class with CIFAR-10's class names; accuracies here say "
                "nothing about CIFAR-10")
    return f"CIFAR-10, from the local folder ${CIFAR10_ENV_VAR}={folder}"


def load_cifar10():
    """CIFAR-10, from ``$CIFAR10_DIR`` when it is set, else ``keras.datasets.cifar10``.

    Set ``CIFAR10_DIR`` to a folder in the original ``cifar-10-batches-py`` format
    (or its parent) to load without internet, for example on a cluster.
    Returns ``(x_train, y_train), (x_test, y_test)`` with labels of shape (N, 1).
    """
    folder = cifar10_local_dir()
    if folder is not None:
        return load_cifar10_from_dir(folder)
    import keras

    try:
        return keras.datasets.cifar10.load_data()
    except Exception as err:
        raise DataUnavailableError(
            f"Could not download CIFAR-10 ({err}).\nOffline? Download "
            f"cifar-10-python.tar.gz elsewhere, unpack it, and set {CIFAR10_ENV_VAR} "
            f"to the {CIFAR10_FOLDER} folder. To test the course without CIFAR-10, "
            f"`python -m utils.standin DIR` writes a synthetic stand-in to point "
            f"{CIFAR10_ENV_VAR} at (not CIFAR-10: its accuracies mean nothing for CIFAR-10)."
        ) from err
