"""Text and hybrid queries measured for the default fusion beside each signal alone, in one run.

A fused default can only be trusted beside what each of its signals does alone: a weak
signal voting as loudly as a strong one shows up as a default below its best signal. Every
configuration goes through ``POST /search`` (the same decoding, embedding, filters and
fusion as a shop's search box); a single signal is the request with every other weight 0.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from evaluation.metrics import (
    hit_at,
    mean,
    ndcg_at,
    precision_at,
    recall_at,
    reciprocal_rank,
)
from evaluation.searchers import ServedSearch

DEPTH = 10
#: What each configuration sends as ``weights``; ``default`` sends none (the shop's ranking settings).
ONLY = {
    "keywords": {"image": 0.0, "text": 0.0, "text_image": 0.0, "keywords": 1.0},
    "text_vector": {"image": 0.0, "text": 1.0, "text_image": 0.0, "keywords": 0.0},
    "bridge": {"image": 0.0, "text": 0.0, "text_image": 1.0, "keywords": 0.0},
    "photo": {"image": 1.0, "text": 0.0, "text_image": 0.0, "keywords": 0.0},
}
TEXT_CONFIGS = ("default", "keywords", "text_vector", "bridge")
HYBRID_CONFIGS = ("default", "photo", "keywords", "text_vector", "bridge")
#: A default may fall this far below its best single signal on any figure, and no further.
SLACK = 0.01


@dataclass(frozen=True)
class JudgedText:
    """One query: words, optionally a photo, and the products that answer it."""

    text: str
    relevant: Mapping[str, float]
    photo: bytes | None = None


def query_metrics(ranked: list[str], relevant: Mapping[str, float]) -> dict[str, float]:
    return {
        "recall_at_1": hit_at(ranked, relevant, 1),
        "recall_at_5": recall_at(ranked, relevant, 5),
        "mrr": reciprocal_rank(ranked, relevant),
        "ndcg_at_10": ndcg_at(ranked, relevant, 10),
        "precision_at_10": precision_at(ranked, relevant, 10),
    }


def measure(served: ServedSearch, queries: Iterable[JudgedText], configs: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Every metric of :func:`query_metrics`, averaged over *queries*, for each configuration."""
    figures: dict[str, dict[str, list[float]]] = {config: {} for config in configs}
    for query in queries:
        for config in configs:
            body: dict[str, Any] = {"text": query.text, "size": DEPTH}
            if config != "default":
                body["weights"] = ONLY[config]
            if query.photo is not None:
                body["image_base64"] = base64.b64encode(query.photo).decode()
            for metric, value in query_metrics(served.by_body(body), query.relevant).items():
                figures[config].setdefault(metric, []).append(value)
    return {config: {metric: round(mean(values), 4) for metric, values in metrics.items()} for config, metrics in figures.items()}


@dataclass(frozen=True)
class Shortfall:
    metric: str
    default: float
    signal: str
    best: float


def shortfalls(section: Mapping[str, Mapping[str, float]], metrics: tuple[str, ...]) -> list[Shortfall]:
    """Each metric on which the default falls more than :data:`SLACK` below the best single signal."""
    found = []
    for metric in metrics:
        signal, best = max(((name, figures[metric]) for name, figures in section.items() if name != "default"), key=lambda p: p[1])
        if section["default"][metric] < best - SLACK - 1e-9:
            found.append(Shortfall(metric, section["default"][metric], signal, best))
    return found
