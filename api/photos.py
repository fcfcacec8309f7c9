"""A search request's photo, from wherever it comes (upload, base64, URL, a product), as a query vector.

Query photos are decoded in memory, cropped to the shopper's box, and never stored or logged.
Each fault names the field the photo came from.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from urllib.parse import urlsplit

from PIL import Image
from werkzeug.datastructures import FileStorage

from api.errors import ApiError
from api.schemas import SearchBody
from api.service import SearchService
from plugin.errors import SourceError, TooManyFetches
from plugin.images.decode import decode_image
from plugin.images.fetch import FetchPolicy, fetch_image
from plugin.timing import stage

#: Largest query photo accepted, in bytes (uploads and base64 alike).
MAX_PHOTO_BYTES = 10 * 1024 * 1024
#: The smallest side a cropped query photo may have.
MIN_CROP_PIXELS = 16

Vector = list[float]


def photo_vector(body: SearchBody, upload: FileStorage | None, service: SearchService) -> tuple[Vector | None, tuple[str, ...]]:
    """The vector of the request's photo (None without one), and the products its results leave out.

    A product's own photo finds the product first, so searching by a product leaves it out.
    """
    if upload is not None:
        return embed_photo(service, upload.read(MAX_PHOTO_BYTES + 1), "image", body.crop), ()
    if body.image_base64 is not None:
        return embed_photo(service, from_base64(body.image_base64), "image_base64", body.crop), ()
    if body.image_url is not None:
        with stage("fetch"):
            data = from_url(body.image_url, service)
        return embed_photo(service, data, "image_url", body.crop), ()
    if body.product_id is not None:
        with stage("product"):
            images = service.product(body.product_id, ["images.vector"]).get("images", [])
        if not images:
            raise ApiError(422, "no_image", f"product {body.product_id} has no indexed image", "product_id")
        return images[0]["vector"], (body.product_id,)
    return None, ()


def embed_photo(service: SearchService, data: bytes, field: str, crop: list[float] | None) -> Vector:
    """The query vector of the photo in *data* (cut to *crop*), from the embedder's cache when it was seen before."""
    with stage("decode"):
        image = crop_region(decode_photo(data, service, field), crop)
    with stage("embed"):
        return service.embedder.image(image)


def from_base64(text: str) -> bytes:
    """The bytes of a base64 photo, with or without a ``data:`` URL prefix."""
    try:
        return base64.b64decode(text.split(",", 1)[-1], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(400, "invalid_parameter", "image_base64 is not valid base64", "image_base64") from exc


def from_url(url: str, service: SearchService) -> bytes:
    """The bytes at an http(s) *url*, fetched under the API's policy (public addresses, size and time limits).

    A shopper waits for the answer, so the whole fetch has ``config.serve.query_fetch_timeout``
    seconds, and only ``config.serve.query_fetches`` run at once: slow remote servers then hold
    at most that many request threads, and the rest stay free for everyone else. A fetch
    that finds every slot taken is refused at once (:class:`TooManyFetches`, 429) rather
    than queued behind them.
    """
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise ApiError(400, "unsupported_source", "image_url must be an http(s) URL", "image_url")
    slots = service.url_fetch_slots
    if not slots.acquire(blocking=False):
        raise TooManyFetches("every slot for fetching a photo by URL is in use; try again in a few seconds, or upload the photo")
    try:
        return fetch_image(url, query_policy(service)).data
    except SourceError as exc:
        raise ApiError.about(exc, "image_url") from exc
    finally:
        slots.release()


def query_policy(service: SearchService) -> FetchPolicy:
    """The API's URL policy with the query-time deadline on the whole fetch (ingest keeps its longer one)."""
    seconds = service.config.serve.query_fetch_timeout
    return dataclasses.replace(service.url_policy, total_timeout=seconds, connect_timeout=min(service.url_policy.connect_timeout, seconds))


def decode_photo(data: bytes, service: SearchService, field: str) -> Image.Image:
    """*data* as an upright RGB image; 413 over :data:`MAX_PHOTO_BYTES`, the table's status for other faults."""
    if len(data) > MAX_PHOTO_BYTES:
        raise ApiError(413, "upload_too_large", f"the photo is over the limit of {MAX_PHOTO_BYTES} bytes", field)
    try:
        return decode_image(data, service.config.decode, source=field)
    except SourceError as exc:
        raise ApiError.about(exc, field) from exc


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
