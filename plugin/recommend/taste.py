"""A shopper's taste and the products' popularity, as the ranking profiles read them.

A shopper's taste is the products of their latest events (:data:`RECENT_EVENTS`), each weighed
by its events' types (:data:`~plugin.recommend.cooccurrence.EVENT_WEIGHTS`) and by how recent
they are (:data:`RECENCY` per older event). The ``personal`` profile raises each candidate by how
close its photos are to those products' (:func:`personal_scores`), scaled over the candidates
from 0 (the farthest) to 1 (the closest), so the same weight means the same push whatever the
model's cosines look like. Popularity from events is the decayed sum kept by
:mod:`plugin.recommend.cooccurrence`, added to the shop's own ``popularity`` by the ``popular`` profile.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Mapping, Sequence

import numpy as np
from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError

from plugin.opensearch.client import answer_error
from plugin.opensearch.documents import knn_cosine, product_vectors
from plugin.recommend.cooccurrence import (
    EVENT_WEIGHTS,
    events_pattern,
    popularity_now,
    related_index,
)

#: A shopper's events their taste is read from: the latest, newest first.
RECENT_EVENTS = 50
#: Each older event counts this much less than the one after it.
RECENCY = 0.9
#: The shopper's products that vote on a candidate's closeness: the most weighty.
TASTE_PRODUCTS = 10
#: How sharply closeness falls with distance: the neighbour vote's temperature (:mod:`plugin.tagging.vote`).
TEMPERATURE = 0.05


def recent_products(client: OpenSearch, alias: str, user: str, limit: int = RECENT_EVENTS) -> dict[str, float]:
    """The products of *user*'s latest events, each weighted by its events' types and recency."""
    body = {"size": limit, "query": {"term": {"user": user}}, "sort": [{"at": "desc"}], "_source": ["product_id", "type"]}
    response = client.search(index=events_pattern(alias), body=body, params={"ignore_unavailable": "true"})
    weights: dict[str, float] = {}
    for age, hit in enumerate(response["hits"]["hits"]):
        product = hit["_source"]["product_id"]
        weights[product] = weights.get(product, 0.0) + EVENT_WEIGHTS.get(hit["_source"]["type"], 1.0) * RECENCY**age
    return weights


def personal_scores(client: OpenSearch, alias: str, user: str, ids: Sequence[str], category_weight: float = 0.0) -> dict[str, float]:
    """How close each of *ids* is to *user*'s recent products, from 0 (the farthest of them) to 1
    (the closest); empty when the shopper has no history.

    Closeness is a vote of the shopper's products (:data:`TASTE_PRODUCTS` at most), each by its
    weight times ``exp((cosine - 1) / TEMPERATURE)``: a candidate close to any one of them scores
    high, so a shopper who looks at shoes and at bags is not given their mean, which is neither.
    With *category_weight* (0 to 1), that share of the closeness is instead the weight of the
    candidate's category among the shopper's products: taste by the shop's categories, not only by
    look. When none of the shopper's products has a category, taste is by look alone.
    """
    weights = dict(sorted(recent_products(client, alias, user).items(), key=lambda pair: -pair[1])[:TASTE_PRODUCTS])
    if not weights or not ids:
        return {}
    share = min(category_weight, 1.0)  # a share: more than all of it means all of it
    # Taste by category alone reads the categories only, not the photos' vectors.
    seen = photo_vectors(client, alias, weights) if share < 1 else {}
    categories_seen = {p: c for p, (_, c) in seen.items()} if share < 1 else _categories(client, alias, list(weights))
    if not categories_seen:
        return {}  # none of the shopper's products is in the catalogue
    liked: dict[str, float] = {}
    for product, category in categories_seen.items():
        if category:
            liked[category] = liked.get(category, 0.0) + weights[product]
    if not liked:  # without categories, taste is by look alone
        share = 0.0
        seen = seen or photo_vectors(client, alias, weights)
    closeness: dict[str, float] = {}
    if share < 1 and seen:  # the look's exact k-NN searches are most of the profile's cost: skipped when unused
        found = _closeness_many(client, alias, [vector for vector, _ in seen.values()], ids)
        votes = {product: 0.0 for product in ids}
        for weight, cosines in zip((weights[p] for p in seen), found):
            for product, cosine in cosines.items():
                votes[product] += weight * math.exp((cosine - 1) / TEMPERATURE)
        closeness = _scaled(votes)
    affinity: dict[str, float] = {}
    if share > 0:
        categories = _categories(client, alias, ids)
        affinity = _scaled({product: liked.get(categories.get(product, ""), 0.0) for product in ids})
    return {product: (1 - share) * closeness.get(product, 0.0) + share * affinity.get(product, 0.0) for product in ids}


def _scaled(values: Mapping[str, float]) -> dict[str, float]:
    """*values* mapped linearly onto 0 (the lowest) to 1 (the highest); all 0 when they are equal."""
    low, high = min(values.values()), max(values.values())
    spread = high - low
    return {key: (value - low) / spread if spread > 1e-12 else 0.0 for key, value in values.items()}


def _categories(client: OpenSearch, alias: str, ids: Sequence[str]) -> dict[str, str]:
    body = {"size": len(ids), "_source": False, "docvalue_fields": ["category"], "query": {"ids": {"values": list(ids)}}}
    hits = client.search(index=alias, body=body)["hits"]["hits"]
    return {hit["_id"]: hit.get("fields", {}).get("category", [""])[0] for hit in hits}


def photo_vectors(client: OpenSearch, alias: str, ids: Collection[str]) -> dict[str, tuple[np.ndarray, str]]:
    """The unit mean photo vector, and the category, of each product of *ids* that has a photo."""
    if not ids:
        return {}
    body = {"size": len(ids), "query": {"ids": {"values": list(ids)}}, "_source": ["images.vector", "images.view", "category"]}
    out = {}
    for hit in client.search(index=alias, body=body)["hits"]["hits"]:
        image = product_vectors(hit["_source"])["image"]
        if image is not None:
            out[hit["_id"]] = (image, hit["_source"].get("category") or "")
    return out


def _closeness_many(client: OpenSearch, alias: str, vectors: Sequence[np.ndarray], ids: Sequence[str]) -> list[dict[str, float]]:
    """For each of *vectors*, each product of *ids*' cosine to it, in one ``_msearch``."""
    if not ids or not vectors:
        return [{} for _ in vectors]
    lines: list[dict[str, object]] = []
    for vector in vectors:
        # Filtered to fewer products than k, the k-NN search scores every one of them exactly.
        knn = {"images.vector": {"vector": vector.tolist(), "k": len(ids), "filter": {"ids": {"values": list(ids)}}}}
        lines += ({"index": alias}, {"size": len(ids), "_source": False, "query": {"nested": {"path": "images", "score_mode": "max", "query": {"knn": knn}}}})
    out = []
    for response in client.msearch(body=lines)["responses"]:
        if "error" in response:
            raise answer_error(response.get("status"), response["error"])
        out.append({hit["_id"]: knn_cosine(hit) for hit in response["hits"]["hits"]})
    return out


def event_popularity(client: OpenSearch, alias: str, ids: Sequence[str], now: dt.datetime | None = None) -> dict[str, float]:
    """Each of *ids*' popularity from events, decayed to *now*; products without events are left out."""
    if not ids:
        return {}
    now = now or dt.datetime.now(dt.timezone.utc)
    try:
        docs = client.mget(index=related_index(alias), body={"ids": list(ids)}, _source_includes=["popularity", "popularity_at", "half_life_days"])["docs"]
    except NotFoundError:
        return {}  # no event has been folded in yet
    return {doc["_id"]: popularity_now(doc["_source"], now) for doc in docs if doc.get("found")}
