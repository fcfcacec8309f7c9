"""Search results as the API's JSON gives them, shared by the public routes and the admin views."""

from __future__ import annotations

from typing import Any

from api.schemas import SearchBody
from plugin.opensearch.documents import without_views
from plugin.search.service import SearchResult


def with_thumbnails(product: dict[str, Any]) -> dict[str, Any]:
    """*product*, its photos without their gallery views, with the URLs of their thumbnails (``/thumbnails/<fingerprint>``)."""
    product = without_views(product)
    images = product.get("images", [])
    return product | {"thumbnails": [f"/thumbnails/{image['fingerprint']}" for image in images if image.get("fingerprint")]}


def public_product(product: dict[str, Any]) -> dict[str, Any]:
    """*product* as anyone may see it: with its thumbnails, and without where the server keeps its files.

    An image the catalogue gave as a local file has its path there in ``url``; a shopper gets its
    thumbnail instead (in ``thumbnails``). Images on the web keep their ``url``.
    """
    images = [_public_image(image) for image in product.get("images", [])]
    return with_thumbnails(product | ({"images": images} if "images" in product else {}))


def _public_image(image: dict[str, Any]) -> dict[str, Any]:
    url = image.get("url")
    if isinstance(url, str) and url[:8].lower().startswith(("http://", "https://")):
        return image
    return {name: value for name, value in image.items() if name != "url"}


def result_json(result: SearchResult, body: SearchBody) -> dict[str, Any]:
    """One page of *result*: total, page, size, the hits with their thumbnails, and the facets when asked."""
    hits = [public_product(hit) for hit in result.hits]
    out: dict[str, Any] = {"total": result.total, "page": body.page, "size": body.size, "hits": hits}
    if body.facets:
        out["facets"] = result.facets
    return out
