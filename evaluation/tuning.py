"""Fit the ranking settings to a shop's own judged queries, and show on a held-out half that they generalise.

The judged file is the one :mod:`evaluation.judged` reads. Each query is embedded once and
its signals are fetched once, every signal over the full candidate window; candidate
settings are then scored by fusing those lists with :func:`plugin.search.fusion.fuse`, the
fusion the API runs, so hundreds of candidates cost no further round trips. The search is
coordinate ascent from the live settings over a grid of weights and parameters (each knob in
turn set to its best value given the others, for a few rounds), for the kinds of query the
file holds (words, photos, both). The queries are split in two with a
seed: the settings are fitted on one half and judged on the other, and the before and
after figures of both halves come from the real search path
(:func:`plugin.search.service.search`), not the offline fusion.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch
from pydantic import ValidationError

from evaluation.judged import JudgedQuery, load_photo, read_judged
from evaluation.metrics import (
    average_precision_at,
    hit_at,
    mean,
    ndcg_at,
    precision_at,
    reciprocal_rank,
)
from evaluation.searchers import EvaluationFailed
from plugin.config import Config
from plugin.errors import SearchFailed
from plugin.images.decode import decode_image
from plugin.search.fusion import FusionParams, SignalHit
from plugin.search.profiles import store_profiles
from plugin.search.query_vectors import QueryEmbedder
from plugin.search.ranking import KindWeights, RankingSettings
from plugin.search.request import SIGNALS, Filters, Query, QueryKind
from plugin.search.service import fetch_signals, rank, search

DEPTH = 100
METRICS: dict[str, Callable[[list[str], dict[str, float]], float]] = {
    "ndcg_at_10": lambda ranked, relevant: ndcg_at(ranked, relevant, 10),
    "mrr": reciprocal_rank,
    "recall_at_1": lambda ranked, relevant: hit_at(ranked, relevant, 1),
    "precision_at_10": lambda ranked, relevant: precision_at(ranked, relevant, 10),
    "map_at_100": lambda ranked, relevant: average_precision_at(ranked, relevant, DEPTH),
}
#: The values each weight may take, and each fusion parameter.
WEIGHT_GRID = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0)
PARAM_GRID: dict[str, tuple[float, ...]] = {
    "bridge_floor": (0.3, 0.4, 0.5, 0.6, 0.7),
    "bridge_full": (0.6, 0.7, 0.8, 0.9, 1.0),
    "coverage_power": (0.0, 0.5, 1.0, 2.0),
}
ROUNDS = 3
#: Fewer judged queries than this cannot be split into a half to fit and a half to check.
MIN_QUERIES = 4


@dataclass
class Prepared:
    """One judged query, embedded, with every signal's candidates fetched once."""

    judged: JudgedQuery
    query: Query
    relevant: dict[str, float]
    ranked: dict[str, list[SignalHit]] = field(default_factory=dict)


@dataclass(frozen=True)
class TuneResult:
    metric: str
    before: RankingSettings
    after: RankingSettings
    #: ``{"fit": {"queries", "before", "after"}, "held_out": {...}}``, measured by the real search.
    scores: dict[str, dict[str, float]]

    @property
    def improved(self) -> bool:
        held_out = self.scores["held_out"]
        return held_out["after"] > held_out["before"] + 1e-9


def tune(
    client: OpenSearch,
    config: Config,
    embedder: QueryEmbedder,
    path: Path,
    current: RankingSettings,
    *,
    metric: str = "ndcg_at_10",
    held_out_share: float = 0.5,
    seed: int = 0,
    progress: Callable[[str], None] = lambda line: None,
) -> TuneResult:
    """Fit settings on part of the judged queries of *path*, starting from *current*, and score both halves."""
    if metric not in METRICS:
        raise EvaluationFailed(f"unknown metric {metric!r}: use one of {', '.join(METRICS)}")
    judged = read_judged(path)
    if len(judged) < MIN_QUERIES:
        raise EvaluationFailed(f"{path} holds {len(judged)} judged queries; tuning needs at least {MIN_QUERIES} (half to fit, half to check)")
    if all(query.image and not (query.text and query.text.strip()) for query in judged):
        raise EvaluationFailed(f"{path} holds only photo queries: one signal ranks them, so there is no weight or fusion to tune")
    if any(query.profile for query in judged):
        store_profiles(client)
    prepared = [_prepare(client, config, embedder, path, query) for query in judged]
    order = list(range(len(prepared)))
    random.Random(seed).shuffle(order)
    cut = min(len(order) - 1, max(1, round(len(order) * (1 - held_out_share))))
    fit, held_out = [prepared[i] for i in order[:cut]], [prepared[i] for i in order[cut:]]
    progress(f"{len(prepared)} judged queries: fitting on {len(fit)}, checking on {len(held_out)}")
    after = _ascend(fit, current, METRICS[metric], progress)
    scores = {
        name: {
            "queries": len(part),
            "before": round(_served_score(client, config, part, current, METRICS[metric]), 4),
            "after": round(_served_score(client, config, part, after, METRICS[metric]), 4),
        }
        for name, part in (("fit", fit), ("held_out", held_out))
    }
    return TuneResult(metric, current, after, scores)


