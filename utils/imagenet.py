"""Pretrained ImageNet backbones, photos and image losses (lessons 04, 05, 08 and 09).

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


def backbone(name: str, average_pooling: bool = False):
    """An ImageNet convolutional base (no top) that takes RGB images in [0, 1].

    ``name`` is one of ``BACKBONES``. The weights come through
    ``keras.applications`` (downloaded once into ``$KERAS_HOME/models``). The returned
    model accepts any image size; its layers keep their Keras names, so
    ``model.get_layer("mixed5")`` works as for the original.

    With ``average_pooling=True`` every max-pooling layer is replaced by an average
    pooling of the same size, as Gatys et al. did for style transfer (lesson 09; see
    :func:`with_average_pooling`); ``model.replaced_pooling`` says how many were.
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
    replaced = 0
    if average_pooling:
        base, replaced = with_average_pooling(base)
    inputs = keras.Input((None, None, 3), name="rgb_0_to_1")
    x = keras.layers.Lambda(lambda t: preprocess(t * 255.0), name="preprocess")(inputs)
    # Re-use the base's layers on the preprocessed input, under their own names.
    outputs = base(x)
    model = keras.Model(inputs, outputs, name=f"{name}_rgb")
    model.base = base
    model.replaced_pooling = replaced
    return model


