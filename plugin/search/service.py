"""Run a :class:`~plugin.search.request.Query`: signals, fusion, profile, collapse, page, facets.

Independent of Flask, so any front end can use it. The signals run in one ``_msearch``
round trip, their hits only ids and scores, and :mod:`plugin.search.fusion` merges their
lists. A query of one signal (a photo alone, say) in relevance order, with no profile and
no collapse, needs nothing more: its search also brings the sources of the page (a
``top_hits`` aggregation), and only a product that a tie moved onto the page is fetched
after. Otherwise up to three more requests follow as the query asks: the ranking profile's
rescore, the near-duplicate collapse, and the page itself (by id in relevance order, or a
sorted search with the facets); facets in relevance order are one more search, made only
when asked. Pages are slices of the fused list, so a product's position does not depend on
the page size. Facets count the whole result set (the fused candidates that pass
``min_score``), not one page.

Each stage is timed with :func:`plugin.timing.stage` (``signals``, ``fusion``,
``profile``, ``collapse``, ``page``, ``facets``, ``browse``) for whoever records them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import TransportError

from plugin.errors import LookalikeError
from plugin.opensearch.client import answer_error, lost_a_node
from plugin.opensearch.documents import hit_id
from plugin.opensearch.takedowns import withheld_products
from plugin.recommend.taste import event_popularity, personal_scores
from plugin.search import builder
from plugin.search.fusion import FusedHit, SignalHit, fuse
from plugin.search.profiles import PROFILES, rescore
from plugin.search.ranking import DEFAULT_RANKING, RankingSettings
from plugin.search.request import Query
from plugin.timing import stage

Sources = dict[str, dict[str, Any]]


@dataclasses.dataclass
class SearchResult:
    total: int
    hits: list[dict[str, Any]]
    facets: dict[str, list[dict[str, Any]]]


def search(client: OpenSearch, index: str, query: Query, ranking: RankingSettings = DEFAULT_RANKING) -> SearchResult:
    """Run *query* against *index* (an alias) and return one page of products.

    *ranking* supplies the weights and fusion method the query leaves out. A search the
    cluster fails because it has just lost a node is run again (up to :data:`NODE_LOST_RETRIES`
    times, a moment apart): a lost node costs a retry, not an error.
    """
    for wait in NODE_LOST_WAITS:
        try:
            return _search(client, index, query, ranking)
        except (TransportError, LookalikeError) as exc:
            if not lost_a_node(exc):
                raise
            time.sleep(wait)
    return _search(client, index, query, ranking)


def _search(client: OpenSearch, index: str, query: Query, ranking: RankingSettings) -> SearchResult:
    with stage("takedowns"):
        query = _withhold(query, withheld_products(client, index))
    query = ranking.resolve(query)
    signals = builder.signal_queries(query)
    if not signals:
        with stage("browse"):
            return _browse(client, index, query)
    start = (query.page - 1) * query.size
    with stage("signals"):
        ranked, prefetched = _run_signals(client, index, query, signals, _prefetch(query, signals, start))
    with stage("fusion"):
        fused = rank(ranked, query, ranking)
        if query.min_score is not None:
            fused = [hit for hit in fused if hit.score >= query.min_score]
        # The result set is the best `window` products: all that pages can reach, and what facets count.
        fused = fused[: query.window]
    if query.profile is not None:
        with stage("profile"):
            fused = _apply_profile(client, index, query, fused)
    if query.collapse_duplicates:
        with stage("collapse"):
            fused = _collapse_duplicates(client, index, fused)
    ids = [hit.product_id for hit in fused]
    by_id = {hit.product_id: hit for hit in fused}
    facets: dict[str, list[dict[str, Any]]] = {}
    if query.sort == "relevance":
        with stage("page"):
            page_ids = ids[start : start + query.size]
            missing = [pid for pid in page_ids if pid not in prefetched]
            sources = prefetched | fetch_sources(client, index, missing) if missing else prefetched
            hits = [builder.hit(sources[pid], by_id[pid], query.explain) for pid in page_ids if pid in sources]
        if query.facets and ids:
            with stage("facets"):
                facets = builder.facets(client.search(index=index, body=builder.facets_body(ids, query.predicted_facets)))
    else:
        with stage("page"):
            response = client.search(index=index, body=builder.sorted_page_body(query, ids))
            page = response["hits"]["hits"]
            hits = [builder.hit(hit["_source"], by_id[hit["_id"]], query.explain) for hit in page]
            facets = builder.facets(response) if query.facets else {}
    return SearchResult(total=len(ids), hits=hits, facets=facets)


#: Seconds between the tries of a search that met a lost node (the cluster notices within a few seconds).
NODE_LOST_WAITS = (0.25, 0.5, 1.0)
NODE_LOST_RETRIES = len(NODE_LOST_WAITS)


def _withhold(query: Query, withheld: frozenset[str]) -> Query:
    """*query* excluding the products under an active takedown, whatever the request asked."""
    if not withheld:
        return query
    excluded = tuple(dict.fromkeys((*query.filters.exclude_ids, *sorted(withheld))))
    return query.model_copy(update={"filters": query.filters.model_copy(update={"exclude_ids": excluded})})


def fetch_signals(client: OpenSearch, index: str, query: Query) -> dict[str, list[SignalHit]]:
    """Each signal's candidates for *query* (its weights resolved), in one ``_msearch`` round trip."""
    signals = builder.signal_queries(query)
    return _run_signals(client, index, query, signals, None)[0] if signals else {}


