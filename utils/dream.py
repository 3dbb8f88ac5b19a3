"""Helpers for lesson 08 (deep dream): measuring what a dream did to an image.

Images are float arrays (H, W, 3) with values in [0, 1], as everywhere in lessons 08-09.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def brightness_correlation(a, b) -> float:
    """Pearson correlation of the brightness (channel mean) of two images of equal shape.

    Lesson 08 uses it to say whether a dream is still a dream *of the photo*: 1 for the
    photo itself, near 0 once the dream has painted over it.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    x, y = a.mean(-1).ravel(), b.mean(-1).ravel()
    x, y = x - x.mean(), y - y.mean()
    denom = np.sqrt((x ** 2).sum() * (y ** 2).sum())
    return float((x * y).sum() / denom) if denom > 0 else 0.0


def random_shifts(n: int, max_shift: int, seed: int = 0) -> list[tuple[int, int]]:
    """``n`` distinct non-zero (dy, dx) shifts with each part in [-max_shift, max_shift]."""
    if n > (2 * max_shift + 1) ** 2 - 1:
        raise ValueError(f"only {(2 * max_shift + 1) ** 2 - 1} non-zero shifts up to {max_shift}")
    rng = np.random.default_rng(seed)
    shifts: list[tuple[int, int]] = []
    while len(shifts) < n:
        s = tuple(int(v) for v in rng.integers(-max_shift, max_shift + 1, size=2))
        if s != (0, 0) and s not in shifts:
            shifts.append(s)
    return shifts


def gain_under_shifts(activation: Callable[[np.ndarray], float], img, start,
                      shifts: Sequence[tuple[int, int]]) -> tuple[float, float]:
    """How much of a dream's activation gain survives moving the image by a few pixels.

    Returns ``(gain, shifted_gain)``: ``activation(img) - activation(start)``, and the mean
    of the same difference with both images rolled (circularly) by each of ``shifts``.
    A pattern tuned to the exact pixel grid (lesson 08, ascent without jitter) keeps
    little of its gain when shifted; a jittered one keeps most of it.
    """
    img, start = np.asarray(img, np.float32), np.asarray(start, np.float32)
    gain = float(activation(img)) - float(activation(start))
    shifted = [float(activation(np.roll(img, s, axis=(0, 1)))) - float(activation(np.roll(start, s, axis=(0, 1))))
               for s in shifts]
    return gain, float(np.mean(shifted))


def zoom_centre(img, factor: float) -> np.ndarray:
    """Crop the centre 1/``factor`` of an image and enlarge it back to the same shape
    (bilinear): one frame of lesson 08's zoom-and-repeat loop. ``factor`` >= 1."""
    from skimage.transform import resize

    if factor < 1:
        raise ValueError(f"factor must be at least 1, got {factor}")
    img = np.asarray(img, np.float32)
    h, w = img.shape[:2]
    ch, cw = max(1, round(h / factor)), max(1, round(w / factor))
    top, left = (h - ch) // 2, (w - cw) // 2
    crop = img[top:top + ch, left:left + cw]
    return np.clip(resize(crop, img.shape, order=1, anti_aliasing=False), 0, 1).astype(np.float32)
