"""Run a :class:`~plugin.search.request.Query`: signals, fusion, profile, collapse, page, facets.

Independent of Flask, so any front end can use it. The signals run in one ``_msearch``
round trip and :mod:`plugin.search.fusion` merges their lists; then up to three more
requests follow as the query asks: the ranking profile's rescore, the near-duplicate
collapse, and the page itself (an ``mget`` in relevance order, or a sorted search, each
with the facets). Pages are slices of the fused list, so a product's position does not
depend on the page size. Facets count the whole result set (the fused candidates that pass
``min_score``), not one page.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from opensearchpy import OpenSearch

from plugin.errors import SearchFailed
from plugin.opensearch.documents import SOURCE_FIELDS
from plugin.search import builder
from plugin.search.fusion import FusedHit, SignalHit, fuse
from plugin.search.profiles import PROFILES, rescore
from plugin.search.ranking import DEFAULT_RANKING, RankingSettings
from plugin.search.request import Query


@dataclasses.dataclass
class SearchResult:
    total: int
    hits: list[dict[str, Any]]
    facets: dict[str, list[dict[str, Any]]]


def search(client: OpenSearch, index: str, query: Query, ranking: RankingSettings = DEFAULT_RANKING) -> SearchResult:
    """Run *query* against *index* (an alias) and return one page of products.

    *ranking* supplies the weights and fusion method the query leaves out.
    """
    query = ranking.resolve(query)
    if not builder.signal_queries(query):
        return _browse(client, index, query)
    fused = rank(fetch_signals(client, index, query), query, ranking)
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
    facets: dict[str, list[dict[str, Any]]] = {}
    if query.sort == "relevance":
        start = (query.page - 1) * query.size
        page_ids = ids[start : start + query.size]
        sources = _fetch(client, index, page_ids)
        if query.facets and ids:
            body = {"size": 0, "query": {"ids": {"values": ids}}, "aggs": builder.aggregations()}
            facets = builder.facets(client.search(index=index, body=body))
    else:
        response = client.search(index=index, body=builder.sorted_page_body(query, ids))
        page_ids = [hit["_id"] for hit in response["hits"]["hits"]]
        sources = {hit["_id"]: hit["_source"] for hit in response["hits"]["hits"]}
        facets = builder.facets(response) if query.facets else {}
    hits = [builder.hit(sources[pid], by_id[pid], query.explain) for pid in page_ids if pid in sources]
    return SearchResult(total=len(ids), hits=hits, facets=facets)


def fetch_signals(client: OpenSearch, index: str, query: Query) -> dict[str, list[SignalHit]]:
    """Each signal's candidates for *query* (its weights resolved), in one ``_msearch`` round trip."""
    signals = builder.signal_queries(query)
    if not signals:
        return {}
    responses = client.msearch(body=[line for name in signals for line in ({"index": index}, signals[name])])["responses"]
    terms = len(builder.query_terms(query.text or ""))
    ranked: dict[str, list[SignalHit]] = {}
    for name, response in zip(signals, responses):
        if "error" in response:
            raise SearchFailed(f"the {name} signal failed: {response['error']}")
        ranked[name] = [_signal_hit(hit, name, terms) for hit in response["hits"]["hits"]]
    return ranked


def rank(ranked: dict[str, list[SignalHit]], query: Query, ranking: RankingSettings) -> list[FusedHit]:
    """The signals' candidates fused as *ranking* says, for *query* resolved by it."""
    confidence = {"text_image": ranking.params.bridge_confidence(query.text_image_similarity)}
    return fuse(ranked, query.weights, query.fusion or ranking.fusion, ranking.params, confidence)


def _signal_hit(hit: dict[str, Any], signal: str, terms: int) -> SignalHit:
    """One hit of *signal*'s response; a keyword hit carries the share of the query's *terms* it matched."""
    if signal != "keywords":
        return SignalHit(hit["_id"], float(hit["_score"]))
    matched = sum(1 for name in hit.get("matched_queries", ()) if name.startswith("term:"))
    return SignalHit(hit["_id"], float(hit["_score"]), matched / terms if terms else 1.0)


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


def _browse(client: OpenSearch, index: str, query: Query) -> SearchResult:
    response = client.search(index=index, body=builder.browse_body(query))
    hits = [builder.hit(hit["_source"], None, False) for hit in response["hits"]["hits"]]
    facets = builder.facets(response) if query.facets else {}
    return SearchResult(total=response["hits"]["total"]["value"], hits=hits, facets=facets)


def _fetch(client: OpenSearch, index: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    docs = client.mget(index=index, body={"ids": ids}, _source_includes=SOURCE_FIELDS)["docs"]
    return {doc["_id"]: doc["_source"] for doc in docs if doc.get("found")}
