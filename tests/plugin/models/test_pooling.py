"""Letterboxed network input and pooling over the photo's part of the feature map, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from plugin.models.pooling import PAD_VALUE, gem, letterbox, photo_region


def test_a_wide_photo_is_scaled_to_fit_and_padded_above_and_below() -> None:
    pixels, covered = letterbox(Image.new("RGB", (200, 100), (255, 0, 127)), 64)

    assert pixels.shape == (3, 64, 64) and pixels.dtype == np.float32
    assert covered == (1.0, 0.5)
    assert np.all(pixels[:, :16] == 0) and np.all(pixels[:, 48:] == 0)  # the padding normalises to zero
    photo = pixels[:, 16:48]
    assert np.allclose(photo[0], (255 - PAD_VALUE) / 128) and np.allclose(photo[1], (0 - PAD_VALUE) / 128)
    assert np.allclose(photo[2], 0)
    assert pixels.min() >= -1 and pixels.max() <= 1


def test_a_tall_photo_is_padded_left_and_right_and_keeps_its_proportions() -> None:
    pixels, covered = letterbox(Image.new("L", (30, 120), 255), 32)  # any mode becomes RGB

    assert covered == (8 / 32, 1.0)
    columns = np.flatnonzero(pixels[0].any(axis=0))
    assert (columns.min(), columns.max()) == (12, 19)  # 8 columns, centred


def test_a_sliver_keeps_at_least_one_pixel() -> None:
    _, covered = letterbox(Image.new("RGB", (1000, 1), (0, 0, 0)), 32)

    assert covered == (1.0, 1 / 32)


def test_the_photo_region_is_the_centred_cells_over_the_photo() -> None:
    feature_map = np.arange(2 * 8 * 8, dtype=np.float32).reshape(2, 8, 8)

    region = photo_region(feature_map, (1.0, 0.5))

    assert region.shape == (2, 4, 8)
    assert np.array_equal(region, feature_map[:, 2:6, :])
    assert photo_region(feature_map, (0.25, 1.0)).shape == (2, 8, 2)
    assert photo_region(feature_map, (0.01, 0.01)).shape == (2, 1, 1)  # never empty


def test_gem_is_the_generalised_mean_per_channel() -> None:
    region = np.array([[[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [0.0, 8.0]]], dtype=np.float32)

    pooled = gem(region)

    assert pooled.shape == (2,)
    assert pooled[0].item() == pytest.approx(((1 + 8 + 27 + 64) / 4) ** (1 / 3), rel=1e-5)
    assert pooled[1].item() == pytest.approx((512 / 4) ** (1 / 3), rel=1e-4)
    assert gem(region, p=1.0)[0].item() == pytest.approx(2.5, rel=1e-6)  # p = 1 is the average
    assert gem(region[:1], p=50.0)[0].item() == pytest.approx(4.0, rel=0.05)  # a large p tends to the maximum


def test_gem_ignores_negative_activations() -> None:
    region = np.array([[[-5.0, 2.0]]], dtype=np.float32)

    assert gem(region, p=1.0).item() == pytest.approx((1e-6 + 2.0) / 2, rel=1e-5)
