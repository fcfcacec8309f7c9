"""A shop's own judged queries, evaluated against its live index.

The file is JSON Lines, one query a line::

    {"query": "red-sneaker-photo", "image": "photos/q1.jpg", "relevant": {"sneaker-red": 2, "sneaker-pink": 1}}
    {"query": "laptop", "text": "thin laptop", "filters": {"in_stock": true}, "relevant": {"laptop": 1}}

``image`` is a file (relative to the judged file) or an http(s) URL; ``text``, ``filters``,
``profile`` and ``weights`` are passed to ``POST /search`` as they are; ``relevant`` maps
product ids to grades (higher is better; nDCG gains are ``2**grade - 1``). A query needs
an image, a text, or both.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evaluation.metrics import (
    average_precision_at,
    hit_at,
    mean,
    ndcg_at,
    precision_at,
    recall_at,
)
from evaluation.searchers import EvaluationFailed, ExactSearch, ServedSearch
from evaluation.signals import ONLY, query_metrics
from plugin.config import Config
from plugin.images.fetch import fetch_image
from plugin.models.base import EmbeddingBackend
from plugin.models.registry import backend_for
from plugin.opensearch.client import connect

DEPTH = 100


class JudgedQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1)
    image: str | None = None
    text: str | None = None
    filters: dict[str, Any] | None = None
    profile: str | None = None
    weights: dict[str, float] | None = None
    relevant: dict[str, float] = Field(min_length=1)

    @model_validator(mode="after")
    def _something_to_search(self) -> JudgedQuery:
        if not self.image and not (self.text and self.text.strip()):
            raise ValueError("a judged query needs an image, a text, or both")
        return self


def read_judged(path: Path) -> list[JudgedQuery]:
    """The judged queries of *path*; a malformed line fails the whole file, naming its line."""
    queries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            queries.append(JudgedQuery.model_validate_json(line))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'line'}: {e['msg']}" for e in exc.errors())
            raise EvaluationFailed(f"{path}:{number}: {problems}") from None
    if not queries:
        raise EvaluationFailed(f"{path} holds no judged queries")
    return queries


def evaluate_judged(
    config: Config, path: Path, backend: EmbeddingBackend | None = None, *, progress: Callable[[str], None] = lambda line: None
) -> dict[str, Any]:
    """Evaluate the judged queries of *path* against ``config.index_alias`` and return the figures."""
    queries = read_judged(path)
    backend = backend or backend_for(config)
    served = ServedSearch(config, backend)
    exact = ExactSearch.load(connect(config), config.index_alias)
    figures: dict[str, dict[str, list[float]]] = {"served": {}, "exact": {}}
    # The default beside each signal alone, over every query (a query without the signal's input counts 0).
    alone: dict[str, dict[str, list[float]]] = {name: {} for name in ("default", *ONLY)}
    for query in queries:
        photo = load_photo(query.image, path.parent, config) if query.image else None
        body: dict[str, Any] = {"size": DEPTH}
        body.update({key: value for key, value in query.model_dump().items() if key in ("text", "filters", "profile", "weights") and value})
        if photo is not None:
            body["image_base64"] = base64.b64encode(photo).decode()
        rankings = {"served": served.by_body(body)}
        # Exact search ranks by the model alone: the photo's vector if there is one, else the text's.
        if photo is not None:
            rankings["exact"] = exact.by_photo(served.query_vector(photo), DEPTH)
        else:
            rankings["exact"] = exact.by_text(served.text_vector(query.text or ""), DEPTH)
        relevant = {product: grade for product, grade in query.relevant.items() if grade > 0}  # grade 0: judged not relevant
        for name, ranked in rankings.items():
            for metric, value in _metrics(ranked, relevant).items():
                figures[name].setdefault(metric, []).append(value)
        for name in alone:
            ranked = rankings["served"] if name == "default" else served.by_body(body | {"weights": ONLY[name]})
            for metric, value in query_metrics(ranked, relevant).items():
                alone[name].setdefault(metric, []).append(value)
    progress(f"{len(queries)} judged queries evaluated")
    return {
        "description": f"{len(queries)} judged queries from {path} against the index behind {config.index_alias}",
        "catalogue": {"queries": len(queries), "alias": config.index_alias},
        "served": {metric: round(mean(values), 4) for metric, values in figures["served"].items()},
        "exact": {metric: round(mean(values), 4) for metric, values in figures["exact"].items()},
        "latency_ms": {"query_median": float(np.median(served.latencies_ms))},
        "signals": {name: {metric: round(mean(values), 4) for metric, values in metrics.items()} for name, metrics in alone.items()},
    }


def load_photo(reference: str, base: Path, config: Config) -> bytes:
    """A judged query's photo: a file relative to the judged file, or an http(s) URL fetched under the URL policy."""
    if reference.startswith(("http://", "https://")):
        return fetch_image(reference, config.fetch).data
    path = (base / reference).resolve()
    if not path.is_file():
        raise EvaluationFailed(f"judged query photo {path} does not exist")
    return path.read_bytes()


def _metrics(ranked: list[str], relevant: dict[str, float]) -> dict[str, float]:
    return {
        "precision_at_10": precision_at(ranked, relevant, 10),
        "recall_at_10": recall_at(ranked, relevant, 10),
        "map_at_100": average_precision_at(ranked, relevant, DEPTH),
        "ndcg_at_10": ndcg_at(ranked, relevant, 10),
        "recall_at_1": hit_at(ranked, relevant, 1),
    }
