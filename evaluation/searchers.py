"""The two ways an evaluation ranks products: through the API, and by exact brute force.

:class:`ServedSearch` sends each query through the Flask API itself (its test client, so
no port is needed), exactly as a shop's search box would: the same decoding, query
embedding, k-NN, filters, fusion and ranking. :class:`ExactSearch` ranks every product of
the same index by the cosine of the same query vector, which is the model's ceiling: what
the served path would return if approximate search, fusion and ranking lost nothing.
"""

from __future__ import annotations

import dataclasses
import io
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from opensearchpy import OpenSearch
from opensearchpy.helpers import scan
from PIL import Image

from api.app import create_app
from plugin.config import Config
from plugin.errors import LookalikeError
from plugin.images.decode import decode_image
from plugin.models.base import EmbeddingBackend


class EvaluationFailed(LookalikeError):
    """An evaluation could not measure what it set out to (a product not indexed, a query refused)."""

    reason = "evaluation_failed"


def photo_bytes(photo: Image.Image) -> bytes:
    """*photo* as the JPEG a phone would upload."""
    buffer = io.BytesIO()
    photo.convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@dataclass
class ServedSearch:
    """Queries through ``POST /search``; each call's wall time is kept in :attr:`latencies_ms`."""

    config: Config
    backend: EmbeddingBackend | None = None
    latencies_ms: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        # One client asking thousands of questions a minute: per-client rate limits would stop the
        # measurement, and what they cost is bench load's to measure, not the evaluation's.
        unlimited = dataclasses.replace(self.config.limits, search="", url_fetch="")
        self.app = create_app(dataclasses.replace(self.config, limits=unlimited), self.backend)
        self.http = self.app.test_client()
        self.embedder = self.app.extensions["lookalike"].embedder

    def by_photo(self, data: bytes, size: int) -> list[str]:
        return self._search(data={"size": str(size), "image": (io.BytesIO(data), "query.jpg")})

    def by_text(self, text: str, size: int) -> list[str]:
        return self._search(json={"text": text, "size": size})

    def by_body(self, body: dict[str, Any]) -> list[str]:
        """Any ``POST /search`` JSON body (photo as ``image_base64``, text, filters, profile ...)."""
        return self._search(json=body)

    def response(self, body: dict[str, Any]) -> dict[str, Any]:
        """The whole JSON answer of ``POST /search`` for *body* (detection, groups ...)."""
        started = time.perf_counter()
        response = self.http.post("/search", json=body)
        self.latencies_ms.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise EvaluationFailed(f"POST /search answered {response.status_code}: {response.get_data(as_text=True)[:300]}")
        answer: dict[str, Any] = response.get_json()
        return answer

    def forget(self) -> None:
        """Clear the API's caches of query vectors and detections, so the next photo costs what a new one does."""
        service = self.app.extensions["lookalike"]
        service.embedder.clear()
        if service.detector is not None:
            service.detector.forget()

    def query_vector(self, data: bytes) -> np.ndarray:
        """The vector the API computes for this photo (decoded and embedded the same way, and cached by it)."""
        return np.asarray(self.embedder.image(decode_image(data, self.config.decode, source="query")), np.float32)

    def text_vector(self, text: str) -> np.ndarray:
        return np.asarray(self.embedder.text(text), np.float32)

    def _search(self, **request: Any) -> list[str]:
        if "json" in request:
            return [hit["product_id"] for hit in self.response(request["json"])["hits"]]
        started = time.perf_counter()
        response = self.http.post("/search", **request)
        self.latencies_ms.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise EvaluationFailed(f"POST /search answered {response.status_code}: {response.get_data(as_text=True)[:300]}")
        return [hit["product_id"] for hit in response.get_json()["hits"]]


class ExactSearch:
    """Every product's vectors in memory; a product scores the best cosine of its photos."""

    def __init__(self, product_ids: list[str], image_owner: np.ndarray, image_vectors: np.ndarray, text_vectors: np.ndarray) -> None:
        self.product_ids = product_ids
        self.image_owner = image_owner
        self.image_vectors = image_vectors
        self.text_vectors = text_vectors

    @classmethod
    def load(cls, client: OpenSearch, index: str) -> ExactSearch:
        """All vectors of *index* (through its alias), read with one scroll."""
        ids: list[str] = []
        owners: list[int] = []
        images: list[list[float]] = []
        texts: list[list[float]] = []
        for hit in scan(client, index=index, query={"query": {"match_all": {}}}, _source=["images.vector", "text_vector"], size=500):
            source = hit["_source"]
            for image in source.get("images", []):
                owners.append(len(ids))
                images.append(image["vector"])
            texts.append(source["text_vector"])
            ids.append(hit["_id"])
        if not ids:
            raise EvaluationFailed(f"index {index} holds no products")
        return cls(ids, np.asarray(owners), np.asarray(images, np.float32), np.asarray(texts, np.float32))

    def product_scores(self, vector: np.ndarray) -> np.ndarray:
        """Each product's best cosine to *vector* over its photos, in :attr:`product_ids` order."""
        scores = np.full(len(self.product_ids), -np.inf, np.float32)
        np.maximum.at(scores, self.image_owner, self.image_vectors @ vector)
        return scores

    def by_photo(self, vector: np.ndarray, size: int) -> list[str]:
        return self._top(self.product_scores(vector), size)

    def by_text(self, vector: np.ndarray, size: int) -> list[str]:
        return self._top(self.text_vectors @ vector, size)

    def _top(self, scores: np.ndarray, size: int) -> list[str]:
        order = np.argsort(-scores, kind="stable")[:size]
        return [self.product_ids[i] for i in order]
