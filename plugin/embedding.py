"""The interface every embedding model offers, and how the configured one is loaded.

A backend turns batches of images and texts into L2-normalised float32 vectors, predicts
labels for images, and maps text into the image space when it can (natively for CLIP,
through a bridge for the offline default), so a text query can find products by picture.
"""

from __future__ import annotations

import os
import threading
from typing import Protocol

import numpy as np
from PIL import Image

from plugin.config import Config
from plugin.embedding_spec import EmbeddingSpec
from plugin.errors import ConfigError


class EmbeddingBackend(Protocol):
    spec: EmbeddingSpec

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        """``(len(images), spec.image_dims)`` unit vectors."""
        ...

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """``(len(texts), spec.text_dims)`` unit vectors, for text-to-text search."""
        ...

    def embed_texts_for_images(self, texts: list[str]) -> np.ndarray:
        """``(len(texts), spec.image_dims)`` unit vectors comparable with image vectors."""
        ...

    def predict_labels(self, images: list[Image.Image]) -> list[list[str]]:
        """Labels the model sees in each image, most likely first (may be empty)."""
        ...


class CallCounter:
    """Counts model calls, so that tests and reports can show what was (not) recomputed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.images = 0
        self.texts = 0

    def add(self, images: int = 0, texts: int = 0) -> None:
        with self._lock:
            self.images += images
            self.texts += texts


def configure_threads(requested: int) -> int:
    """Set torch's intra-op threads: *requested*, or one per core this process may use."""
    import torch

    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = requested or available
    torch.set_num_threads(threads)
    return threads


_loaded: dict[str, EmbeddingBackend] = {}
_load_lock = threading.Lock()


def load_backend(config: Config) -> EmbeddingBackend:
    """Return the backend that ``config.model`` names, loading it once per process."""
    with _load_lock:
        if config.model not in _loaded:
            configure_threads(config.torch_threads)
            _loaded[config.model] = _load(config.model)
        return _loaded[config.model]


def _parse_model(model: str) -> tuple[str, str]:
    """``offline`` or ``clip:<checkpoint>`` as (kind, checkpoint)."""
    if model == "offline":
        return "offline", ""
    if model.startswith("clip:") and len(model) > 5:
        return "clip", model[5:]
    raise ConfigError(f"LOOKALIKE_MODEL must be 'offline' or 'clip:<checkpoint id or directory>', got {model!r}")


def _load(model: str) -> EmbeddingBackend:
    kind, checkpoint = _parse_model(model)
    if kind == "offline":
        from plugin.offline_backend import OfflineBackend

        return OfflineBackend()
    from plugin.clip_backend import ClipBackend

    return ClipBackend(checkpoint)


def spec_for_model(model: str) -> EmbeddingSpec:
    """The identity and vector sizes of *model* without loading its weights (to create an index)."""
    kind, checkpoint = _parse_model(model)
    if kind == "offline":
        from plugin.embedding_spec import OFFLINE_DEFAULT

        return OFFLINE_DEFAULT
    from plugin.clip_backend import clip_spec

    return clip_spec(checkpoint)


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
