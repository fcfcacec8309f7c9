"""The shop's ranking settings in the cluster, versioned, so every API process reads the same.

Each save is a new document (version 1, 2, ...) with where it came from and the judged
scores before and after; the highest version is the live one. Nothing is overwritten, so
``lookalike ranking rollback N`` can make an older version live again by saving it anew.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConflictError, NotFoundError

from plugin.config import Config
from plugin.errors import RankingNotSaved
from plugin.opensearch.indices import ensure_index
from plugin.search.ranking import RankingSettings

#: Saves racing each other each retry with the next number this many times.
SAVE_ATTEMPTS = 5


@dataclass(frozen=True)
class StoredRanking:
    version: int
    created_at: str
    source: str
    settings: RankingSettings
    #: The judged figures that justified it (for example ``{"held_out": {"before": .., "after": ..}}``).
    scores: dict[str, Any]


def live_ranking(client: OpenSearch, config: Config) -> StoredRanking | None:
    """The highest version, or None when the shop never saved any (the built-in defaults apply)."""
    history = ranking_history(client, config, size=1)
    return history[0] if history else None


def ranking_history(client: OpenSearch, config: Config, size: int = 50) -> list[StoredRanking]:
    """The saved versions, newest first."""
    # ignore_unavailable: a shop that never saved settings has no index, and that is not worth a 404 in the log.
    response = client.search(
        index=config.ranking_index, ignore_unavailable=True,
        body={"size": size, "sort": [{"version": {"order": "desc", "unmapped_type": "integer"}}], "query": {"match_all": {}}},
    )
    return [_stored(hit["_source"]) for hit in response["hits"]["hits"]]


def saved_ranking(client: OpenSearch, config: Config, version: int) -> StoredRanking | None:
    """One saved version (its id is its number), or None when there is no such version."""
    try:
        return _stored(client.get(index=config.ranking_index, id=str(version))["_source"])
    except NotFoundError:  # no such version, or no index at all
        return None


def save_ranking(client: OpenSearch, config: Config, settings: RankingSettings, source: str, scores: dict[str, Any]) -> StoredRanking:
    """Store *settings* as the next version and return it; it is live at once."""
    ensure_index(client, config, config.ranking_index, "ranking")
    document = {
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "source": source,
        "settings": settings.model_dump(mode="json"),
        "scores": scores,
    }
    for _ in range(SAVE_ATTEMPTS):
        latest = live_ranking(client, config)
        document["version"] = (latest.version if latest else 0) + 1
        try:
            # op_type=create: of two saves at once, one takes the number and the other the next.
            client.index(index=config.ranking_index, id=str(document["version"]), body=document, op_type="create", refresh=True)
        except ConflictError:
            continue
        return _stored(document)
    raise RankingNotSaved(f"ranking settings not saved: {SAVE_ATTEMPTS} other saves took each version number first")


def _stored(source: dict[str, Any]) -> StoredRanking:
    return StoredRanking(
        version=int(source["version"]), created_at=source["created_at"], source=source["source"],
        settings=RankingSettings.model_validate(source["settings"]), scores=source.get("scores") or {},
    )
