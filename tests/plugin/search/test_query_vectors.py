"""Query vectors: views averaged into one unit vector, and the cache that spares the model repeated queries."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from plugin.images.views import VIEWS
from plugin.search.query_vectors import QueryEmbedder, embed_views
from tests.support.models import TINY_SPEC


class RecordingBackend:
    """Embeds an image as its mean colour and width, and remembers what it was given."""

    spec = TINY_SPEC

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []
        self.texts: list[str] = []

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        self.seen.extend(image.size for image in images)
        rows = [[*np.asarray(image.convert("RGB"), np.float32).mean((0, 1)), float(image.width)] for image in images]
        vectors = np.asarray(rows, np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        return np.asarray([[len(text), 1.0, 0.0] for text in texts], np.float32)

    def embed_texts_for_images(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        return np.asarray([[0.0, len(text), 1.0, 0.0] for text in texts], np.float32)

    def text_image_similarity(self, texts: list[str]) -> np.ndarray:
        return np.ones(len(texts), np.float32)


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


def test_a_repeated_photo_is_answered_from_the_cache() -> None:
    backend = RecordingBackend()
    embedder = QueryEmbedder(backend, views=("original", "hflip"))
    photo = Image.new("RGB", (40, 30), (10, 200, 10))

    first = embedder.image(photo)
    again = embedder.image(Image.new("RGB", (40, 30), (10, 200, 10)))  # the same pixels in another object

    assert again == first and isinstance(first, list)
    assert np.allclose(first, embed_views(RecordingBackend(), photo, ("original", "hflip")), atol=1e-6)
    assert (embedder.misses, embedder.hits) == (1, 1)
    assert backend.seen == [(40, 30), (40, 30)]  # two views, embedded once


def test_other_pixels_or_another_size_are_new_photos() -> None:
    embedder = QueryEmbedder(RecordingBackend())

    embedder.image(Image.new("RGB", (40, 30), (10, 200, 10)))
    embedder.image(Image.new("RGB", (40, 30), (10, 200, 11)))
    embedder.image(Image.new("RGB", (30, 40), (10, 200, 10)))

    assert (embedder.misses, embedder.hits) == (3, 0)


def test_the_text_key_ignores_case_and_spacing() -> None:
    backend = RecordingBackend()
    embedder = QueryEmbedder(backend)

    first = embedder.text("Red  Leather sneaker")
    assert embedder.text(" red leather\tSNEAKER ") == first

    assert backend.texts == ["Red  Leather sneaker"]
    assert (embedder.misses, embedder.hits) == (1, 1)
    embedder.text("red leather sneakers")
    assert embedder.misses == 2


def test_text_for_images_has_a_cache_of_its_own() -> None:
    backend = RecordingBackend()
    embedder = QueryEmbedder(backend)

    as_text = embedder.text("mug")
    for_images = embedder.text_for_images("mug")

    assert len(as_text) == TINY_SPEC.text_dims and len(for_images) == TINY_SPEC.image_dims
    assert embedder.text_for_images("MUG") == for_images
    assert (embedder.misses, embedder.hits) == (2, 1)


def test_the_cache_keeps_only_the_most_recently_used_entries() -> None:
    backend = RecordingBackend()
    embedder = QueryEmbedder(backend, max_entries=2)

    embedder.text("a")
    embedder.text("b")
    embedder.text("a")  # "b" is now the least recently used
    embedder.text("c")
    embedder.text("a")
    embedder.text("b")

    assert backend.texts == ["a", "b", "c", "b"]


def test_stats_read_hits_misses_and_entries_together() -> None:
    embedder = QueryEmbedder(RecordingBackend(), max_entries=2)
    assert embedder.stats() == (0, 0, 0, 2)

    embedder.text("a")
    embedder.text("a")
    embedder.text("b")
    embedder.text("c")  # "a" leaves: the cache holds two

    stats = embedder.stats()
    assert (stats.hits, stats.misses, stats.entries, stats.max_entries) == (1, 3, 2, 2)
