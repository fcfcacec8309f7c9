"""``POST /events``: what shoppers do (view, click, add to cart, purchase), in batches, stored by month."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, jsonify, request

from api.errors import ApiError
from api.schemas import EventsBody, read_model
from api.service import current_service
from plugin.opensearch.events import write_events

bp = Blueprint("events", __name__)

#: How far ahead of the server's clock an event may say it happened (clocks of shoppers' devices drift).
FUTURE_SKEW = dt.timedelta(minutes=5)


@bp.post("/events")
def post_events() -> tuple[Response, int]:
    """Store a batch of shopper events; 202 with how many, or a 400 naming the first field at fault."""
    body = read_model(request, EventsBody)
    config = current_service().config
    now = dt.datetime.now(dt.timezone.utc)
    oldest = now - dt.timedelta(days=config.events_retention_days)
    events = []
    for n, event in enumerate(body.events):
        at = event.at or now
        if at > now + FUTURE_SKEW:
            raise ApiError(400, "invalid_parameter", f"events.{n}.at: {at.isoformat()} is in the future", f"events.{n}.at")
        if at < oldest:
            raise ApiError(
                400, "invalid_parameter",
                f"events.{n}.at: {at.isoformat()} is older than the {config.events_retention_days} days events are kept", f"events.{n}.at",
            )
        events.append(event.model_dump(exclude_none=True) | {"at": at})
    stored = write_events(current_service().client, config, events, now)
    return jsonify(accepted=stored), 202
