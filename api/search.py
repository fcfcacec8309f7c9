"""The public JSON API a shop's search box calls: search, products, look-alikes, thumbnails, health.

Routes turn requests into :class:`plugin.search.request.Query` objects and results into JSON;
they find their services with :func:`api.service.current_service`.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.datastructures import FileStorage

from api.errors import ApiError
from api.limits import count_url_fetch
from api.openapi import openapi_document
from api.photos import PhotoQuery, photo_query
from api.results import public_product, result_json
from api.schemas import SearchBody, product_id_problem, read_search
from api.service import SearchService, current_service
from plugin.images.thumbnails import load_thumbnail
from plugin.opensearch.documents import SOURCE_FIELDS
from plugin.opensearch.takedowns import image_taken_down
from plugin.search import regions
from plugin.search.regions import DetectMode
from plugin.search.request import Query
from plugin.search.service import SearchResult
from plugin.timing import stage

bp = Blueprint("search", __name__)

#: A thumbnail's name: a lower-case SHA-256 fingerprint.
FINGERPRINT = re.compile(r"[0-9a-f]{64}")
#: ``similar?size=``: ASCII digits only (str.isdigit takes "²"), and few (int() refuses over 4,300).
SIZE = re.compile(r"[0-9]{1,3}")


@bp.get("/openapi.json")
def openapi() -> Response:
    """The API's OpenAPI 3.1 document; the request schema is the one requests are validated with."""
    return jsonify(openapi_document())


@bp.get("/health")
def health() -> Response:
    """The cluster's health, the live index and the model; 503 when the cluster is unreachable."""
    return jsonify(current_service().health())


@bp.post("/search")
def search_products() -> Response:
    """Search by photo, by text, or both, with filters, sorting, facets and pages."""
    service = current_service()
    with stage("parse"):
        body, upload = read_search(request)
    count_url_fetch(body)  # a fetch by URL has a per-client limit of its own (api/limits.py)
    query, photo = build_query(body, upload, service)
    result = service.search(query, ranking_version=body.ranking_version)
    out = photo_results(service, body, query, photo, result)
    return jsonify(out)


def photo_results(service: SearchService, body: SearchBody, query: Query, photo: PhotoQuery, result: SearchResult) -> dict[str, Any]:
    """*result* as JSON, with what the photo's objects add: which region found the first result, and ``all``'s groups."""
    # detect: all, one search per object: its first page, without the whole photo's facets.
    each = {"page": 1, "facets": False}
    groups = [
        (index, service.search(query.model_copy(update={"image_vector": vector, **each}), ranking_version=body.ranking_version))
        for index, vector in photo.groups
    ]
    first_result = body.page == 1 and body.sort == "relevance"  # the best-ranked product, not a page's or a sort's first
    if photo.regions and photo.detection is not None and result.hits and first_result:
        with stage("explain_region"):
            first = service.product_vectors(result.hits[0]["product_id"])
            if first:
                vectors = [photo.vector, *(part.vector for part in photo.regions)]
                weights = [1.0, *(part.weight for part in photo.regions)]
                photo.detection.matched, photo.detection.matched_scores = regions.closest_region(vectors, weights, first)
    with stage("serialise"):
        out = result_json(result, body)
        if photo.detection is None:
            return out
        out["detection"] = photo.detection.json(body.explain)
        if photo.detection.mode == DetectMode.all.value:
            boxes = out["detection"]["boxes"]
            # Each group is one object's results; the facets and paging belong to the whole photo's.
            out["groups"] = [
                {**boxes[index], "index": index, "total": group.total, "hits": result_json(group, body)["hits"]} for index, group in groups
            ]
        return out


@bp.get("/products/<product_id>")
def product(product_id: str) -> Response:
    check_product_id(product_id)
    return jsonify(public_product(current_service().product(product_id, SOURCE_FIELDS)))


@bp.get("/products/<product_id>/similar")
def similar(product_id: str) -> Response:
    """Products that look like this one (its photos), the product itself excluded."""
    check_product_id(product_id)
    size = request.args.get("size", "10")
    if not SIZE.fullmatch(size) or not 1 <= int(size) <= 100:
        raise ApiError(400, "invalid_parameter", "size must be a whole number from 1 to 100", "size")
    service = current_service()
    body = SearchBody(product_id=product_id, size=int(size))
    # The product's stored vectors against the same index's: comparable whatever the model.
    result = service.search(build_query(body, None, service)[0], check_model=False)
    with stage("serialise"):
        return jsonify(result_json(result, body))


@bp.get("/thumbnails/<fingerprint>")
def thumbnail(fingerprint: str) -> Response:
    if not FINGERPRINT.fullmatch(fingerprint):
        raise ApiError(400, "invalid_parameter", "a thumbnail is named by a 64-character image fingerprint", "fingerprint")
    service = current_service()
    if image_taken_down(service.client, service.config.index_alias, fingerprint):
        raise ApiError(410, "taken_down", f"the photo {fingerprint} was taken down as infringing", "fingerprint")
    shop = service.config.watermark

    def stored() -> bytes | None:
        return load_thumbnail(service.client, service.config.thumbnail_index, fingerprint)

    if shop:
        # Imported here: the wavelets, OpenCV and torch load only for a shop that marks its thumbnails.
        from plugin.images.watermark import served_thumbnails, watermark_tag

        webp = served_thumbnails.get(fingerprint, shop, stored)
    else:
        webp = stored()
    if webp is None:
        raise ApiError(404, "not_found", f"no thumbnail {fingerprint}", "fingerprint")
    response = Response(webp, mimetype="image/webp")
    if shop:
        # The same URL serves other bytes once the mark changes or is switched off, so a browser
        # checks back daily (a 304 while the ETag, which names the mark, still matches).
        response.set_etag(f"{fingerprint}.{watermark_tag(shop)}")
        response.headers["Cache-Control"] = "public, max-age=86400"
    else:
        response.set_etag(fingerprint)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"  # content-addressed
    return response.make_conditional(request)


def check_product_id(product_id: str) -> None:
    """A 400 naming ``product_id`` when the path's id cannot be one (too long for OpenSearch, say)."""
    problem = product_id_problem(product_id)
    if problem:
        raise ApiError(400, "invalid_parameter", f"product_id {problem}", "product_id")


def build_query(body: SearchBody, upload: FileStorage | None, service: SearchService) -> tuple[Query, PhotoQuery]:
    """The core's query for *body* (its options, the photo's vector, the words' vectors), and what the photo gave."""
    photo = photo_query(body, upload, service)
    image_vector, exclude = photo.vector, photo.exclude
    text = body.text.strip() if body.text and body.text.strip() else None
    text_vector = text_image_vector = None
    text_image_similarity = None
    if text:
        with stage("embed_text"):
            text_vector = service.embedder.text(text)
            text_image_vector = service.embedder.text_for_images(text)
            text_image_similarity = service.embedder.text_image_similarity(text)
    filters = body.filters.model_copy(update={"exclude_ids": (*body.filters.exclude_ids, *exclude)})
    query = Query(
        **(body.options() | {"filters": filters}),
        image_vector=image_vector,
        image_regions=photo.regions,
        text=text,
        text_vector=text_vector,
        text_image_vector=text_image_vector,
        text_image_similarity=text_image_similarity,
        weights=body.weights.given() if body.weights else {},
        ef_search=service.config.knn_ef_search,
    )
    return query, photo
