"""Saved searches: ``POST /saved-searches`` keeps a shopper's photo or words, ``GET
/saved-searches/matches`` tells the shopper's page, as server-sent events, of each new or changed
product that matches one, and ``GET``/``DELETE`` list and forget them."""

from __future__ import annotations

import json
import re

from flask import Blueprint, Request, Response, jsonify, request
from PIL import Image

from api.errors import ApiError
from api.photos import MAX_PHOTO_BYTES, decode_photo, from_base64, from_url
from api.schemas import SavedSearchBody, read_form, read_model, read_shopper
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
        upload = files.get("image")
        photo = decode_photo(upload.read(MAX_PHOTO_BYTES + 1), service, "image") if upload is not None else None
        text = (form.get("text") or "").strip() or None
        if text is not None and len(text) > 500:
            raise ApiError(400, "invalid_parameter", "text: at most 500 characters", "text")
        return read_shopper(form.get("shopper")), text, photo, _floor(form.get("min_similarity"))
    body = read_model(req, SavedSearchBody)
    if body.image_base64 is not None and body.image_url is not None:
        raise ApiError(400, "invalid_parameter", "give one photo: image_base64 or image_url", "image_url")
    photo = None
    if body.image_base64 is not None:
        photo = decode_photo(from_base64(body.image_base64), service, "image_base64")
    elif body.image_url is not None:
        photo = decode_photo(from_url(body.image_url, service), service, "image_url")
    return body.shopper, body.text, photo, body.min_similarity


def _floor(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        floor = float(value)
    except ValueError:
        floor = -1.0
    if not 0.0 <= floor <= 1.0:
        raise ApiError(400, "invalid_parameter", "min_similarity: a number from 0 to 1", "min_similarity")
    return floor
