"""Query views: parsing the configured set, and averaging views into one unit vector."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from plugin.config import Config
from plugin.errors import ConfigError
from plugin.images.views import VIEWS, parse_views
from plugin.search.query_vectors import embed_views
from tests.support.models import TINY_SPEC


class RecordingBackend:
    """Embeds an image as its mean colour and width, and remembers what it was given."""

    spec = TINY_SPEC

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        self.seen.extend(image.size for image in images)
        rows = [[*np.asarray(image.convert("RGB"), np.float32).mean((0, 1)), float(image.width)] for image in images]
        vectors = np.asarray(rows, np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_views_are_parsed_in_order_without_repeats() -> None:
    assert parse_views("original, hflip,original") == ("original", "hflip")
    with pytest.raises(ConfigError, match="query views must be some of original"):
        parse_views("original,sideways")
    with pytest.raises(ConfigError):
        parse_views(" , ")


def test_the_setting_comes_from_the_environment() -> None:
    assert Config.from_env({}).query_views == ("original",)
    assert Config.from_env({"LOOKALIKE_QUERY_VIEWS": "original,hflip"}).query_views == ("original", "hflip")
    with pytest.raises(ConfigError, match="LOOKALIKE_QUERY_VIEWS"):
        Config.from_env({"LOOKALIKE_QUERY_VIEWS": "upside-down"})


def test_all_views_are_embedded_in_one_batch_and_averaged() -> None:
    backend = RecordingBackend()
    image = Image.new("RGB", (200, 100), (200, 10, 10))
    vector = embed_views(backend, image, ("original", "centre_80", "rot90"))
    assert backend.seen == [(200, 100), (160, 80), (100, 200)]
    single = [backend.embed_images([VIEWS[name](image)])[0] for name in ("original", "centre_80", "rot90")]
    expected = np.mean(single, axis=0)
    assert np.allclose(vector, expected / np.linalg.norm(expected), atol=1e-6)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-6)


def test_a_single_original_view_is_the_plain_vector() -> None:
    backend = RecordingBackend()
    image = Image.new("RGB", (64, 64), (1, 2, 3))
    assert np.allclose(embed_views(backend, image, ("original",)), backend.embed_images([image])[0])