def _prepare(client: OpenSearch, config: Config, embedder: QueryEmbedder, path: Path, judged: JudgedQuery) -> Prepared:
    text = judged.text.strip() if judged.text and judged.text.strip() else None
    image_vector = None
    if judged.image:
        image_vector = embedder.image(decode_image(load_photo(judged.image, path.parent, config), config.decode, source="query"))
    query = Query(
        image_vector=image_vector,
        text=text,
        text_vector=embedder.text(text) if text else None,
        text_image_vector=embedder.text_for_images(text) if text else None,
        text_image_similarity=embedder.text_image_similarity(text) if text else None,
        filters=Filters.model_validate(judged.filters or {}),
        profile=judged.profile,
        size=DEPTH,
        ef_search=config.knn_ef_search,
    )
    every = query.model_copy(update={"weights": dict.fromkeys(SIGNALS, 1.0)})
    prepared = Prepared(judged, query, {pid: grade for pid, grade in judged.relevant.items() if grade > 0})
    try:
        prepared.ranked = fetch_signals(client, config.index_alias, every)
    except SearchFailed as exc:
        raise EvaluationFailed(f"judged query {judged.query!r}: {exc}") from exc
    return prepared


def _offline_score(part: Sequence[Prepared], settings: RankingSettings, measure: Callable[[list[str], dict[str, float]], float]) -> float:
    values = []
    for item in part:
        fused = rank(item.ranked, settings.resolve(item.query), settings)
        values.append(measure([hit.product_id for hit in fused[:DEPTH]], item.relevant))
    return mean(values)


def _served_score(
    client: OpenSearch, config: Config, part: Sequence[Prepared], settings: RankingSettings, measure: Callable[[list[str], dict[str, float]], float]
) -> float:
    values = []
    for item in part:
        result = search(client, config.index_alias, item.query, settings)
        values.append(measure([hit["product_id"] for hit in result.hits], item.relevant))
    return mean(values)


def _ascend(
    part: Sequence[Prepared], start: RankingSettings, measure: Callable[[list[str], dict[str, float]], float], progress: Callable[[str], None]
) -> RankingSettings:
    """Coordinate ascent: each knob in turn takes the grid value that scores best given the others; a tie keeps the current value."""
    kinds = sorted({item.query.kind.value for item in part})
    best, best_score = start, _offline_score(part, start, measure)
    progress(f"start: {best_score:.4f}")
    for round_number in range(1, ROUNDS + 1):
        improved = False
        for knob in _knobs(kinds):
            for candidate in knob(best):
                score = _offline_score(part, candidate, measure)
                if score > best_score + 1e-9:
                    best, best_score, improved = candidate, score, True
        progress(f"round {round_number}: {best_score:.4f}")
        if not improved:
            break
    return best


Knob = Callable[[RankingSettings], list[RankingSettings]]


def _knobs(kinds: list[str]) -> list[Knob]:
    """One function per knob: *settings* with that knob at each other value of its grid."""

    def fusion(settings: RankingSettings) -> list[RankingSettings]:
        return [settings.model_copy(update={"fusion": method}) for method in ("adaptive", "rrf", "weighted") if method != settings.fusion]

    def weight(kind: str, signal: str) -> Knob:
        def values(settings: RankingSettings) -> list[RankingSettings]:
            weights: KindWeights = getattr(settings, kind)
            return [
                settings.model_copy(update={kind: weights.model_copy(update={signal: value})})
                for value in WEIGHT_GRID if value != getattr(weights, signal)
            ]
        return values

    def param(name: str) -> Knob:
        def values(settings: RankingSettings) -> list[RankingSettings]:
            out = []
            for value in PARAM_GRID[name]:
                if value == getattr(settings.params, name):
                    continue
                try:
                    params = FusionParams.model_validate(settings.params.model_dump() | {name: value})
                except ValidationError:
                    continue  # the bridge's floor must stay below its full mark
                out.append(settings.model_copy(update={"params": params}))
            return out
        return values

    knobs: list[Knob] = [fusion]
    knobs += [weight(kind, signal) for kind in kinds for signal in _signals_of(QueryKind(kind))]
    knobs += [param(name) for name in PARAM_GRID]
    return knobs


def _signals_of(kind: QueryKind) -> tuple[str, ...]:
    if kind == QueryKind.photo:
        return ()  # one signal: its weight cannot change the order
    if kind == QueryKind.text:
        return ("text", "text_image", "keywords")
    return SIGNALS


def describe(result: TuneResult) -> dict[str, Any]:
    """What ``lookalike tune`` stores beside the settings and prints."""
    return {"metric": result.metric, **result.scores}
