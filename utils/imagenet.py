"""Pretrained ImageNet backbones and photos (lessons 04, 08 and 09).

The image being optimized is always a float32 RGB array in [0, 1]; :func:`backbone`
returns a model that takes such images and applies the right ``preprocess_input``
inside, so the same code works for every backbone.
"""

from __future__ import annotations

import difflib
import warnings
from pathlib import Path

import numpy as np

# Keras application, keyword arguments, and the ImageNet preprocessing module's name.
BACKBONES = {
    "InceptionV3": ("InceptionV3", {}, "inception_v3"),
    "MobileNetV2": ("MobileNetV2", {}, "mobilenet_v2"),
    "EfficientNetB0": ("EfficientNetB0", {}, "efficientnet"),
    "VGG16": ("VGG16", {}, "vgg16"),
    "VGG19": ("VGG19", {}, "vgg19"),
    # The only ImageNet weights available offline in this course's CI: alpha 0.25, no top.
    "MobileNet": ("MobileNet", {"alpha": 0.25}, "mobilenet"),
}

# Photos that ship inside scikit-image and scikit-learn (no download needed).
SKIMAGE_PHOTOS = ("chelsea", "astronaut", "coffee", "rocket", "immunohistochemistry",
                  "hubble_deep_field", "colorwheel")
SKLEARN_PHOTOS = ("china", "flower")


def backbone(name: str):
    """An ImageNet convolutional base (no top) that takes RGB images in [0, 1].

    ``name`` is one of ``BACKBONES``. The weights come through
    ``keras.applications`` (downloaded once into ``$KERAS_HOME/models``). The returned
    model accepts any image size; its layers keep their Keras names, so
    ``model.get_layer("mixed5")`` works as for the original.
    """
    import keras

    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")
    cls_name, kwargs, module_name = BACKBONES[name]
    app = getattr(keras.applications, cls_name)
    preprocess = getattr(keras.applications, module_name).preprocess_input
    with warnings.catch_warnings():
        # MobileNet warns that with no fixed input size it loads its 224-pixel weights:
        # that is what we want, a convolutional base works at any size.
        warnings.filterwarnings("ignore", message=".*will be loaded as the default")
        base = app(include_top=False, weights="imagenet", input_shape=(None, None, 3), **kwargs)
    inputs = keras.Input((None, None, 3), name="rgb_0_to_1")
    x = keras.layers.Lambda(lambda t: preprocess(t * 255.0), name="preprocess")(inputs)
    # Re-use the base's layers on the preprocessed input, under their own names.
    outputs = base(x)
    model = keras.Model(inputs, outputs, name=f"{name}_rgb")
    model.base = base
    return model


def feature_extractor(model, layer_names):
    """A model mapping an RGB image in [0, 1] to a dict {layer name: activation}.

    ``model`` comes from :func:`backbone`. An unknown layer name is a ``ValueError``
    that lists the closest names.
    """
    import keras

    base = getattr(model, "base", model)
    names = [layer.name for layer in base.layers]
    missing = [n for n in layer_names if n not in names]
    if missing:
        hints = {n: difflib.get_close_matches(n, names, n=3, cutoff=0.4) for n in missing}
        raise ValueError(f"{base.name} has no layer(s) {missing}; closest names: {hints}")
    inner = keras.Model(base.input, {n: base.get_layer(n).output for n in layer_names})
    inputs = keras.Input((None, None, 3))
    preprocessed = model.get_layer("preprocess")(inputs) if base is not model else inputs
    return keras.Model(inputs, inner(preprocessed), name="features")


def load_photo(name_or_path: str, max_side: int | None = None) -> np.ndarray:
    """A photo as a float32 RGB array (H, W, 3) in [0, 1].

    ``name_or_path`` is one of ``SKIMAGE_PHOTOS`` or ``SKLEARN_PHOTOS`` (shipped with
    those packages), or the path of an image file of your own. With ``max_side`` the
    photo is resized so that its longer side has that many pixels.
    """
    if name_or_path in SKIMAGE_PHOTOS:
        import skimage.data

        img = getattr(skimage.data, name_or_path)()
    elif name_or_path in SKLEARN_PHOTOS:
        from sklearn.datasets import load_sample_image

        img = load_sample_image(f"{name_or_path}.jpg")
    else:
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"{name_or_path!r} is neither a photo name ({', '.join(SKIMAGE_PHOTOS + SKLEARN_PHOTOS)}) "
                "nor an image file")
        import skimage.io

        img = skimage.io.imread(path)
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    img = img[..., :3]
    img = img.astype(np.float32) / (255.0 if img.dtype == np.uint8 or img.max() > 1 else 1.0)
    if max_side is not None:
        img = resize_longer_side(img, max_side)
    return np.clip(img, 0, 1).astype(np.float32)


def resize_longer_side(img: np.ndarray, max_side: int) -> np.ndarray:
    """Resize an image (H, W, C) so that its longer side is ``max_side`` pixels."""
    from skimage.transform import resize

    if max_side < 8:
        raise ValueError(f"max_side must be at least 8 pixels, got {max_side}")
    h, w = img.shape[:2]
    scale = max_side / max(h, w)
    shape = (max(1, round(h * scale)), max(1, round(w * scale)))
    return resize(img, shape + img.shape[2:], anti_aliasing=scale < 1).astype(np.float32)


def save_image(img, path: str | Path) -> Path:
    """Save an RGB image in [0, 1] as a PNG; creates the folder; returns the path."""
    import skimage.io

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.clip(np.asarray(img, dtype=np.float32), 0, 1)
    skimage.io.imsave(path, (arr * 255).round().astype(np.uint8), check_contrast=False)
    return path
