"""A :class:`~plugin.search.request.Query` as OpenSearch request bodies, and responses as results.

Pure functions, no network: each signal becomes its own query over the candidate window,
with the filters inside the k-NN search (efficient filtering: k results even under a
selective filter); sorts, facets and hits are shaped here too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from plugin.opensearch.documents import HIT_IDS, SOURCE_FIELDS, without_views
from plugin.search.fusion import FusedHit
from plugin.search.request import Query

SORTS: Mapping[str, list[dict[str, Any]] | None] = {
    "relevance": None,
    "price_asc": [{"price": {"order": "asc", "missing": "_last"}}],
    "price_desc": [{"price": {"order": "desc", "missing": "_last"}}],
    "popularity": [{"popularity": {"order": "desc", "missing": "_last"}}],
    "rating": [{"rating": {"order": "desc", "missing": "_last"}}],
    "newest": [{"created_at": {"order": "desc", "missing": "_last"}}],
}
#: Candidates each further region of a photo contributes (:mod:`plugin.search.regions`), and
#: its HNSW search breadth: a region matters only where it holds the product it matches best.
REGION_K = 20
REGION_EF_SEARCH = 64
#: Browsing without a photo or words shows the most popular products first.
BROWSE_SORT = [{"popularity": {"order": "desc", "missing": "_last"}}]
PRICE_RANGES = ((None, 25.0), (25.0, 50.0), (50.0, 100.0), (100.0, 250.0), (250.0, None))
#: Short fields the keyword signal matches, with their boosts; a typo is forgiven in them.
#: ``category.text`` matches a category path at any level ("Furniture", "Home & Garden").
KEYWORD_FIELDS = ["title^3", "brand.text^2", "category.text^2", "tags.text^2", "tags^2", "labels"]
#: Descriptions match exact words only: a fuzzy match in prose is mostly noise.
DESCRIPTION_FIELD = "description"
#: One typo forgiven in words of 4 to 7 letters, two from 8: shorter words have too many neighbours.
FUZZY = {"fuzziness": "AUTO:4,8", "prefix_length": 1}
#: A word matched only through a typo counts this much of an exact match ("compact" is not "computers").
FUZZY_BOOST = 0.25
#: Query words that say whether a product matched (the keyword signal's confidence); more are ignored.
MAX_TERMS = 10
#: The most hits a ``top_hits`` aggregation may bring (OpenSearch's ``index.max_inner_result_window``).
MAX_TOP_HITS = 100
#: Lucene's English stop words, which the analysers drop: they can never match, so they do not count.
STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these they "
    "this to was will with".split()
)


def signal_queries(query: Query) -> dict[str, dict[str, Any]]:
    """One search body per signal that the query has input for and a positive weight."""
    flt = query.filters.clause()
    inside, exclusions = query.filters.knn_parts()
    k = query.window
    out: dict[str, dict[str, Any]] = {}

    def knn(field: str, vector: list[float], k: int = k, ef_search: int = query.ef_search, boost: float = 1.0) -> dict[str, Any]:
        params: dict[str, Any] = {"vector": vector, "k": k, "method_parameters": {"ef_search": max(k, ef_search)}}
        if boost != 1.0:
            params["boost"] = boost
        if inside is not None:
            params["filter"] = inside
        found: dict[str, Any] = {"knn": {field: params}}
        if field.startswith("images."):
            found = {"nested": {"path": "images", "score_mode": "max", "query": found}}
        return {"bool": {"must": [found], "must_not": exclusions}} if exclusions else found

    if query.image_vector is not None and query.weights.get("image", 0) > 0:
        searched = knn("images.vector", query.image_vector)
        if query.image_regions:
            # A product scores the best match of any region of the photo (dis_max with no tie
            # breaker is the maximum): the region that holds it decides, the others add nothing.
            # A region finds the few products it holds, so its k-NN is narrower than the whole photo's.
            narrow = min(k, REGION_K)
            parts = [searched, *(knn("images.vector", part.vector, narrow, REGION_EF_SEARCH, part.weight) for part in query.image_regions)]
            searched = {"dis_max": {"queries": parts, "tie_breaker": 0.0}}
        out["image"] = {"size": k, **HIT_IDS, "query": searched}
    if query.text_image_vector is not None and query.weights.get("text_image", 0) > 0:
        out["text_image"] = {"size": k, **HIT_IDS, "query": knn("images.vector", query.text_image_vector)}
    if query.text_vector is not None and query.weights.get("text", 0) > 0:
        out["text"] = {"size": k, **HIT_IDS, "query": knn("text_vector", query.text_vector)}
    if query.text and query.weights.get("keywords", 0) > 0:
        out["keywords"] = {"size": k, **HIT_IDS, "query": keyword_query(query.text, flt)}
    return out


#: A word as the standard tokenizer keeps it: "2.4ghz", "don't" and "men's" are one word each.
WORD = re.compile(r"\w+(?:[.'’]\w+)*")


def query_terms(text: str) -> list[str]:
    """The words of *text* that can match, each once, as the keyword signal counts them.

    Split as the analyser splits, possessives dropped as it drops them, so no word is
    counted that no product could ever match.
    """
    words = (re.sub(r"['’]s$", "", word) for word in WORD.findall(text.lower()))
    return list(dict.fromkeys(word for word in words if word not in STOP_WORDS))[:MAX_TERMS]


def keyword_query(text: str, flt: dict[str, Any]) -> dict[str, Any]:
    """BM25 over the product's words, with one named clause per query word.

    The named clauses add nothing to the score (boost 0); OpenSearch lists those a product
    matched (``matched_queries``), which tells fusion how many of the words it has.
    """
    scored = [
        {"multi_match": {"query": text, "fields": KEYWORD_FIELDS}},
        {"multi_match": {"query": text, "fields": KEYWORD_FIELDS, **FUZZY, "boost": FUZZY_BOOST}},
        {"match": {DESCRIPTION_FIELD: {"query": text}}},
    ]
    named = [
        {
            "bool": {
                "should": [
                    {"multi_match": {"query": term, "fields": KEYWORD_FIELDS, **FUZZY}},
                    {"match": {DESCRIPTION_FIELD: {"query": term}}},
                ],
                "boost": 0,
                "_name": f"term:{number}",
            }
        }
        for number, term in enumerate(query_terms(text))
    ]
    return {"bool": {"must": [{"bool": {"should": scored, "minimum_should_match": 1}}], "should": named, "filter": [flt]}}


def browse_body(query: Query) -> dict[str, Any]:
    """No photo and no words: the filtered catalogue in the requested order."""
    body: dict[str, Any] = {
        "from": (query.page - 1) * query.size, "size": query.size, "_source": SOURCE_FIELDS,
        "query": query.filters.clause(), "sort": [*(SORTS[query.sort] or BROWSE_SORT), {"product_id": "asc"}],
        "track_total_hits": True,
    }
    if query.facets:
        body["aggs"] = aggregations(query.predicted_facets)
    return body


def sorted_page_body(query: Query, ids: list[str]) -> dict[str, Any]:
    """One page of the result set *ids* in a field order (price, popularity, ...)."""
    body: dict[str, Any] = {
        "from": (query.page - 1) * query.size, "size": query.size, "_source": SOURCE_FIELDS,
        "query": {"ids": {"values": ids}}, "sort": [*(SORTS[query.sort] or []), {"product_id": "asc"}],
    }
    if query.facets:
        body["aggs"] = aggregations(query.predicted_facets)
    return body


def with_page_sources(body: dict[str, Any], start: int, size: int) -> dict[str, Any]:
    """A signal's *body* that also brings the sources of its own hits *start* to *start* + *size*.

    The hits stay ids and scores for the whole window; only the page's sources are read,
    in the same request (reading a product's source parses its vectors too, so reading the
    whole window's would cost more than a second request).
    """
    return body | {"aggs": {"page": {"top_hits": {"from": start, "size": size, "_source": SOURCE_FIELDS}}}}


def page_sources(response: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The sources a :func:`with_page_sources` body brought, by product id."""
    hits = response.get("aggregations", {}).get("page", {}).get("hits", {}).get("hits", [])
    return {hit["_id"]: hit["_source"] for hit in hits}


def ids_body(ids: list[str]) -> dict[str, Any]:
    """The sources of the products *ids*, in no particular order."""
    return {"size": len(ids), "_source": SOURCE_FIELDS, "query": {"ids": {"values": ids}}}


def dup_groups_body(ids: list[str]) -> dict[str, Any]:
    """The near-duplicate group of each of the products *ids*, from doc values (no source read)."""
    return {"size": len(ids), "stored_fields": "_none_", "docvalue_fields": ["product_id", "dup_group"], "query": {"ids": {"values": ids}}}


def facets_body(ids: list[str], predicted: bool = False) -> dict[str, Any]:
    """The facets of the result set *ids*, without its hits."""
    return {"size": 0, "query": {"ids": {"values": ids}}, "aggs": aggregations(predicted)}


def aggregations(predicted: bool = False) -> dict[str, Any]:
    """The facets' aggregations; with *predicted*, the predicted categories and tags too."""
    ranges = [{k: v for k, v in (("from", lo), ("to", hi)) if v is not None} for lo, hi in PRICE_RANGES]
    aggs: dict[str, Any] = {
        "tags": {"terms": {"field": "tags", "size": 30}},
        "brand": {"terms": {"field": "brand", "size": 30}},
        "category": {"terms": {"field": "category_path", "size": 50}},
        "price": {"range": {"field": "price", "ranges": ranges}},
    }
    if predicted:
        aggs["predicted_category"] = {"terms": {"field": "predicted_category", "size": 50}}
        aggs["predicted_tags"] = {"terms": {"field": "predicted_tags", "size": 30}}
    return aggs


def facets(response: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    aggs = response.get("aggregations", {})
    terms = [name for name in ("tags", "brand", "category", "predicted_category", "predicted_tags") if name in aggs]
    out = {name: [{"value": b["key"], "count": b["doc_count"]} for b in aggs[name]["buckets"]] for name in terms}
    out["price"] = [{"from": b.get("from"), "to": b.get("to"), "count": b["doc_count"]} for b in aggs["price"]["buckets"]]
    return out


def hit(source: dict[str, Any], fused: FusedHit | None, explain: bool) -> dict[str, Any]:
    out = dict(without_views(source))
    if fused is not None:
        out["score"] = round(fused.score, 6)
        if explain:
            out["explain"] = {"fused_score": fused.score, "signals": fused.signals}
    return out
