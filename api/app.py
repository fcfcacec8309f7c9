"""The Flask search API that a shop's search box calls.

``create_app`` builds the application around one :class:`~plugin.config.Config`; the routes
turn requests into :class:`plugin.query.Query` objects and results into JSON. Query photos
are decoded in memory and never stored or logged.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, jsonify, request
from opensearchpy.exceptions import NotFoundError
from PIL import Image

from api.admin import register_admin
from api.admin_data import with_thumbnails
from api.cors import register_cors
from api.errors import ApiError, register, source_error
from api.openapi import openapi_document
from api.pages import register_pages
from api.schemas import SearchBody, parse_search
from plugin.opensearch.client import cluster_health, connect
from plugin.config import Config
from plugin.models.base import EmbeddingBackend
from plugin.models.registry import load_backend
from plugin.errors import SourceError
from plugin.images.fetch import fetch_image
from plugin.images.decode import decode_image
from plugin.opensearch.indices import index_model, indices_behind
from plugin.opensearch.documents import SOURCE_FIELDS
from plugin.search.request import Filters, Query
from plugin.search.service import SearchResult, search
from plugin.search.query_vectors import QueryEmbedder
from plugin.search.profiles import store_profiles
from plugin.images.thumbnails import load_thumbnail

#: Largest query photo accepted, in bytes (uploads and base64 alike).
MAX_PHOTO_BYTES = 10 * 1024 * 1024
#: The smallest side a cropped query photo may have.
MIN_CROP_PIXELS = 16


def create_app(config: Config | None = None, backend: EmbeddingBackend | None = None, warm: bool = True) -> Flask:
    """The API for *config* (from the environment by default), with *backend* or the configured model.

    With *warm*, the models run once now, so the first shopper does not wait for their set-up.
    """
    config = config or Config.from_env()
    app = Flask(__name__, static_folder=None)  # api/pages.py serves static files, with cache headers
    app.config["MAX_CONTENT_LENGTH"] = MAX_PHOTO_BYTES + 64 * 1024
    app.json.sort_keys = False  # type: ignore[attr-defined]
    client = connect(config)
    embedder = QueryEmbedder(backend or load_backend(config.model, config.torch_threads), views=config.query_views)
    if warm:
        embedder.backend.embed_texts_for_images(["warm up"])
    # The API never reads local files, whatever the ingest workers may.
    url_policy = dataclasses.replace(config.fetch, local_roots=())
    register(app)
    register_cors(app, config.cors_origins)
    register_pages(app)
    register_admin(app, client, config)
    app.extensions["lookalike.embedder"] = embedder
    profiles_stored: list[bool] = []

    @app.get("/openapi.json")
    def openapi() -> Response:
        """The API's OpenAPI 3.1 document; the request schema is the one requests are validated with."""
        return jsonify(openapi_document())

    @app.get("/health")
    def health() -> Response:
        """The cluster's health, the live index and the model; 503 when the cluster is unreachable."""
        cluster = cluster_health(client)
        live = indices_behind(client, config.index_alias)
        mismatch = _model_mismatch(live[0]) if live else None
        return jsonify(
            status="model_mismatch" if mismatch else "ok" if live else "no_index",
            opensearch=cluster["status"],
            index=live[0] if live else None,
            model={"name": embedder.backend.spec.name, "version": embedder.backend.spec.version},
            **({"problem": mismatch} if mismatch else {}),
        )

    @app.post("/search")
    def search_products() -> Response:
        """Search by photo, by text, or both, with filters, sorting, facets and pages."""
        upload = request.files.get("image")
        form = request.form.to_dict() if request.mimetype == "multipart/form-data" else None
        json_body = request.get_json(silent=True) if form is None else None
        if form is None and request.data and json_body is None:
            raise ApiError(400, "invalid_json", "The body is not valid JSON.", None)
        body = parse_search(json_body, form, upload is not None)
        query = _query(body, upload.read(MAX_PHOTO_BYTES + 1) if upload is not None else None)
        if query.image_vector is not None or query.text_vector is not None:
            _refuse_other_models()
        if query.profile is not None and not profiles_stored:
            store_profiles(client)  # once per process, on first use: the cluster may start after the API
            profiles_stored.append(True)
        return jsonify(_result_json(search(client, config.index_alias, query), body))

    @app.get("/products/<product_id>")
    def product(product_id: str) -> Response:
        return jsonify(_product_source(product_id, SOURCE_FIELDS))

    @app.get("/products/<product_id>/similar")
    def similar(product_id: str) -> Response:
        """Products that look like this one (its photos), the product itself excluded."""
        size = request.args.get("size", "10")
        if not size.isdigit() or not 1 <= int(size) <= 100:
            raise ApiError(400, "invalid_parameter", "size must be a whole number from 1 to 100", "size")
        body = SearchBody(product_id=product_id, size=int(size))
        return jsonify(_result_json(search(client, config.index_alias, _query(body, None)), body))

    @app.get("/thumbnails/<fingerprint>")
    def thumbnail(fingerprint: str) -> Response:
        if len(fingerprint) != 64 or not all(c in "0123456789abcdef" for c in fingerprint):
            raise ApiError(400, "invalid_parameter", "a thumbnail is named by a 64-character image fingerprint", "fingerprint")
        webp = load_thumbnail(client, config.thumbnail_index, fingerprint)
        if webp is None:
            raise ApiError(404, "not_found", f"no thumbnail {fingerprint}", "fingerprint")
        response = Response(webp, mimetype="image/webp")
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"  # content-addressed
        return response

    checked_models: dict[str, str | None] = {}
    alias_checked_at: list[float] = [0.0]

    def _model_mismatch(index: str) -> str | None:
        """Why *index*'s vectors cannot be compared with this API's model, or None when they can."""
        if index not in checked_models:
            meta = index_model(client, index)
            spec = embedder.backend.spec
            found = (meta.get("embedding_model"), meta.get("embedding_model_version"))
            checked_models[index] = (
                None if found == (spec.name, spec.version) else
                f"the index {index} holds vectors of {found[0]} v{found[1]}, but this API embeds queries with "
                f"{spec.name} v{spec.version}; re-embed with `lookalike ingest CATALOGUE --new-index` or set LOOKALIKE_MODEL"
            )
        return checked_models[index]

    def _refuse_other_models() -> None:
        # Comparing vectors of two models gives confident nonsense, so refuse; the alias is
        # looked up again at most every few seconds, as a model change moves it rarely.
        if time.monotonic() - alias_checked_at[0] < 5.0:
            return
        live = indices_behind(client, config.index_alias)
        problem = _model_mismatch(live[0]) if live else None
        if problem:
            raise ApiError(503, "model_mismatch", problem, None)
        alias_checked_at[0] = time.monotonic()

    def _query(body: SearchBody, upload: bytes | None) -> Query:
        image_vector = None
        exclude: tuple[str, ...] = ()
        if upload is not None:
            image_vector = embedder.image(crop_region(_decode(upload, "image"), body.crop))
        elif body.image_base64 is not None:
            try:
                data = base64.b64decode(body.image_base64.split(",", 1)[-1], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ApiError(400, "invalid_parameter", "image_base64 is not valid base64", "image_base64") from exc
            image_vector = embedder.image(crop_region(_decode(data, "image_base64"), body.crop))
        elif body.image_url is not None:
            if urlsplit(body.image_url).scheme.lower() not in ("http", "https"):
                raise ApiError(400, "unsupported_source", "image_url must be an http(s) URL", "image_url")
            try:
                fetched = fetch_image(body.image_url, url_policy)
            except SourceError as exc:
                raise source_error(exc, "image_url") from exc
            image_vector = embedder.image(crop_region(_decode(fetched.data, "image_url"), body.crop))
        elif body.product_id is not None:
            images = _product_source(body.product_id, ["images.vector"]).get("images", [])
            if not images:
                raise ApiError(422, "no_image", f"product {body.product_id} has no indexed image", "product_id")
            image_vector = images[0]["vector"]
            exclude = (body.product_id,)
        text = body.text.strip() if body.text and body.text.strip() else None
        filters = body.filters.model_copy(update={"exclude_ids": (*body.filters.exclude_ids, *exclude)})
        return Query(
            **(body.options() | {"filters": filters}),
            image_vector=image_vector,
            text=text,
            text_vector=embedder.text(text) if text else None,
            text_image_vector=embedder.text_for_images(text) if text else None,
            weights=body.weights.model_dump(),
        )

    def _decode(data: bytes, field: str) -> Any:
        if len(data) > MAX_PHOTO_BYTES:
            raise ApiError(413, "upload_too_large", f"the photo is over the limit of {MAX_PHOTO_BYTES} bytes", field)
        try:
            return decode_image(data, config.decode, source=field)
        except SourceError as exc:
            raise source_error(exc, field) from exc

    def _product_source(product_id: str, fields: list[str]) -> dict[str, Any]:
        try:
            return client.get(index=config.index_alias, id=product_id, _source_includes=fields)["_source"]
        except NotFoundError:
            raise ApiError(404, "not_found", f"no product {product_id}", "product_id") from None

    return app


def crop_region(image: Image.Image, box: list[float] | None) -> Image.Image:
    """The part of *image* inside *box* (fractions of its width and height), or the whole image."""
    if box is None:
        return image
    width, height = image.size
    left, top, right, bottom = box
    pixels = (round(left * width), round(top * height), round(right * width), round(bottom * height))
    if pixels[2] - pixels[0] < MIN_CROP_PIXELS or pixels[3] - pixels[1] < MIN_CROP_PIXELS:
        raise ApiError(422, "image_too_small", f"the box leaves fewer than {MIN_CROP_PIXELS} pixels a side", "crop")
    return image.crop(pixels)


def _result_json(result: SearchResult, body: SearchBody) -> dict[str, Any]:
    hits = [with_thumbnails(hit) for hit in result.hits]
    out: dict[str, Any] = {"total": result.total, "page": body.page, "size": body.size, "hits": hits}
    if body.facets:
        out["facets"] = result.facets
    return out


def serve(config: Config, host: str, port: int, threads: int) -> None:
    """Serve the API with waitress, a production WSGI server."""
    from waitress import serve as waitress_serve

    waitress_serve(create_app(config), host=host, port=port, threads=threads)


__all__ = ["create_app", "serve"]
