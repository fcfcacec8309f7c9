"""Recommendations: ``GET /products/<id>/recommendations`` and ``GET /users/<id>/recommendations``.

Both answer ``{"recommendations": [...]}``: products as search hits give them (thumbnails and
all), each with its ``score`` and ``reason`` (:mod:`plugin.recommend.related`).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify, request

from api.errors import ApiError
from api.results import public_product
from api.search import SIZE, check_product_id
from api.service import current_service
from plugin.recommend import related
from plugin.search.request import PSEUDONYM

bp = Blueprint("recommendations", __name__)

_USER = re.compile(PSEUDONYM)


@bp.get("/products/<product_id>/recommendations")
def for_product(product_id: str) -> Response:
    """Products shoppers saw with this one, and look-alikes where there is too little history."""
    check_product_id(product_id)
    service = current_service()
    found = related.for_product(service.client, service.config.index_alias, product_id, _size())
    return jsonify(product_id=product_id, recommendations=_json(found))


@bp.get("/users/<user>/recommendations")
def for_shopper(user: str) -> Response:
    """Products for a shopper (their pseudonymous id) from their recent events; the most popular without any."""
    if not _USER.fullmatch(user):
        raise ApiError(400, "invalid_parameter", "user must be 1 to 128 letters, digits or ._:- (a pseudonymous id)", "user")
    service = current_service()
    found = related.for_shopper(service.client, service.config.index_alias, user, _size())
    return jsonify(user=user, recommendations=_json(found))


def _size() -> int:
    size = request.args.get("size", "10")
    if not SIZE.fullmatch(size) or not 1 <= int(size) <= 50:
        raise ApiError(400, "invalid_parameter", "size must be a whole number from 1 to 50", "size")
    return int(size)


def _json(found: list[related.Recommendation]) -> list[dict[str, Any]]:
    return [public_product(rec.product) | {"score": round(rec.score, 6), "reason": rec.reason} for rec in found]
