"""Tests for utils.dream (lesson 08)."""
import numpy as np
import pytest

from utils.dream import brightness_correlation, gain_under_shifts, random_shifts, zoom_centre


def test_brightness_correlation():
    rng = np.random.default_rng(0)
    a = rng.random((12, 10, 3))
    assert brightness_correlation(a, a) == pytest.approx(1.0)
    assert brightness_correlation(a, 1 - a) == pytest.approx(-1.0)
    assert brightness_correlation(a, 0.5 * a + 0.2) == pytest.approx(1.0)   # contrast and offset do not matter
    assert abs(brightness_correlation(a, rng.random((12, 10, 3)))) < 0.3
    assert brightness_correlation(a, np.full_like(a, 0.5)) == 0.0
    with pytest.raises(ValueError):
        brightness_correlation(a, a[:5])


def test_random_shifts():
    shifts = random_shifts(6, 3, seed=1)
    assert len(set(shifts)) == 6 and (0, 0) not in shifts
    assert all(abs(v) <= 3 for s in shifts for v in s)
    assert shifts == random_shifts(6, 3, seed=1)
    with pytest.raises(ValueError):
        random_shifts(9, 1)


def test_gain_under_shifts():
    rng = np.random.default_rng(2)
    start = rng.random((8, 8, 3)).astype(np.float32)
    img = start + 0.1
    # A shift-invariant activation keeps all of its gain.
    gain, shifted = gain_under_shifts(lambda x: x.mean(), img, start, random_shifts(4, 3))
    assert gain == pytest.approx(0.1, abs=1e-6) and shifted == pytest.approx(gain, abs=1e-6)
    # An activation that looks at one pixel only sees a gain placed on that pixel at its place.
    spike = start.copy(); spike[0, 0] += 1.0
    gain, shifted = gain_under_shifts(lambda x: x[0, 0].sum(), spike, start, [(1, 0), (0, 2)])
    assert gain == pytest.approx(3.0) and shifted == pytest.approx(0.0, abs=1e-6)


def test_zoom_centre():
    rng = np.random.default_rng(3)
    img = rng.random((20, 30, 3)).astype(np.float32)
    assert np.allclose(zoom_centre(img, 1.0), img, atol=1e-6)
    out = zoom_centre(img, 2.0)
    assert out.shape == img.shape and out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    # A constant image stays constant; a centred bright square grows.
    square = np.zeros((40, 40, 3), np.float32); square[15:25, 15:25] = 1
    assert (zoom_centre(square, 2.0) > 0.5).sum() > 3 * (square > 0.5).sum()
    with pytest.raises(ValueError):
        zoom_centre(img, 0.5)
