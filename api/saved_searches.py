"""Saved searches: ``POST /saved-searches`` keeps a shopper's photo or words, ``GET
/saved-searches/matches`` tells the shopper's page, as server-sent events, of each new or changed
product that matches one, and ``GET``/``DELETE`` list and forget them."""

from __future__ import annotations

import json
import re

from flask import Blueprint, Request, Response, jsonify, request
from PIL import Image

from api.errors import ApiError
from api.photos import named_photo, uploaded_photo
from api.schemas import (
    SavedSearchBody,
    read_form,
    read_model,
    read_shopper,
    validate_model,
)
from api.service import SearchService, current_service
from plugin.opensearch.saved_searches import (
    delete_search,
    matches_after,
    save_search,
    shopper_searches,
)

bp = Blueprint("saved_searches", __name__)

#: The page's EventSource asks again this long after each (short) answer.
RECONNECT_MILLISECONDS = 1000


@bp.post("/saved-searches")
def post_saved_search() -> tuple[Response, int]:
    """Save a search (its words, its photo, or both) for a shopper; 201 with its id."""
    service = current_service()
    shopper, text, photo, floor = _read(request, service)
    if text is None and photo is None:
        raise ApiError(400, "invalid_parameter", "give the search's words (text), its photo (image), or both", "text")
    record = save_search(
        service.client,
        service.config,
        shopper,
        text,
        service.embedder.image(photo) if photo is not None else None,
        service.embedder.text(text) if text is not None else None,
        floor,
    )
    return jsonify(record), 201


@bp.get("/saved-searches")
def get_saved_searches() -> Response:
    service = current_service()
    shopper = read_shopper(request.args.get("shopper"))
    return jsonify(saved_searches=shopper_searches(service.client, service.config.index_alias, shopper))


@bp.delete("/saved-searches/<search_id>")
def forget_saved_search(search_id: str) -> tuple[str, int]:
    service = current_service()
    delete_search(service.client, service.config.index_alias, read_shopper(request.args.get("shopper")), search_id)
    return "", 204


@bp.get("/saved-searches/matches")
def saved_search_matches() -> Response:
    """The shopper's matches after the last one the page holds (``Last-Event-ID``, or ``after``), as
    server-sent events in one short answer; the browser asks again a second later, so an open page
    holds no server thread."""
    service = current_service()
    shopper = read_shopper(request.args.get("shopper"))
    last = request.headers.get("Last-Event-ID") or request.args.get("after") or "0"
    if not re.fullmatch(r"[0-9]{1,18}", last):  # ASCII digits only, and within a long
        raise ApiError(400, "invalid_parameter", "after: the seq of the last match the page holds (digits)", "after")
    events = [f"retry: {RECONNECT_MILLISECONDS}\n\n"]
    for match in matches_after(service.client, service.config.index_alias, shopper, int(last)):
        events.append(f"id: {match['seq']}\nevent: match\ndata: {json.dumps(match, sort_keys=True)}\n\n")
    response = Response("".join(events), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def _read(req: Request, service: SearchService) -> tuple[str, str | None, Image.Image | None, float | None]:
    """The shopper, words, photo and threshold of a save request, as a form or as JSON."""
    if req.mimetype == "multipart/form-data":
        form, files = read_form(req)
        fields = {"shopper": form.get("shopper"), "text": (form.get("text") or "").strip(), "min_similarity": form.get("min_similarity")}
        body = validate_model({name: value for name, value in fields.items() if value}, SavedSearchBody)
        return body.shopper, body.text, uploaded_photo(files, service), body.min_similarity
    body = read_model(req, SavedSearchBody)
    return body.shopper, body.text, named_photo(body.image_base64, body.image_url, service), body.min_similarity
