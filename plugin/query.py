"""The hybrid query: image similarity, text similarity and keywords, filtered, fused, sorted, faceted.

Independent of Flask, so any front end can use it. Every signal runs as its own OpenSearch
query over a fixed candidate window, with the filters *inside* the k-NN search (efficient
filtering: k results even under a selective filter), all in one ``_msearch`` round trip.
:mod:`plugin.fusion` merges the lists; pages are slices of the fused list, so a product's
position does not depend on the page size. Facets are counted over the whole result set
(the fused candidates that pass ``min_score``), not over one page.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from opensearchpy import OpenSearch

from plugin.fusion import FusedHit, SignalHit, fuse
from plugin.ranking_profiles import PROFILES, rescore

SIGNALS = ("image", "text", "text_image", "keywords")
DEFAULT_WEIGHTS: Mapping[str, float] = {"image": 1.0, "text": 1.0, "text_image": 0.5, "keywords": 1.0}
SORTS: Mapping[str, list[dict[str, Any]] | None] = {
    "relevance": None,
    "price_asc": [{"price": {"order": "asc", "missing": "_last"}}],
    "price_desc": [{"price": {"order": "desc", "missing": "_last"}}],
    "popularity": [{"popularity": {"order": "desc", "missing": "_last"}}],
    "rating": [{"rating": {"order": "desc", "missing": "_last"}}],
    "newest": [{"created_at": {"order": "desc", "missing": "_last"}}],
}
PRICE_RANGES = ((None, 25.0), (25.0, 50.0), (50.0, 100.0), (100.0, 250.0), (250.0, None))
#: Fields returned with each hit; vectors stay in the index.
SOURCE_FIELDS = [
    "product_id", "title", "brand", "category", "tags", "labels", "price", "currency", "in_stock",
    "popularity", "rating", "product_url", "images.url", "images.fingerprint",
]


@dataclasses.dataclass(frozen=True)
class Filters:
    #: A category and everything below it, e.g. ``Women > Shoes``.
    category: str | None = None
    brands: tuple[str, ...] = ()
    tags_any: tuple[str, ...] = ()
    tags_all: tuple[str, ...] = ()
    tags_none: tuple[str, ...] = ()
    price_min: float | None = None
    price_max: float | None = None
    in_stock: bool | None = None
    rating_min: float | None = None
    #: Products never to return (the product itself, for "more like this").
    exclude_ids: tuple[str, ...] = ()

    def clause(self) -> dict[str, Any]:
        """One ``bool`` query that every signal applies inside its own search."""
        must: list[dict[str, Any]] = []
        must_not: list[dict[str, Any]] = []
        if self.category:
            must.append({"term": {"category_path": self.category}})
        if self.brands:
            must.append({"terms": {"brand": list(self.brands)}})
        if self.tags_any:
            must.append({"terms": {"tags": [t.lower() for t in self.tags_any]}})
        must.extend({"term": {"tags": t.lower()}} for t in self.tags_all)
        if self.tags_none:
            must_not.append({"terms": {"tags": [t.lower() for t in self.tags_none]}})
        if self.price_min is not None or self.price_max is not None:
            bounds = {k: v for k, v in (("gte", self.price_min), ("lte", self.price_max)) if v is not None}
            must.append({"range": {"price": bounds}})
        if self.in_stock is not None:
            must.append({"term": {"in_stock": self.in_stock}})
        if self.rating_min is not None:
            must.append({"range": {"rating": {"gte": self.rating_min}}})
        if self.exclude_ids:
            must_not.append({"ids": {"values": list(self.exclude_ids)}})
        return {"bool": {"filter": must, "must_not": must_not}}

    def knn_parts(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The positive clauses, to run inside k-NN, and the exclusions, to apply after it.

        Inside k-NN (nested image vectors above all), exclusions were found not to work: a
        filter made only of ``must_not`` clauses filtered nothing, and adding a positive
        clause that every product matches removed everything. Exclusions are rarely
        selective, so applying them to the k-NN result costs little recall.
        """
        clause = self.clause()["bool"]
        inside = {"bool": {"filter": clause["filter"]}} if clause["filter"] else None
        return inside, clause["must_not"]


