"""What every embedding model offers, and what the index needs to know about it.

A backend turns batches of images and texts into L2-normalised float32 vectors, predicts
labels for images, and maps text into the image space when it can (natively for CLIP,
through a bridge for the offline default), so a text query can find products by picture.

Every indexed vector records the model's name and version (:class:`EmbeddingSpec`), so a
model change can be detected and re-embedded into a new index instead of mixing
incompatible vectors.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

import numpy as np
from PIL import Image


@dataclasses.dataclass(frozen=True)
class EmbeddingSpec:
    name: str
    version: str
    image_dims: int
    text_dims: int
    #: True when image and text vectors live in one space (CLIP), so text can search images directly.
    shared_space: bool = False

    def __post_init__(self) -> None:
        # The Lucene HNSW engine accepts 1..16000 dimensions.
        for field in ("image_dims", "text_dims"):
            dims = getattr(self, field)
            if not 1 <= dims <= 16000:
                raise ValueError(f"{field} must be between 1 and 16000, got {dims}")


#: The packaged offline default: EfficientNet-Lite0 image features (1280-d) and
#: all-MiniLM-L6-v2 sentence embeddings (384-d), both shipped inside PyPI packages.
#: Its version changes whenever the vectors do (version 2: letterboxed input, GeM pooling).
OFFLINE_DEFAULT = EmbeddingSpec(
    name="efficientnet-lite0+all-minilm-l6-v2",
    version="2",
    image_dims=1280,
    text_dims=384,
    shared_space=False,
)


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

    def text_image_similarity(self, texts: list[str]) -> np.ndarray:
        """``(len(texts),)``: how closely each text names something the image model knows, up to 1.

        1 for a model trained on texts and images together (CLIP); for a bridge, its
        similarity to the nearest concept it maps through. Fusion trusts the bridge by it.
        """
        ...

    def predict_labels(self, images: list[Image.Image]) -> list[list[str]]:
        """Labels the model sees in each image, most likely first (may be empty)."""
        ...

    def embed_and_label(self, images: list[Image.Image]) -> tuple[np.ndarray, list[list[str]]]:
        """Vectors and labels from one pass of the image model (what ingest uses)."""
        ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
