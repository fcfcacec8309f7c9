"""Ranking profiles: the shop's rules, as stored Painless scripts applied to the fused relevance.

A profile multiplies each candidate's fused score by a factor computed from its document
(popularity, rating, stock), with parameters the request may override. The scripts are
stored in the cluster (``_scripts/lookalike-profile-<name>``) so every node runs the same
rule, and the fused scores travel to them as a parameter, as do the per-candidate figures a
profile reads from outside the product (its *inputs*, :mod:`plugin.recommend.taste`):
``events``, each candidate's popularity from shopper events, and ``personal``, how close each
candidate is to the searching shopper's taste (0 to 1).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from opensearchpy import OpenSearch

from plugin.opensearch.documents import HIT_IDS, hit_id

SCRIPT_PREFIX = "lookalike-profile-"


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    description: str
    #: Painless: ``params.fused`` maps product ids to fused scores; the script returns the final score.
    source: str
    params: Mapping[str, float]
    #: Per-candidate maps the script reads (``params.<name>``), computed for each search.
    inputs: tuple[str, ...] = ()
    #: The request must name a shopper (``shopper``).
    needs_shopper: bool = False


_FUSED = "params.fused.getOrDefault(doc['product_id'].value, 0.0)"

PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile(
            "popular",
            "relevance x (1 + w_pop * log(1 + popularity)) x (1 + w_rating * rating / 5); popularity: the shop's own plus shopper events' (decayed)",
            f"double s = {_FUSED};"
            " double pop = doc['popularity'].size() == 0 ? 0 : doc['popularity'].value;"
            " pop += params.events.getOrDefault(doc['product_id'].value, 0.0);"
            " double rating = doc['rating'].size() == 0 ? 0 : doc['rating'].value;"
            " return s * (1 + params.popularity_weight * Math.log1p(pop)) * (1 + params.rating_weight * rating / 5.0);",
            {"popularity_weight": 0.1, "rating_weight": 0.2},
            inputs=("events",),
        ),
        Profile(
            "personal",
            "relevance + w_personal x the best relevance x closeness to the shopper's recent views (0 to 1):"
            " taste lifts a product past those within w_personal of the best score, never past a clearly better match;"
            " with keep_best, the best match counts as wholly to the shopper's taste, so it stays first",
            # No taste (a shopper without history): the plain scores. keep_best read with a default,
            # so a process that stored the script before the parameter existed still runs it.
            f"double s = {_FUSED};"
            " if (params.personal.isEmpty()) { return s; }"
            " double top = 0; for (def v : params.fused.values()) { top = Math.max(top, (double) v); }"
            " double keep = params.getOrDefault('keep_best', 0.0);"
            " double c = keep > 0 && s >= top ? 1.0 : params.personal.getOrDefault(doc['product_id'].value, 0.0);"
            " return s + params.personal_weight * top * c;",
            # category_weight is read where the closeness is computed (plugin.recommend.taste.personal_scores).
            # Chosen on the simulated shoppers of seed 1 (lookalike eval recommendations --seed 1), reported on seed 0.
            {"personal_weight": 0.3, "category_weight": 1.0, "keep_best": 1.0},
            inputs=("personal",),
            needs_shopper=True,
        ),
        Profile(
            "in_stock_first",
            "relevance, with products out of stock scaled down by out_of_stock_factor",
            f"double s = {_FUSED};"
            " boolean stocked = doc['in_stock'].size() == 0 || doc['in_stock'].value;"
            " return stocked ? s : s * params.out_of_stock_factor;",
            {"out_of_stock_factor": 0.1},
        ),
    )
}


def unknown_params(profile: str | None, params: Mapping[str, float] | None) -> list[str]:
    """The names in *params* that *profile* does not take (all of them without a profile), sorted."""
    allowed = PROFILES[profile].params if profile in PROFILES else {}
    return sorted(set(params or {}) - set(allowed))


def store_profiles(client: OpenSearch) -> None:
    """Store (or update) every profile's script in the cluster; idempotent."""
    for profile in PROFILES.values():
        client.put_script(id=SCRIPT_PREFIX + profile.name, body={"script": {"lang": "painless", "source": profile.source}})


def rescore(
    client: OpenSearch,
    index: str,
    profile: Profile,
    fused: Mapping[str, float],
    params: Mapping[str, float] | None = None,
    inputs: Mapping[str, Mapping[str, float]] | None = None,
) -> list[tuple[str, float]]:
    """The candidates in *fused*, re-ranked by *profile* (with its *inputs*); best first, ties broken by id."""
    if not fused:
        return []
    unknown = unknown_params(profile.name, params)
    if unknown:
        raise ValueError(f"profile {profile.name} has no parameter {', '.join(unknown)}")
    given = inputs or {}
    script_params: dict[str, Any] = {**profile.params, **(params or {}), **{name: dict(given.get(name, {})) for name in profile.inputs}, "fused": dict(fused)}
    response = client.search(
        index=index,
        body={
            "size": len(fused),
            # Ids from doc values: reading _id would decompress each candidate's stored source, vectors and all.
            **HIT_IDS,
            "query": {
                "script_score": {
                    "query": {"ids": {"values": list(fused)}},
                    "script": {"id": SCRIPT_PREFIX + profile.name, "params": script_params},
                }
            },
        },
    )
    scored = [(hit_id(hit), float(hit["_score"])) for hit in response["hits"]["hits"]]
    return sorted(scored, key=lambda pair: (-pair[1], pair[0]))
