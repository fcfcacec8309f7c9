"""Shopper events (view, click, add to cart, purchase; ``api.schemas.EventBody`` validates them): one index per month, kept for a set time.

An event names a pseudonymous shopper (a random id the page keeps, never a name, an e-mail or an
address), optionally a session, a product and a time: nothing else is stored. Monthly indices
make retention a matter of deleting whole indices once every event in them is older than
``LOOKALIKE_EVENTS_RETENTION_DAYS``, which no per-document delete could do as cheaply.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from opensearchpy import OpenSearch, helpers

from plugin.config import Config
from plugin.errors import EventsNotStored
from plugin.opensearch.indices import ensure_index

#: Seconds between two looks for expired months by one process: retention is a matter of days.
EXPIRY_EVERY = 3600
_MONTH = re.compile(r"-events-(\d{4})\.(\d{2})$")
_expired_at: dict[str, float] = {}
_expiring = threading.Lock()


def events_index(alias: str, moment: dt.datetime) -> str:
    """The index of *alias*'s events in *moment*'s month (UTC)."""
    return f"{alias}-events-{moment.astimezone(dt.timezone.utc):%Y.%m}"


def write_events(client: OpenSearch, config: Config, events: Iterable[Mapping[str, Any]], now: dt.datetime | None = None) -> int:
    """Store *events* (already validated: ``type``, ``user``, ``product_id``, ``at``, maybe ``session``)
    in their months' indices; return how many were stored. Raises :class:`EventsNotStored` when
    the cluster refuses any, so the sender can send the batch again."""
    now = now or dt.datetime.now(dt.timezone.utc)
    received = now.isoformat()
    actions = []
    for event in events:
        index = events_index(config.index_alias, event["at"])
        actions.append({"_index": index, "_source": {**event, "at": event["at"].isoformat(), "received_at": received}})
    for index in {action["_index"] for action in actions}:
        ensure_index(client, config, index, "events")
    stored, errors = helpers.bulk(client, actions, raise_on_error=False)
    if errors:
        reason = next(iter(errors[0].values())).get("error")
        raise EventsNotStored(f"{len(errors)} of {len(actions)} events were not stored, the first for: {reason}")
    expire_now_and_then(client, config, now)
    return stored


def expire_events(client: OpenSearch, config: Config, now: dt.datetime | None = None) -> list[str]:
    """Delete the months of events wholly older than the retention; return the indices deleted."""
    now = now or dt.datetime.now(dt.timezone.utc)
    oldest_kept = now - dt.timedelta(days=config.events_retention_days)
    expired = []
    for index in client.indices.get(index=f"{config.index_alias}-events-*", ignore_unavailable=True, expand_wildcards="all"):
        found = _MONTH.search(index)
        if found is None:
            continue
        year, month = int(found.group(1)), int(found.group(2))
        month_ends = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=dt.timezone.utc)
        if month_ends <= oldest_kept:
            client.indices.delete(index=index)
            expired.append(index)
    return sorted(expired)


def expire_now_and_then(client: OpenSearch, config: Config, now: dt.datetime) -> None:
    """:func:`expire_events`, at most once every :data:`EXPIRY_EVERY` seconds in this process."""
    with _expiring:
        if time.monotonic() - _expired_at.get(config.index_alias, -EXPIRY_EVERY) < EXPIRY_EVERY:
            return
        _expired_at[config.index_alias] = time.monotonic()
    expire_events(client, config, now)
