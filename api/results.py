"""Search results as the API's JSON gives them, shared by the public routes and the admin views."""

from __future__ import annotations

from typing import Any

from api.schemas import SearchBody
from plugin.search.service import SearchResult


def with_thumbnails(product: dict[str, Any]) -> dict[str, Any]:
    """*product* with the URLs of its images' thumbnails (``/thumbnails/<fingerprint>``)."""
    images = product.get("images", [])
    return product | {"thumbnails": [f"/thumbnails/{image['fingerprint']}" for image in images if image.get("fingerprint")]}


def result_json(result: SearchResult, body: SearchBody) -> dict[str, Any]:
    """One page of *result*: total, page, size, the hits with their thumbnails, and the facets when asked."""
    hits = [with_thumbnails(hit) for hit in result.hits]
    out: dict[str, Any] = {"total": result.total, "page": body.page, "size": body.size, "hits": hits}
    if body.facets:
        out["facets"] = result.facets
    return out
