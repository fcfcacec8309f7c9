"""Co-occurrence counts and popularity, folded in from new shopper events by a periodic task.

A *session* is one shopper's run of events: the events naming the same ``session`` id, or a
shopper's events without one, until :attr:`~plugin.config.RecommendConfig.session_idle_hours`
pass without an event. Two products *co-occur* once for each session in which both were seen
(any event), and are *bought together* once for each session in which both went into the cart
or were bought. Each product's document in the ``<alias>-related`` index holds how many sessions
saw it and its counts with the products it co-occurred with (the
:data:`MAX_RELATED` largest), and its popularity: every event adds its type's weight
(:data:`EVENT_WEIGHTS`), halving every ``popularity_half_life_days``.

Incremental: each run reads only the events indexed since the last one (by sequence number,
:func:`update_related`), and each open session's products are kept (``<alias>-shopper-sessions``,
under a hash of the shopper's and session's ids) so that a product seen later in the same
session is counted with those seen earlier, and a product seen twice is counted once. Sessions
no run has touched for the idle time are deleted, so what is kept about a shopper is that
session's product ids, for a day by default. Runs must not overlap (one beat schedules them;
the task takes a lock).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from opensearchpy import OpenSearch, helpers

from plugin.config import Config
from plugin.errors import RelatedNotStored
from plugin.opensearch.indices import ensure_index

#: How much one event adds to its product's popularity: intent counts more than a glance.
EVENT_WEIGHTS: Mapping[str, float] = {"view": 1.0, "click": 2.0, "add_to_cart": 4.0, "purchase": 8.0}
BUYING = frozenset({"add_to_cart", "purchase"})
#: Counts kept per product and kind: the largest, so a popular product's document stays small.
MAX_RELATED = 200
#: Products of one session that a newly seen product is paired with: the latest, so a shopper
#: browsing all day without a session id costs bounded work.
PAIRED_WITH = 50
#: Products of one session remembered so that one seen again is not counted again.
SESSION_MEMORY = 1_000
#: Events one run reads at most; the rest wait for the next run.
MAX_EVENTS = 100_000
#: Documents per ``mget`` or bulk request.
CHUNK = 1_000
WATERMARK_ID = "watermark"


def related_index(alias: str) -> str:
    return f"{alias}-related"


def sessions_index(alias: str) -> str:
    return f"{alias}-shopper-sessions"


def events_pattern(alias: str) -> str:
    return f"{alias}-events-*"


def decayed(value: float, since: dt.datetime, now: dt.datetime, half_life_days: float) -> float:
    """*value* as it was at *since*, halved for every half life until *now* (never grown)."""
    days = max((now - since).total_seconds(), 0.0) / 86_400
    return value * 0.5 ** (days / half_life_days)


@dataclasses.dataclass
class _Session:
    viewed: list[str] = dataclasses.field(default_factory=list)
    bought: list[str] = dataclasses.field(default_factory=list)
    last_at: dt.datetime | None = None


@dataclasses.dataclass
class _Counts:
    sessions: float = 0.0
    together: dict[str, float] = dataclasses.field(default_factory=dict)
    bought: dict[str, float] = dataclasses.field(default_factory=dict)
    #: As of the run's moment.
    popularity: float = 0.0


@dataclasses.dataclass(frozen=True)
class FoldSummary:
    events: int
    sessions: int
    products: int
    #: Per events index, the sequence number up to which every event has been folded in.
    folded: dict[str, int]


def update_related(client: OpenSearch, config: Config, now: dt.datetime | None = None) -> FoldSummary:
    """Fold the events indexed since the last run into the co-occurrence counts and popularity.

    Events are read by their sequence number in their month's index (one shard each), up to the
    index's global checkpoint: every event at or below it has been written, so none written later
    can fall behind what was read, whatever the clocks of the API and the worker say. Raises
    :class:`RelatedNotStored` when the cluster refuses part of the update; the watermark is only
    moved once everything else is written, so the task runs again over the same events (a part
    that was written is then counted twice, which a retry cannot tell apart).
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    alias = config.index_alias
    for index, template in ((related_index(alias), "related"), (sessions_index(alias), "shopper_sessions")):
        ensure_index(client, config, index, template)
    folded = _folded(client, alias)
    events, upto = _new_events(client, alias, folded)
    if not events:
        _forget_idle_sessions(client, config, now)
        _write_watermark(client, alias, upto, now)
        return FoldSummary(0, 0, 0, upto)
    events.sort(key=lambda event: (_parse(event["at"]), event["_seq"]))
    idle = dt.timedelta(hours=config.recommend.session_idle_hours)
    keys = {session_key(event) for event in events}
    sessions = _read_sessions(client, alias, keys)
    counts: dict[str, _Counts] = {}
    half_life = config.recommend.popularity_half_life_days
    for event in events:
        at = _parse(event["at"])
        key = session_key(event)
        session = sessions.setdefault(key, _Session())
        if session.last_at is not None and at - session.last_at > idle:
            session = sessions[key] = _Session()
        session.last_at = max(at, session.last_at or at)
        product = event["product_id"]
        mine = counts.setdefault(product, _Counts())
        mine.popularity += decayed(EVENT_WEIGHTS.get(event["type"], 1.0), at, now, half_life)
        if product not in session.viewed:
            mine.sessions += 1
            _pair(counts, product, session.viewed[-PAIRED_WITH:], "together")
            session.viewed = [*session.viewed, product][-SESSION_MEMORY:]
        if event["type"] in BUYING and product not in session.bought:
            _pair(counts, product, session.bought[-PAIRED_WITH:], "bought")
            session.bought = [*session.bought, product][-SESSION_MEMORY:]
    stored = _read_counts(client, alias, set(counts), now, half_life)
    actions = [_counts_action(alias, product, stored.get(product), counts[product], now, half_life) for product in sorted(counts)]
    actions += [_session_action(alias, key, session, now) for key, session in sessions.items()]
    for start in range(0, len(actions), CHUNK):
        _, errors = helpers.bulk(client, actions[start : start + CHUNK], raise_on_error=False)
        if errors:
            reason = next(iter(errors[0].values())).get("error")
            raise RelatedNotStored(f"{len(errors)} of {len(actions)} co-occurrence updates were not stored, the first for: {reason}")
    client.indices.refresh(index=f"{related_index(alias)},{sessions_index(alias)}")
    _write_watermark(client, alias, upto, now)
    _forget_idle_sessions(client, config, now)
    return FoldSummary(len(events), len(keys), len(counts), upto)


