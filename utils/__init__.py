"""Helpers shared by the notebooks of the course "Convolutional neural networks in Keras".

Plumbing that a student does not need to read lives here; code a student should
learn stays in the notebooks. Each module's docstring says which lessons use it.
"""

import os as _os

# Keep TensorFlow's C++ start-up messages out of notebook outputs. Without an NVIDIA
# device the CUDA probe's error lines are noise too, so hide errors there as well.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if _os.path.exists("/dev/nvidiactl") else "3")

from .runsize import ENV_VAR as SIZE_ENV_VAR, by_size, is_fast, run_size
from .notebook import setup_notebook
from .data import (
    DataIntegrityError,
    DataUnavailableError,
    load_cifar10,
    load_fashion_mnist,
    load_mnist,
)

__all__ = [
    "SIZE_ENV_VAR", "by_size", "is_fast", "run_size", "setup_notebook",
    "DataIntegrityError", "DataUnavailableError",
    "load_cifar10", "load_fashion_mnist", "load_mnist",
]
