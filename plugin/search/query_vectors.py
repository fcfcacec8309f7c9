"""Query vectors for photos and texts, cached by content so a repeated query skips the model.

A photo's vector is the unit mean of the vectors of its configured views (test-time
augmentation, :mod:`plugin.images.views`). The cache key is a SHA-256 of the image's decoded
pixels or of the text, never the photo itself, and the cache is bounded (least recently used
entries go first).
"""

from __future__ import annotations

import hashlib
import threading
from typing import NamedTuple

import numpy as np
from cachetools import LRUCache
from PIL import Image

from plugin.images.views import VIEWS
from plugin.models.base import EmbeddingBackend, normalise


class CacheStats(NamedTuple):
    """The cache as one consistent reading, for the API's ``/metrics``."""

    hits: int
    misses: int
    entries: int
    max_entries: int


class QueryEmbedder:
    def __init__(self, backend: EmbeddingBackend, max_entries: int = 2048, views: tuple[str, ...] = ("original",)) -> None:
        self.backend = backend
        #: The views of each query photo that are embedded and averaged (test-time augmentation).
        self.views = views
        self._cache: LRUCache[tuple[str, str], np.ndarray] = LRUCache(maxsize=max_entries)
        self._lock = threading.Lock()
        #: Lookups answered from the cache and lookups that ran the model, since this embedder was made.
        self.hits = 0
        self.misses = 0

    def stats(self) -> CacheStats:
        """Hits, misses and entries read together, so a reader never sees one lookup half counted."""
        with self._lock:
            return CacheStats(self.hits, self.misses, len(self._cache), int(self._cache.maxsize))

    def clear(self) -> None:
        """Forget every cached vector (an evaluation timing new photos, say)."""
        with self._lock:
            self._cache.clear()

    def image(self, image: Image.Image) -> list[float]:
        return self._cached(_image_key(image), lambda: embed_views(self.backend, image, self.views))

    def images(self, images: list[Image.Image]) -> list[list[float]]:
        """The vectors of several photos (the parts of one photo, say); those not cached run as one batch."""
        keys = [_image_key(image) for image in images]
        found: dict[tuple[str, str], np.ndarray] = {}
        with self._lock:
            for key in keys:
                vector = self._cache.get(key)
                if vector is not None:
                    found[key] = vector
            self.hits += sum(1 for key in keys if key in found)
            self.misses += sum(1 for key in keys if key not in found)
        missing = {key: image for key, image in zip(keys, images) if key not in found}
        if missing:
            vectors = embed_many_views(self.backend, list(missing.values()), self.views)
            with self._lock:
                for key, vector in zip(missing, vectors):
                    self._cache[key] = vector
                    found[key] = vector
        return [found[key].tolist() for key in keys]

    def text(self, text: str) -> list[float]:
        return self._cached(("text", _text_key(text)), lambda: self.backend.embed_texts([text])[0])

    def text_for_images(self, text: str) -> list[float]:
        return self._cached(("text_image", _text_key(text)), lambda: self.backend.embed_texts_for_images([text])[0])

    def text_image_similarity(self, text: str) -> float:
        """How closely *text* names something the image model knows (the bridge's confidence)."""
        return self._cached(("text_image_similarity", _text_key(text)), lambda: self.backend.text_image_similarity([text]))[0]

    def _cached(self, key: tuple[str, str], compute: object) -> list[float]:
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self.hits += 1
                return found.tolist()
            self.misses += 1
        vector = np.asarray(compute(), dtype=np.float32)  # type: ignore[operator]
        with self._lock:
            self._cache[key] = vector
        return vector.tolist()


def _image_key(image: Image.Image) -> tuple[str, str]:
    return ("image", hashlib.sha256(image.tobytes() + repr((image.mode, image.size)).encode()).hexdigest())


def _text_key(text: str) -> str:
    return hashlib.sha256(" ".join(text.lower().split()).encode()).hexdigest()


def embed_views(backend: EmbeddingBackend, image: Image.Image, views: tuple[str, ...]) -> np.ndarray:
    """The unit mean of the unit vectors of *image* seen as each of *views* (one batched forward pass)."""
    vectors = backend.embed_images([VIEWS[name](image) for name in views])
    return normalise(vectors.mean(axis=0, keepdims=True))[0]


def embed_many_views(backend: EmbeddingBackend, images: list[Image.Image], views: tuple[str, ...]) -> np.ndarray:
    """:func:`embed_views` of each of *images*, all in one forward pass."""
    vectors = backend.embed_images([VIEWS[name](image) for image in images for name in views])
    return normalise(vectors.reshape(len(images), len(views), -1).mean(axis=1))