def session_key(event: Mapping[str, Any]) -> str:
    """The id of *event*'s session document: a hash, so the index holds no shopper id as a key."""
    return hashlib.sha256(f"{event['user']}\n{event.get('session') or ''}".encode()).hexdigest()[:40]


def _pair(counts: dict[str, _Counts], product: str, others: Iterable[str], kind: str) -> None:
    for other in others:
        for one, two in ((product, other), (other, product)):
            mine = getattr(counts.setdefault(one, _Counts()), kind)
            mine[two] = mine.get(two, 0.0) + 1


def _folded(client: OpenSearch, alias: str) -> dict[str, int]:
    found = client.mget(index=sessions_index(alias), body={"ids": [WATERMARK_ID]})["docs"][0]
    return dict(found["_source"].get("folded") or {}) if found.get("found") else {}


def _write_watermark(client: OpenSearch, alias: str, folded: Mapping[str, int], now: dt.datetime) -> None:
    body = {"kind": "watermark", "folded": dict(folded), "touched_at": now.isoformat()}
    client.index(index=sessions_index(alias), id=WATERMARK_ID, body=body, refresh=True)


def _new_events(client: OpenSearch, alias: str, folded: Mapping[str, int]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The events after *folded* (per index) up to each index's global checkpoint, oldest month
    first, at most :data:`MAX_EVENTS`; and the sequence numbers read up to (months since deleted forgotten)."""
    stats = client.indices.stats(index=events_pattern(alias), level="shards", params={"ignore_unavailable": "true"})
    checkpoints = {}
    for index, found in stats.get("indices", {}).items():
        copies = [copy for shard in found.get("shards", {}).values() for copy in shard]
        checkpoints[index] = min(copy["seq_no"]["global_checkpoint"] for copy in copies) if copies else -1
    upto = {index: folded.get(index, -1) for index in checkpoints}
    events: list[dict[str, Any]] = []
    for index in sorted(checkpoints):
        if checkpoints[index] <= upto[index] or len(events) >= MAX_EVENTS:
            continue
        client.indices.refresh(index=index)
        body = {
            "seq_no_primary_term": True,
            "query": {"range": {"_seq_no": {"gt": upto[index], "lte": checkpoints[index]}}},
            "sort": [{"_seq_no": "asc"}],
        }
        upto[index] = checkpoints[index]
        for hit in helpers.scan(client, index=index, query=body, preserve_order=True, size=2_000):
            if len(events) >= MAX_EVENTS:
                break
            events.append({**hit["_source"], "_seq": hit["_seq_no"]})
            upto[index] = hit["_seq_no"]
    return events, upto


def _read_sessions(client: OpenSearch, alias: str, keys: set[str]) -> dict[str, _Session]:
    docs = _mget(client, sessions_index(alias), keys)
    return {
        doc["_id"]: _Session(list(doc["_source"].get("viewed", [])), list(doc["_source"].get("bought", [])), _parse(doc["_source"]["last_at"]))
        for doc in docs
        if doc.get("found")
    }


def _read_counts(client: OpenSearch, alias: str, products: set[str], now: dt.datetime, half_life: float) -> dict[str, _Counts]:
    out = {}
    for doc in _mget(client, related_index(alias), products):
        if doc.get("found"):
            source = doc["_source"]
            popularity = popularity_now(source, now, half_life)
            out[doc["_id"]] = _Counts(source.get("sessions", 0.0), dict(source.get("together") or {}), dict(source.get("bought") or {}), popularity)
    return out


def _mget(client: OpenSearch, index: str, ids: set[str]) -> list[dict[str, Any]]:
    """The documents *ids* of *index*, :data:`CHUNK` at a time."""
    ordered = sorted(ids)
    return [doc for start in range(0, len(ordered), CHUNK) for doc in client.mget(index=index, body={"ids": ordered[start : start + CHUNK]})["docs"]]


def _merged(old: Mapping[str, float], new: Mapping[str, float]) -> dict[str, float]:
    merged = dict(old)
    for other, count in new.items():
        merged[other] = merged.get(other, 0.0) + count
    largest = sorted(merged.items(), key=lambda pair: (-pair[1], pair[0]))[:MAX_RELATED]
    return dict(largest)


def _counts_action(alias: str, product: str, old: _Counts | None, new: _Counts, now: dt.datetime, half_life: float) -> dict[str, Any]:
    old = old or _Counts()
    return {
        "_index": related_index(alias),
        "_id": product,
        "_source": {
            "product_id": product,
            "sessions": old.sessions + new.sessions,
            "together": _merged(old.together, new.together),
            "bought": _merged(old.bought, new.bought),
            "popularity": old.popularity + new.popularity,
            "popularity_at": now.isoformat(),
            # Kept beside the value so a reader decays it without the writer's configuration.
            "half_life_days": half_life,
            "updated_at": now.isoformat(),
        },
    }


def _session_action(alias: str, key: str, session: _Session, now: dt.datetime) -> dict[str, Any]:
    last = session.last_at.isoformat() if session.last_at else None
    source = {"kind": "session", "viewed": session.viewed, "bought": session.bought, "last_at": last, "touched_at": now.isoformat()}
    return {"_index": sessions_index(alias), "_id": key, "_source": source}


def _forget_idle_sessions(client: OpenSearch, config: Config, now: dt.datetime) -> None:
    """Delete the sessions no run has touched for the idle time: by the runs' clock, not the events'
    times, so events sent late (up to the retention) still find the session they belong to."""
    oldest = now - dt.timedelta(hours=config.recommend.session_idle_hours)
    query = {"query": {"bool": {"filter": [{"term": {"kind": "session"}}, {"range": {"touched_at": {"lt": oldest.isoformat()}}}]}}}
    client.delete_by_query(index=sessions_index(config.index_alias), body=query, conflicts="proceed", refresh=True)


def popularity_now(source: Mapping[str, Any], now: dt.datetime, half_life: float | None = None) -> float:
    """A related document's popularity decayed to *now* (by its own half life unless one is given)."""
    if not source.get("popularity_at"):
        return 0.0
    return decayed(float(source.get("popularity", 0.0)), _parse(source["popularity_at"]), now, half_life or float(source.get("half_life_days") or 7.0))


def _parse(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