@dataclasses.dataclass(frozen=True)
class Query:
    image_vector: list[float] | None = None
    text: str | None = None
    text_vector: list[float] | None = None
    #: The text mapped into the image space (CLIP's own text vector, or the offline bridge).
    text_image_vector: list[float] | None = None
    weights: Mapping[str, float] = dataclasses.field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    filters: Filters = Filters()
    fusion: str = "rrf"
    sort: str = "relevance"
    page: int = 1
    size: int = 20
    min_score: float | None = None
    facets: bool = False
    explain: bool = False
    #: A ranking profile (:mod:`plugin.ranking_profiles`) and parameters overriding its defaults.
    profile: str | None = None
    profile_params: Mapping[str, float] | None = None
    #: Show one product per near-duplicate group (same perceptual hash of the main photo).
    collapse_duplicates: bool = False
    #: Candidates each signal contributes, and the deepest result a page can reach. k-NN cost
    #: grows with it: on 60,000 products a photo search took 20 ms at 100 and 32 ms at 200.
    window: int = 100

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise ValueError(f"sort must be one of {', '.join(SORTS)}")
        if self.profile is not None and self.profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}")
        if not 1 <= self.size <= 100 or self.page < 1:
            raise ValueError("size must be 1..100 and page at least 1")
        if self.page * self.size > self.window:
            raise ValueError(f"page * size must not exceed {self.window}")


@dataclasses.dataclass
class SearchResult:
    total: int
    hits: list[dict[str, Any]]
    facets: dict[str, list[dict[str, Any]]]


def search(client: OpenSearch, index: str, query: Query) -> SearchResult:
    """Run *query* against *index* (an alias) and return one page of products."""
    signals = _signal_queries(query)
    if not signals:
        return _browse(client, index, query)
    responses = client.msearch(
        body=[line for name in signals for line in ({"index": index}, signals[name])],
    )["responses"]
    ranked: dict[str, list[SignalHit]] = {}
    for name, response in zip(signals, responses):
        if "error" in response:
            raise RuntimeError(f"signal {name} failed: {response['error']}")
        ranked[name] = [SignalHit(hit["_id"], float(hit["_score"])) for hit in response["hits"]["hits"]]
    fused = fuse(ranked, query.weights, query.fusion)
    if query.min_score is not None:
        fused = [hit for hit in fused if hit.score >= query.min_score]
    # The result set is the best `window` products: all that pages can reach, and what facets count.
    fused = fused[: query.window]
    if query.profile is not None:
        fused = _apply_profile(client, index, query, fused)
    if query.collapse_duplicates:
        fused = _collapse_duplicates(client, index, fused)
    ids = [hit.product_id for hit in fused]
    by_id = {hit.product_id: hit for hit in fused}
    start = (query.page - 1) * query.size
    facets: dict[str, list[dict[str, Any]]] = {}
    if query.sort == "relevance":
        page_ids = ids[start : start + query.size]
        sources = _fetch(client, index, page_ids)
        if query.facets and ids:
            facets = _facets(client.search(index=index, body={"size": 0, "query": {"ids": {"values": ids}}, "aggs": _aggs()}))
    else:
        body: dict[str, Any] = {
            "from": start, "size": query.size, "_source": SOURCE_FIELDS, "query": {"ids": {"values": ids}},
            "sort": [*SORTS[query.sort], {"product_id": "asc"}],  # type: ignore[misc]
        }
        if query.facets:
            body["aggs"] = _aggs()
        response = client.search(index=index, body=body)
        page_ids = [hit["_id"] for hit in response["hits"]["hits"]]
        sources = {hit["_id"]: hit["_source"] for hit in response["hits"]["hits"]}
        facets = _facets(response) if query.facets else {}
    hits = [_hit(sources[pid], by_id[pid], query.explain) for pid in page_ids if pid in sources]
    return SearchResult(total=len(ids), hits=hits, facets=facets)


def _collapse_duplicates(client: OpenSearch, index: str, fused: list[FusedHit]) -> list[FusedHit]:
    """Keep the best-ranked product of each near-duplicate group."""
    if not fused:
        return fused
    response = client.search(
        index=index,
        body={"size": len(fused), "_source": ["dup_group"], "query": {"ids": {"values": [h.product_id for h in fused]}}},
    )
    groups = {hit["_id"]: hit["_source"].get("dup_group") for hit in response["hits"]["hits"]}
    seen: set[str] = set()
    kept = []
    for hit in fused:
        group = groups.get(hit.product_id)
        if group is not None and group in seen:
            continue
        if group is not None:
            seen.add(group)
        kept.append(hit)
    return kept