def rank(ranked: dict[str, list[SignalHit]], query: Query, ranking: RankingSettings) -> list[FusedHit]:
    """The signals' candidates fused as *ranking* says, for *query* resolved by it."""
    confidence = {"text_image": ranking.params.bridge_confidence(query.text_image_similarity)}
    return fuse(ranked, query.weights, query.fusion or ranking.fusion, ranking.params, confidence)


def _prefetch(query: Query, signals: dict[str, dict[str, Any]], start: int) -> tuple[int, int] | None:
    """The slice of its own ranking whose sources the signal's search brings along, or None for none.

    Only where the fused order alone decides the page (relevance, no profile, no collapse) and
    one signal answers: a lone signal's fused order is its own up to ties (and the keyword
    signal's coverage), and :func:`search` fetches whatever these move onto the page. With
    several signals the page mixes their lists: bringing each one's page along still needed a
    fetch for 6 text queries in 10, and cost more than one fetch of the page by id.
    """
    if query.sort != "relevance" or query.profile is not None or query.collapse_duplicates or len(signals) != 1:
        return None
    if start + query.size > builder.MAX_TOP_HITS:
        return None
    return start, query.size


def _run_signals(
    client: OpenSearch, index: str, query: Query, signals: dict[str, dict[str, Any]], prefetch: tuple[int, int] | None
) -> tuple[dict[str, list[SignalHit]], Sources]:
    """Each signal's candidates, and the sources the *prefetch* slice brought, from one ``_msearch``."""
    lines: list[dict[str, Any]] = []
    for body in signals.values():
        lines += ({"index": index}, builder.with_page_sources(body, *prefetch) if prefetch else body)
    responses = client.msearch(body=lines)["responses"]
    terms = len(builder.query_terms(query.text or "")) if "keywords" in signals else 0
    ranked: dict[str, list[SignalHit]] = {}
    sources: Sources = {}
    for name, response in zip(signals, responses):
        if "error" in response:  # each item fails on its own, inside a 200: a breaker, unassigned shards ...
            raise answer_error(response.get("status"), response["error"])
        ranked[name] = [_signal_hit(hit, name, terms) for hit in response["hits"]["hits"]]
        if prefetch:
            sources |= builder.page_sources(response)
    return ranked, sources


def _signal_hit(hit: dict[str, Any], signal: str, terms: int) -> SignalHit:
    """One hit of *signal*'s response; a keyword hit carries the share of the query's *terms* it matched."""
    if signal != "keywords":
        return SignalHit(hit_id(hit), float(hit["_score"]))
    matched = sum(1 for name in hit.get("matched_queries", ()) if name.startswith("term:"))
    return SignalHit(hit_id(hit), float(hit["_score"]), matched / terms if terms else 1.0)


def _collapse_duplicates(client: OpenSearch, index: str, fused: list[FusedHit]) -> list[FusedHit]:
    """Keep the best-ranked product of each near-duplicate group."""
    if not fused:
        return fused
    response = client.search(index=index, body=builder.dup_groups_body([h.product_id for h in fused]))
    groups = {hit_id(hit): hit["fields"].get("dup_group", [None])[0] for hit in response["hits"]["hits"]}
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
    profile = PROFILES[query.profile or ""]
    ids = list(by_id)
    inputs = {name: PROFILE_INPUTS[name](client, index, query, ids) for name in profile.inputs}
    reranked = rescore(client, index, profile, {h.product_id: h.score for h in fused}, query.profile_params, inputs)
    params = {**profile.params, **(query.profile_params or {})}
    top = max((h.score for h in fused), default=0.0)
    out = []
    for product_id, score in reranked:
        hit = by_id[product_id]
        factor = score / hit.score if hit.score else 0.0
        # Explain shows the factor and what the profile read about the product from outside it.
        shown = {"name": query.profile, "factor": factor, **{name: values.get(product_id, 0.0) for name, values in inputs.items()}}
        if params.get("keep_best", 0) > 0 and hit.score >= top and inputs.get("personal"):
            shown["kept_best"] = True  # the script counted it as wholly to the shopper's taste
        out.append(dataclasses.replace(hit, score=score, signals={**hit.signals, "profile": shown}))  # type: ignore[dict-item]
    return out


#: How each profile input (:attr:`plugin.search.profiles.Profile.inputs`) is computed for a search's candidates.
PROFILE_INPUTS: dict[str, Callable[[OpenSearch, str, Query, list[str]], dict[str, float]]] = {
    "events": lambda client, index, query, ids: event_popularity(client, index, ids),
    "personal": lambda client, index, query, ids: personal_scores(
        client, index, query.shopper or "", ids, (query.profile_params or {}).get("category_weight", PROFILES["personal"].params["category_weight"])
    ),
}


def _browse(client: OpenSearch, index: str, query: Query) -> SearchResult:
    response = client.search(index=index, body=builder.browse_body(query))
    hits = [builder.hit(hit["_source"], None, False) for hit in response["hits"]["hits"]]
    facets = builder.facets(response) if query.facets else {}
    return SearchResult(total=response["hits"]["total"]["value"], hits=hits, facets=facets)


def fetch_sources(client: OpenSearch, index: str, ids: list[str]) -> Sources:
    """The sources of the products *ids*, by a search: ``mget`` filtered the same sources slower (5.6 against 3.6 ms for 10 products at best)."""
    if not ids:
        return {}
    response = client.search(index=index, body=builder.ids_body(ids))
    return {hit["_id"]: hit["_source"] for hit in response["hits"]["hits"]}
