"""Recommendations: "shoppers also viewed" for a product, and "picked for you" for a shopper.

Two ranked lists are fused by reciprocal rank (as the search signals can be):

    score = 1 / (RRF_K + rank by co-occurrence) + VISUAL_WEIGHT / (RRF_K + rank by visual similarity)

*Co-occurrence* is the cosine of the two products' sessions (sessions with both, over the square
root of the product of each one's sessions), plus the same for carts and purchases
(:data:`BOUGHT_WEIGHT`); *visual similarity* is the cosine of their closest photos (only
products with a positive one count). Ranks, not raw values, are fused because the two
cosines have nothing in common in scale, and the model's cosines differ from one model to the
next. A product without history (new, or rarely seen) has no co-occurrence, so its
recommendations are its look-alikes (cold start); with history the two lists take turns, a
product on both first.
Each recommendation says why: ``bought_together`` / ``viewed_together`` (with the number of
sessions and the product it was seen with) or ``looks_like``. For a shopper, each product of
their recent events (:func:`plugin.recommend.taste.recent_products`) votes with its weight,
the look-alikes are those of their weightiest products, and products they already saw are
left out; a shopper without history gets the most popular products.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError

from plugin.errors import IndexMissing, ProductNotFound
from plugin.opensearch.documents import (
    hit_id,
    knn_cosine,
    product_vectors,
    without_views,
)
from plugin.opensearch.takedowns import check_not_withheld, withheld_products
from plugin.recommend.cooccurrence import related_index
from plugin.recommend.taste import photo_vectors, recent_products
from plugin.search import builder
from plugin.search.fusion import RRF_K as SEARCH_RRF_K
from plugin.search.request import Filters, Query
from plugin.search.service import fetch_sources

#: Weight of the visual list against co-occurrence's (chosen by ``lookalike eval recommendations``).
VISUAL_WEIGHT = 1.0
#: Reciprocal rank fusion's constant, as :mod:`plugin.search.fusion` uses it.
RRF_K = SEARCH_RRF_K
#: Weight of carts and purchases together over views together.
BOUGHT_WEIGHT = 1.0
#: Co-occurring products read per seed product, and look-alikes read per photo.
CANDIDATES = 50
#: A shopper's products whose look-alikes are recommended: the weightiest.
SHOPPER_LOOKALIKE_SEEDS = 3


@dataclasses.dataclass(frozen=True)
class Recommendation:
    product_id: str
    score: float
    cooccurrence: float
    visual: float
    reason: dict[str, Any]
    #: The product's source (:data:`~plugin.opensearch.documents.SOURCE_FIELDS`), without gallery views.
    product: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)


def for_product(client: OpenSearch, alias: str, product_id: str, size: int = 10, visual_weight: float = VISUAL_WEIGHT) -> list[Recommendation]:
    """Up to *size* products to show beside *product_id*, best first. Raises :class:`ProductNotFound`."""
    try:
        source = client.get(index=alias, id=product_id, _source_includes=["images.vector", "images.view"])["_source"]
    except NotFoundError as exc:
        if "index_not_found" in str(exc):
            raise IndexMissing(f"the catalogue's index does not exist: {alias}") from exc
        raise ProductNotFound(f"no product has the id {product_id!r}") from exc
    check_not_withheld(client, alias, product_id)  # as its page and "more like this" are: 410
    vector = product_vectors(source)["image"]
    return _blend(client, alias, {product_id: 1.0}, [vector] if vector is not None else [], {product_id}, size, visual_weight)


def for_shopper(client: OpenSearch, alias: str, user: str, size: int = 10, visual_weight: float = VISUAL_WEIGHT) -> list[Recommendation]:
    """Up to *size* products for shopper *user* from their recent events, best first."""
    seeds = recent_products(client, alias, user)
    if not seeds:
        return most_popular(client, alias, size)
    # The look-alikes of the shopper's weightiest products, each its own list: a mean of shoes and bags looks like neither.
    weightiest = dict(sorted(seeds.items(), key=lambda pair: -pair[1])[:SHOPPER_LOOKALIKE_SEEDS])
    vectors = [vector for vector, _ in photo_vectors(client, alias, weightiest).values()]
    return _blend(client, alias, seeds, vectors, set(seeds), size, visual_weight)


def cooccurring(client: OpenSearch, alias: str, seeds: Mapping[str, float]) -> dict[str, tuple[float, dict[str, Any]]]:
    """The products seen with the *seeds* (product id to weight): each one's co-occurrence score and reason."""
    docs = _related_docs(client, alias, seeds, ["sessions", "together", "bought"])
    counts: dict[str, dict[str, tuple[float, float]]] = {}
    for seed, doc in docs.items():
        together, bought = doc.get("together") or {}, doc.get("bought") or {}
        nearest = sorted(together.items(), key=lambda pair: (-pair[1], pair[0]))[:CANDIDATES]
        counts[seed] = {other: (count, float(bought.get(other, 0.0))) for other, count in nearest}
    others = {other for found in counts.values() for other in found}
    sessions = {product: float(doc.get("sessions") or 0.0) for product, doc in _related_docs(client, alias, others, ["sessions"]).items()}
    out: dict[str, tuple[float, dict[str, Any]]] = {}
    for seed, found in counts.items():
        mine = float(docs[seed].get("sessions") or 0.0)
        for other, (together, bought) in found.items():
            norm = math.sqrt(mine * sessions.get(other, 0.0))
            if norm <= 0:
                continue
            part = seeds[seed] * (together + BOUGHT_WEIGHT * bought) / norm
            score, reason = out.get(other, (0.0, {}))
            if part > reason.get("_part", 0.0):
                kind = "bought_together" if bought else "viewed_together"
                reason = {"kind": kind, "with": seed, "sessions": int(bought or together), "_part": part}
            out[other] = (score + part, reason)
    return out