def _apply_profile(client: OpenSearch, index: str, query: Query, fused: list[FusedHit]) -> list[FusedHit]:
    by_id = {hit.product_id: hit for hit in fused}
    reranked = rescore(client, index, PROFILES[query.profile or ""], {h.product_id: h.score for h in fused}, query.profile_params)
    out = []
    for product_id, score in reranked:
        hit = by_id[product_id]
        factor = score / hit.score if hit.score else 0.0
        out.append(dataclasses.replace(hit, score=score, signals={**hit.signals, "profile": {"name": query.profile, "factor": factor}}))  # type: ignore[dict-item]
    return out


def _signal_queries(query: Query) -> dict[str, dict[str, Any]]:
    flt = query.filters.clause()
    inside, exclusions = query.filters.knn_parts()
    k = query.window
    out: dict[str, dict[str, Any]] = {}

    def knn(field: str, vector: list[float]) -> dict[str, Any]:
        params: dict[str, Any] = {"vector": vector, "k": k}
        if inside is not None:
            params["filter"] = inside
        found: dict[str, Any] = {"knn": {field: params}}
        if field.startswith("images."):
            found = {"nested": {"path": "images", "score_mode": "max", "query": found}}
        return {"bool": {"must": [found], "must_not": exclusions}} if exclusions else found

    if query.image_vector is not None and query.weights.get("image", 0) > 0:
        out["image"] = {"size": k, "_source": False, "query": knn("images.vector", query.image_vector)}
    if query.text_image_vector is not None and query.weights.get("text_image", 0) > 0:
        out["text_image"] = {"size": k, "_source": False, "query": knn("images.vector", query.text_image_vector)}
    if query.text_vector is not None and query.weights.get("text", 0) > 0:
        out["text"] = {"size": k, "_source": False, "query": knn("text_vector", query.text_vector)}
    if query.text and query.weights.get("keywords", 0) > 0:
        match = {"multi_match": {"query": query.text, "fields": ["title^3", "brand.text^2", "tags^2", "labels", "description"]}}
        out["keywords"] = {"size": k, "_source": False, "query": {"bool": {"must": [match], "filter": [flt]}}}
    return out


def _browse(client: OpenSearch, index: str, query: Query) -> SearchResult:
    """No photo and no words: the filtered catalogue in the requested order."""
    sort = SORTS[query.sort] or [{"popularity": {"order": "desc", "missing": "_last"}}]
    body: dict[str, Any] = {
        "from": (query.page - 1) * query.size, "size": query.size, "_source": SOURCE_FIELDS,
        "query": query.filters.clause(), "sort": [*sort, {"product_id": "asc"}], "track_total_hits": True,
    }
    if query.facets:
        body["aggs"] = _aggs()
    response = client.search(index=index, body=body)
    hits = [_hit(hit["_source"], None, False) for hit in response["hits"]["hits"]]
    return SearchResult(total=response["hits"]["total"]["value"], hits=hits, facets=_facets(response) if query.facets else {})


def _fetch(client: OpenSearch, index: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    docs = client.mget(index=index, body={"ids": ids}, _source_includes=SOURCE_FIELDS)["docs"]
    return {doc["_id"]: doc["_source"] for doc in docs if doc.get("found")}


def _aggs() -> dict[str, Any]:
    ranges = [{k: v for k, v in (("from", lo), ("to", hi)) if v is not None} for lo, hi in PRICE_RANGES]
    return {
        "tags": {"terms": {"field": "tags", "size": 30}},
        "brand": {"terms": {"field": "brand", "size": 30}},
        "category": {"terms": {"field": "category_path", "size": 50}},
        "price": {"range": {"field": "price", "ranges": ranges}},
    }


def _facets(response: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    aggs = response.get("aggregations", {})
    facets = {name: [{"value": b["key"], "count": b["doc_count"]} for b in aggs[name]["buckets"]] for name in ("tags", "brand", "category")}
    facets["price"] = [
        {"from": b.get("from"), "to": b.get("to"), "count": b["doc_count"]} for b in aggs["price"]["buckets"]
    ]
    return facets


def _hit(source: dict[str, Any], fused: FusedHit | None, explain: bool) -> dict[str, Any]:
    hit = dict(source)
    if fused is not None:
        hit["score"] = round(fused.score, 6)
        if explain:
            hit["explain"] = {"fused_score": fused.score, "signals": fused.signals}
    return hit
