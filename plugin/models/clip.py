"""CLIP through transformers: images and texts in one space (what production uses).

Any CLIP-compatible checkpoint works, by hub id (``openai/clip-vit-base-patch32``) or a
local directory. Labels are CLIP's zero-shot guesses over a label vocabulary when one is
given; without one, CLIP predicts none.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from transformers import CLIPConfig, CLIPModel, CLIPProcessor

from plugin.models.base import EmbeddingSpec, normalise


def clip_spec(checkpoint: str) -> EmbeddingSpec:
    """The spec of a CLIP checkpoint, read from its configuration alone."""
    config = CLIPConfig.from_pretrained(checkpoint)
    dims = int(config.projection_dim)
    return EmbeddingSpec(
        name=f"clip:{checkpoint}",
        version=str(getattr(config, "transformers_version", None) or "unknown"),
        image_dims=dims,
        text_dims=dims,
        shared_space=True,
    )


class ClipBackend:
    def __init__(self, checkpoint: str, *, labels: tuple[str, ...] = (), batch_size: int = 32) -> None:
        self.model = CLIPModel.from_pretrained(checkpoint).eval()
        self.processor = CLIPProcessor.from_pretrained(checkpoint)
        self.batch_size = batch_size
        self.spec = clip_spec(checkpoint)
        self.labels = labels
        self._label_vectors = self._embed_texts_raw(list(labels)) if labels else None

    @torch.inference_mode()
    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        out = []
        for start in range(0, len(images), self.batch_size):
            pixels = self.processor(images=images[start : start + self.batch_size], return_tensors="pt")["pixel_values"]
            out.append(self.model.get_image_features(pixel_values=pixels).float().numpy())
        return normalise(np.concatenate(out)) if out else np.zeros((0, self.spec.image_dims), np.float32)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        return self._embed_texts_raw(texts)

    def embed_texts_for_images(self, texts: list[str]) -> np.ndarray:
        return self.embed_texts(texts)  # one space: text vectors compare with image vectors directly

    def text_image_similarity(self, texts: list[str]) -> np.ndarray:
        return np.ones(len(texts), np.float32)  # trained on captions: every text is in its space

    def predict_labels(self, images: list[Image.Image], top: int = 3, min_probability: float = 0.2) -> list[list[str]]:
        return self.embed_and_label(images, top, min_probability)[1]

    def embed_and_label(self, images: list[Image.Image], top: int = 3, min_probability: float = 0.2) -> tuple[np.ndarray, list[list[str]]]:
        """Vectors and zero-shot labels from one pass of the image tower."""
        vectors = self.embed_images(images)
        if self._label_vectors is None:
            return vectors, [[] for _ in images]
        similarity = vectors @ self._label_vectors.T * 100.0
        probabilities = np.exp(similarity - similarity.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return vectors, [
            [self.labels[i] for i in np.argsort(-row)[:top] if row[i] >= min_probability] for row in probabilities
        ]

    @torch.inference_mode()
    def _embed_texts_raw(self, texts: list[str]) -> np.ndarray:
        out = []
        for start in range(0, len(texts), self.batch_size):
            tokens = self.processor(text=texts[start : start + self.batch_size], return_tensors="pt", padding=True, truncation=True)
            out.append(
                self.model.get_text_features(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]).float().numpy()
            )
        return normalise(np.concatenate(out)) if out else np.zeros((0, self.spec.text_dims), np.float32)