def with_average_pooling(model):
    """A copy of a Keras model with each ``MaxPooling2D`` replaced by ``AveragePooling2D``.

    Same pool size, strides, padding and layer names; the weights are copied. Returns
    ``(new_model, number_replaced)``; a model without max pooling (MobileNet) comes back
    as it is, with 0. Introduced in lesson 09: Gatys et al. found that average pooling
    gives smoother images when the pixels are optimized.
    """
    import keras

    pools = [layer for layer in model.layers if isinstance(layer, keras.layers.MaxPooling2D)]
    if not pools:
        return model, 0

    def clone(layer):
        if isinstance(layer, keras.layers.MaxPooling2D):
            return keras.layers.AveragePooling2D(layer.pool_size, layer.strides, layer.padding,
                                                 data_format=layer.data_format, name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    new = keras.models.clone_model(model, clone_function=clone)
    new.set_weights(model.get_weights())
    return new, len(pools)


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


def resize_to_multiple(img: np.ndarray, max_side: int, multiple: int = 32) -> np.ndarray:
    """Resize an image (H, W, C) so that both sides are multiples of ``multiple``.

    The longer side becomes ``max_side`` rounded down to a multiple, the shorter one the
    multiple nearest to the aspect ratio (at least one ``multiple``). A CNN whose
    stride-2 layers pad on one side only (MobileNet, EfficientNet) then sees no partial
    windows, and optimized images get no stripes along their edges (lesson 09).
    """
    from skimage.transform import resize

    if max_side < multiple:
        raise ValueError(f"max_side ({max_side}) must be at least one multiple ({multiple})")
    h, w = img.shape[:2]
    longer = max_side // multiple * multiple
    shorter = max(multiple, round(min(h, w) / max(h, w) * longer / multiple) * multiple)
    shape = (longer, shorter) if h >= w else (shorter, longer)
    scale = min(shape[0] / h, shape[1] / w)
    return np.clip(resize(img, shape + img.shape[2:], anti_aliasing=scale < 1), 0, 1).astype(np.float32)


def total_variation(img):
    """Total variation of one image (H, W, C): mean |difference| between vertical
    neighbours plus the same between horizontal neighbours.

    Introduced in lesson 08 (deep dream) as a continuity loss; lesson 09 uses it too.
    Works on NumPy arrays and TensorFlow tensors, and is differentiable.
    """
    import tensorflow as tf

    img = tf.convert_to_tensor(img, tf.float32)
    return (tf.reduce_mean(tf.abs(img[1:, :, :] - img[:-1, :, :]))
            + tf.reduce_mean(tf.abs(img[:, 1:, :] - img[:, :-1, :])))


def stained_glass(height: int, width: int, cells: int = 40, border: float = 3.0,
                  seed: int = 0) -> np.ndarray:
    """A drawn style image (lesson 09): flat Voronoi cells in seven saturated colours
    with near-black borders about ``border`` pixels wide; float32 RGB in [0, 1]."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 1, (cells, 2)) * [height, width]
    yy, xx = np.mgrid[0:height, 0:width]
    dist = np.sqrt((yy[..., None] - centres[:, 0]) ** 2 + (xx[..., None] - centres[:, 1]) ** 2)
    nearest_two = np.sort(dist, axis=-1)[..., :2]
    palette = np.array([[0.9, 0.1, 0.1], [0.1, 0.2, 0.8], [1.0, 0.8, 0.0], [0.1, 0.6, 0.2],
                        [0.95, 0.45, 0.0], [0.5, 0.1, 0.6], [0.0, 0.7, 0.8]])
    img = palette[rng.integers(0, len(palette), cells)][dist.argmin(axis=-1)]
    img[nearest_two[..., 1] - nearest_two[..., 0] < border] = 0.05
    return img.astype(np.float32)


def swirls(height: int, width: int, strokes: int = 900, seed: int = 0) -> np.ndarray:
    """A drawn style image (lesson 09): short straight strokes in yellow, white and
    blues on dark blue, each laid along a circle around the centre, like brush strokes
    swirling around a star; float32 RGB in [0, 1]. ``strokes`` is their number."""
    rng = np.random.default_rng(seed)
    img = np.empty((height, width, 3), np.float32)
    img[:] = [0.05, 0.1, 0.35]
    palette = np.array([[1.0, 0.85, 0.1], [0.1, 0.3, 0.9], [0.0, 0.1, 0.4], [0.95, 0.95, 0.8],
                        [0.3, 0.6, 1.0]], np.float32)
    scale = min(height, width) / 192                       # stroke size relative to 192 pixels
    yy, xx = np.mgrid[0:height, 0:width]
    for _ in range(strokes):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        angle = np.arctan2(cy - height / 2, cx - width / 2) + np.pi / 2   # tangent to the circle
        half_length, half_width = rng.uniform(8, 20) * scale, rng.uniform(1.5, 3) * scale
        dy, dx = yy - cy, xx - cx
        along = dx * np.cos(angle) + dy * np.sin(angle)
        across = dy * np.cos(angle) - dx * np.sin(angle)
        img[(np.abs(along) < half_length) & (np.abs(across) < half_width)] = palette[rng.integers(len(palette))]
    return img


def save_image(img, path: str | Path) -> Path:
    """Save an RGB image in [0, 1] as a PNG; creates the folder; returns the path."""
    import skimage.io

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.clip(np.asarray(img, dtype=np.float32), 0, 1)
    skimage.io.imsave(path, (arr * 255).round().astype(np.uint8), check_contrast=False)
    return path


def claim(holds, text: str, strict: bool) -> None:
    """A lesson's claim about the numbers of its run (lessons 08 and 09).

    ``strict``: the claim holds where it is asserted, because it was measured on this
    backbone and run size (the stored run and CI) or is a published result; it is
    asserted. Otherwise, on a backbone the course could not run where it is built
    (InceptionV3 or VGG19 with their downloaded weights) or in the smoke size (random
    weights, a tiny run), it is printed with whether it held, and the run goes on.
    """
    if strict:
        assert holds, text
    else:
        print(f"{'holds' if holds else 'does NOT hold'} in this run: {text}")


def use_generated_class_index() -> bool:
    """For the smoke size (CI only): ImageNet's class names become ``class_0`` ... ``class_999``.

    ``keras.applications.*.decode_predictions`` downloads ImageNet's class index once
    and checks its hash, so no generated file can stand in for it offline; this fills
    Keras's in-memory copy instead. Returns False if Keras had already loaded the real one.
    """
    from keras.src.applications import imagenet_utils

    if imagenet_utils.CLASS_INDEX is not None:
        return False
    imagenet_utils.CLASS_INDEX = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    return True