def looks_like(client: OpenSearch, alias: str, vector: np.ndarray, exclude: Iterable[str], size: int = CANDIDATES) -> dict[str, float]:
    """The *size* products whose photos are closest to *vector*, with their cosine, *exclude* left out."""
    query = Query(image_vector=vector.tolist(), weights={"image": 1.0}, window=size, size=min(size, 100))
    # Set after validation, as search withholds taken-down products: there may be more than a request may name.
    query = query.model_copy(update={"filters": Filters().model_copy(update={"exclude_ids": tuple(sorted(set(exclude)))})})
    body = builder.signal_queries(query)["image"]
    return {hit_id(hit): knn_cosine(hit) for hit in client.search(index=alias, body=body)["hits"]["hits"]}


def most_popular(client: OpenSearch, alias: str, size: int = 10, exclude: Iterable[str] = (), now: dt.datetime | None = None) -> list[Recommendation]:
    """The *size* products most popular from events now (decayed), *exclude* and withheld products left out."""
    now = now or dt.datetime.now(dt.timezone.utc)
    left_out = sorted(set(exclude) | withheld_products(client, alias))
    decay = (
        "double days = (params.now - doc['popularity_at'].value.toInstant().toEpochMilli()) / 86400000.0;"
        " return doc['popularity'].value * Math.pow(0.5, Math.max(days, 0) / doc['half_life_days'].value);"
    )
    body = {
        "size": size * 2 + 20,  # some may have left the catalogue
        "_source": False,
        "query": {"script_score": {"query": {"bool": {"must_not": [{"ids": {"values": left_out}}]}}, "script": {"source": decay, "params": {"now": int(now.timestamp() * 1000)}}}},
    }
    try:
        hits = client.search(index=related_index(alias), body=body)["hits"]["hits"]
    except NotFoundError:
        return []
    sources = _sources(client, alias, [hit["_id"] for hit in hits])
    ranked = [Recommendation(hit["_id"], float(hit["_score"]), 0.0, 0.0, {"kind": "popular"}, sources[hit["_id"]]) for hit in hits if hit["_id"] in sources]
    return ranked[:size]


def _blend(
    client: OpenSearch, alias: str, seeds: Mapping[str, float], vectors: list[np.ndarray], seen: set[str], size: int, visual_weight: float
) -> list[Recommendation]:
    """Co-occurrence with the *seeds* and look-alikes of *vectors* (the best cosine to any), fused by rank."""
    left_out = seen | withheld_products(client, alias)
    total = sum(seeds.values()) or 1.0
    together = {p: found for p, found in cooccurring(client, alias, {s: w / total for s, w in seeds.items()}).items() if p not in left_out}
    visual: dict[str, float] = {}
    for vector in vectors if visual_weight > 0 else []:
        for product, cosine in looks_like(client, alias, vector, left_out).items():
            if cosine > visual.get(product, 0.0):  # looking nothing alike is no reason
                visual[product] = cosine
    # Co-occurrence may name a product that has since left the catalogue: it must not take a rank.
    sources = _sources(client, alias, together.keys() | visual.keys())
    together = {product: found for product, found in together.items() if product in sources}
    behaviour_rank = {p: rank for rank, p in enumerate(sorted(together, key=lambda p: (-together[p][0], p)), start=1)}
    visual_rank = {p: rank for rank, p in enumerate(sorted(visual, key=lambda p: (-visual[p], p)), start=1)}
    scored = []
    for product in behaviour_rank.keys() | visual_rank.keys():
        cooccurrence, reason = together.get(product, (0.0, {}))
        similarity = visual.get(product, 0.0)
        score = (1 / (RRF_K + behaviour_rank[product]) if product in behaviour_rank else 0.0)
        score += visual_weight / (RRF_K + visual_rank[product]) if product in visual_rank else 0.0
        if not reason:
            reason = {"kind": "looks_like", "similarity": round(similarity, 4)}
        reason = {key: value for key, value in reason.items() if not key.startswith("_")}
        scored.append(Recommendation(product, score, cooccurrence, similarity, reason, sources[product]))
    # On a tie, what shoppers did goes first.
    scored.sort(key=lambda rec: (-rec.score, -rec.cooccurrence, rec.product_id))
    return scored[:size]


def _related_docs(client: OpenSearch, alias: str, ids: Iterable[str], fields: list[str]) -> dict[str, dict[str, Any]]:
    ids = sorted(set(ids))
    if not ids:
        return {}
    try:
        docs = client.mget(index=related_index(alias), body={"ids": ids}, _source_includes=fields)["docs"]
    except NotFoundError:
        return {}  # no event has been folded in yet
    return {doc["_id"]: doc["_source"] for doc in docs if doc.get("found")}


def _sources(client: OpenSearch, alias: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The sources of those of *ids* still in the catalogue, as a search's page has them, gallery views left out."""
    return {product: without_views(source) for product, source in fetch_sources(client, alias, sorted(set(ids))).items()}
