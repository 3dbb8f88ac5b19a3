"""The setup every lesson runs in its first code cell (introduced in lesson 01)."""

from __future__ import annotations

import contextlib
import os
import platform
import sys

from .runsize import ENV_VAR, run_size
from .versions import declared_minimums, too_old


def cpu_description() -> str:
    """The CPU model and the number of cores Python may use, e.g. 'Intel Xeon ... (2 cores)'."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model} ({cores} cores)"


def hardware_description() -> str:
    """One line naming the accelerator in use, or the CPU when there is none."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return f"CPU only: {cpu_description()}"
    names = []
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        names.append(details.get("device_name", gpu.name))
    return f"GPU: {', '.join(names)}"


@contextlib.contextmanager
def _native_stderr_silenced():
    """Send file descriptor 2 to /dev/null: TensorFlow's C++ start-up lines are written
    there before its log level applies. Python exceptions are unaffected."""
    try:
        saved = os.dup(2)
    except OSError:  # no file descriptor 2 (some embedded interpreters)
        yield
        return
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def setup_notebook(seed: int = 42) -> str:
    """Check versions, report the hardware, seed all randomness and read the run size.

    Prints what ran the notebook, so committed outputs say which size and hardware
    produced their numbers. Returns the run size, ``"full"`` or ``"fast"``
    (or ``"smoke"``, CI's online path, where it also calls
    :func:`use_random_pretrained_weights`).
    """
    minimums = declared_minimums()  # pyproject.toml's numbers: one source of truth
    if sys.version_info[:3] < minimums.get("python", (3,)):
        raise RuntimeError(
            f"This course needs Python {'.'.join(map(str, minimums['python']))} or newer; "
            f"this is {platform.python_version()}."
        )
    with _native_stderr_silenced():
        import tensorflow as tf
        import keras
        import numpy as np

        hardware = hardware_description()  # the first device query logs too

    problems = too_old({"tensorflow": tf.__version__, "keras": keras.__version__,
                        "numpy": np.__version__}, minimums)
    if problems:
        raise RuntimeError(
            "; ".join(problems) + ". Install the course's requirements (see the README), "
            "or on Colab restart the runtime after the setup cell's install."
        )
    size = run_size()
    in_colab = "google.colab" in sys.modules
    print(
        f"Python {platform.python_version()} | TensorFlow {tf.__version__} | "
        f"Keras {keras.__version__} (backend: {keras.backend.backend()})"
    )
    print(f"Hardware: {hardware}{' on Colab' if in_colab else ''}")
    if hardware.startswith("CPU"):
        if in_colab:
            print("No GPU found. On Colab: Runtime > Change runtime type > "
                  "Hardware accelerator: GPU, then run this notebook again.")
        else:
            print("No GPU found: everything runs on the CPU, slower but the same.")
    keras.utils.set_random_seed(seed)
    if size == "smoke":
        # CI's online path, offline: random weights, the generated downloads of
        # `python -m utils.standin --online` accepted, generated ImageNet class names.
        from .imagenet import use_generated_class_index
        from .standin import accept_generated_files

        patched = use_random_pretrained_weights()
        accept_generated_files()
        use_generated_class_index()
        print(f"Run size: smoke (CI only: the online path at a tiny size; {patched} "
              "keras.applications networks build with random weights, the data are "
              f"generated files; no number here means anything). Seed: {seed}.")
        return size
    note = ("fewer data and epochs, for CI; its numbers are not the lesson's results"
            if size == "fast" else "the lesson as intended")
    print(f"Run size: {size} ({note}). Switch with {ENV_VAR}=full|fast. Seed: {seed}.")
    return size


def use_random_pretrained_weights() -> int:
    """Make every network of ``keras.applications`` build with random weights.

    For the smoke size (CI only, see :mod:`utils.runsize`): ``weights="imagenet"``,
    given or by default, becomes ``weights=None``, so the same architecture with the
    same layer names is built without a download. A path to a weights file is kept.
    Idempotent; returns how many constructors are patched.
    """
    import functools

    import keras

    apps = keras.applications
    count = 0
    for name in dir(apps):
        build = getattr(apps, name)
        if not (name[:1].isupper() and callable(build)):
            continue
        if not getattr(build, "_course_random_weights", False):
            @functools.wraps(build)
            def random_weights(*args, _build=build, **kwargs):
                if kwargs.get("weights", "imagenet") == "imagenet" and len(args) < 2:
                    kwargs["weights"] = None
                return _build(*args, **kwargs)

            random_weights._course_random_weights = True
            setattr(apps, name, random_weights)
        count += 1
    return count


def progress(iterable=None, **kwargs):
    """A text progress bar (tqdm) for notebooks (lessons 08 and 09).

    Text rather than a widget, written to stdout: a widget's saved output shows its
    first state (0%) to anyone reading the stored notebook, and a bar on stderr is
    drawn in red. Keyword arguments go to ``tqdm``.
    """
    from tqdm.std import tqdm

    kwargs.setdefault("file", sys.stdout)
    kwargs.setdefault("mininterval", 0.5)
    kwargs.setdefault("ncols", 100)
    return tqdm(iterable, **kwargs)
