"""CLIP through transformers: images and texts in one space (what production uses).

Any CLIP-compatible checkpoint works, by hub id (``openai/clip-vit-base-patch32``) or a
local directory. Labels are CLIP's zero-shot guesses over a label vocabulary when one is
given; without one, CLIP predicts none. The towers run on ONNX Runtime (exported once from
the checkpoint, see :mod:`plugin.models.export`) or on PyTorch, with the same vectors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from transformers import CLIPConfig, CLIPProcessor

from plugin.models.base import EmbeddingSpec, normalise
from plugin.models.export import cached_export, export_graph
from plugin.models.runtime import Network, OnnxNetwork, Runtime, TorchNetwork

#: The files whose bytes identify a checkpoint's weights.
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "config.json")


def clip_spec(checkpoint: str) -> EmbeddingSpec:
    """The spec of a CLIP checkpoint, read from its configuration alone."""
    return _spec(checkpoint, CLIPConfig.from_pretrained(checkpoint))


def _spec(checkpoint: str, config: CLIPConfig) -> EmbeddingSpec:
    dims = int(config.projection_dim)
    return EmbeddingSpec(
        name=f"clip:{checkpoint}",
        version=str(getattr(config, "transformers_version", None) or "unknown"),
        image_dims=dims,
        text_dims=dims,
        shared_space=True,
    )


class ClipBackend:
    def __init__(
        self,
        checkpoint: str,
        *,
        runtime: Runtime = "onnx",
        threads: int = 1,
        cache_dir: Path | None = None,
        labels: tuple[str, ...] = (),
        batch_size: int = 32,
    ) -> None:
        self.runtime = runtime
        self.processor = CLIPProcessor.from_pretrained(checkpoint)
        self.batch_size = batch_size
        config = CLIPConfig.from_pretrained(checkpoint)
        self.spec = _spec(checkpoint, config)
        #: The text tower's positions: longer texts are cut there, whatever the tokenizer's own limit says.
        self.max_tokens = int(config.text_config.max_position_embeddings)
        if runtime == "torch":
            self.image_network, self.text_network = _torch_networks(checkpoint)
        else:
            if cache_dir is None:
                raise ValueError("the ONNX runtime needs a directory for its exported graphs")
            weights = _weight_files(checkpoint)
            graphs = cached_export(cache_dir, "clip", weights, [Path(__file__)], lambda directory: _export(checkpoint, directory))
            self.image_network = OnnxNetwork(graphs / "image.onnx", threads)
            self.text_network = OnnxNetwork(graphs / "text.onnx", threads)
        self.labels = labels
        self._label_vectors = self.embed_texts(list(labels)) if labels else None

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        out = []
        for start in range(0, len(images), self.batch_size):
            pixels = self.processor(images=images[start : start + self.batch_size], return_tensors="np")["pixel_values"]
            out.append(self.image_network({"pixel_values": pixels.astype(np.float32)}))
        return normalise(np.concatenate(out)) if out else np.zeros((0, self.spec.image_dims), np.float32)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        out = []
        for start in range(0, len(texts), self.batch_size):
            tokens = self.processor(text=texts[start : start + self.batch_size], return_tensors="np", padding=True, truncation=True, max_length=self.max_tokens)
            out.append(
                self.text_network({"input_ids": tokens["input_ids"].astype(np.int64), "attention_mask": tokens["attention_mask"].astype(np.int64)})
            )
        return normalise(np.concatenate(out)) if out else np.zeros((0, self.spec.text_dims), np.float32)

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


def _weight_files(checkpoint: str) -> list[Path]:
    """The checkpoint's weight and configuration files, from its directory or the hub's local cache."""
    directory = Path(checkpoint)
    if not directory.is_dir():
        from transformers.utils import cached_file

        directory = Path(cached_file(checkpoint, "config.json")).parent  # type: ignore[arg-type]
    return sorted({path for pattern in WEIGHT_PATTERNS for path in directory.glob(pattern)})


def _torch_model(checkpoint: str) -> Any:
    from transformers import CLIPModel

    return CLIPModel.from_pretrained(checkpoint).eval()


def _torch_networks(checkpoint: str) -> tuple[Network, Network]:
    model = _torch_model(checkpoint)
    return (
        TorchNetwork(lambda pixel_values: model.get_image_features(pixel_values=pixel_values).float()),
        TorchNetwork(lambda input_ids, attention_mask: model.get_text_features(input_ids=input_ids, attention_mask=attention_mask).float()),
    )


def _export(checkpoint: str, directory: Path) -> None:
    """Both towers, each up to its projection: what :class:`ClipBackend` normalises."""
    import torch

    model = _torch_model(checkpoint)

    class ImageTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return self.model.get_image_features(pixel_values=pixel_values).float()

    class TextTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model.get_text_features(input_ids=input_ids, attention_mask=attention_mask).float()

    side = int(model.config.vision_config.image_size)
    batch = {0: "batch"}
    export_graph(ImageTower(), {"pixel_values": torch.zeros(2, 3, side, side)}, ["features"], {"pixel_values": batch, "features": batch}, directory / "image.onnx")
    sequence = {0: "batch", 1: "tokens"}
    tokens = {"input_ids": torch.ones(2, 8, dtype=torch.int64), "attention_mask": torch.ones(2, 8, dtype=torch.int64)}
    export_graph(TextTower(), tokens, ["features"], {"input_ids": sequence, "attention_mask": sequence, "features": batch}, directory / "text.onnx")
