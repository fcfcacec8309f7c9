"""A search request's photo, from wherever it comes (upload, base64, URL, a product), as a query vector.

Query photos are decoded in memory, cropped to the shopper's box or searched for the objects
in them (:mod:`plugin.search.regions`), and never stored or logged. Each fault names the
field the photo came from.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from PIL import Image
from werkzeug.datastructures import FileStorage

from api.errors import ApiError
from api.schemas import SearchBody
from api.service import SearchService
from plugin.errors import SourceError, TooManyFetches
from plugin.images.decode import decode_image
from plugin.images.fetch import FetchPolicy, fetch_image
from plugin.search import regions
from plugin.search.regions import Detection, DetectMode
from plugin.search.request import RegionVector
from plugin.timing import stage

#: Largest query photo accepted, in bytes (uploads and base64 alike).
MAX_PHOTO_BYTES = 10 * 1024 * 1024
#: The smallest side a cropped query photo may have.
MIN_CROP_PIXELS = 16

Vector = list[float]


@dataclass
class PhotoQuery:
    """What a request's photo contributes to its search."""

    #: The vector searched (None without a photo).
    vector: Vector | None = None
    #: Products the results leave out: a product's own photo finds the product first.
    exclude: tuple[str, ...] = ()
    #: What the detector found and which parts were searched (None: no photo, or the shopper's crop box).
    detection: Detection | None = None
    #: ``detect: auto``: the other regions searched, in ``detection.regions`` order after the whole photo.
    regions: list[RegionVector] = field(default_factory=list)
    #: ``detect: all``: each searched object's vector, by its index in ``detection.boxes``.
    groups: list[tuple[int, Vector]] = field(default_factory=list)


def photo_query(body: SearchBody, upload: FileStorage | None, service: SearchService) -> PhotoQuery:
    """The request's photo as the vector (or vectors) to search, and the products its results leave out."""
    if upload is not None:
        return embed_photo(service, upload.read(MAX_PHOTO_BYTES + 1), "image", body)
    if body.image_base64 is not None:
        return embed_photo(service, from_base64(body.image_base64), "image_base64", body)
    if body.image_url is not None:
        with stage("fetch"):
            data = from_url(body.image_url, service)
        return embed_photo(service, data, "image_url", body)
    if body.product_id is not None:
        with stage("product"):
            images = service.product(body.product_id, ["images.vector"]).get("images", [])
        if not images:
            raise ApiError(422, "no_image", f"product {body.product_id} has no indexed image", "product_id")
        return PhotoQuery(images[0]["vector"], (body.product_id,))
    return PhotoQuery()


def embed_photo(service: SearchService, data: bytes, field: str, body: SearchBody) -> PhotoQuery:
    """The photo in *data* as query vectors: cut to the shopper's crop box, or as ``detect`` says.

    Vectors come from the embedder's cache when the same pixels were seen before.
    """
    with stage("decode"):
        image = decode_photo(data, service, field)
    if body.crop is not None:
        region = crop_region(image, body.crop)
        with stage("embed"):
            return PhotoQuery(service.embedder.image(region))
    mode = body.detect or service.config.detect.mode
    reason = whole_photo_reason(service, image, body)
    if mode == DetectMode.off.value or reason is not None:
        with stage("embed"):
            return PhotoQuery(service.embedder.image(image), detection=Detection(mode, [], reason=None if mode == DetectMode.off.value else reason))
    settings = service.config.detect
    working = regions.working_copy(image)
    with stage("detect"):
        found = service.detector.detect(working)  # type: ignore[union-attr]  # whole_photo_reason saw it
    # The same boxes, in the same order, whatever the mode: a page that switches modes keeps its numbering.
    boxes = regions.salient(found, settings.max_groups)
    if mode == DetectMode.all.value:
        return search_each(service, image, working, boxes)
    searched = regions.regions_for(working, boxes[: settings.candidates], regions.grid(settings.grid, settings.grid_side))
    with stage("embed"):
        # The whole photo from its own pixels, as detect: off embeds it; the parts from the working copy.
        vectors = service.embedder.images([image] + [pixels for _, pixels in searched[1:]])
    detection = Detection(mode, boxes, [region for region, _ in searched])
    parts = [RegionVector(vector=vector, weight=regions.WEIGHTS[region.kind]) for (region, _), vector in zip(searched[1:], vectors[1:])]
    return PhotoQuery(vectors[0], detection=detection, regions=parts)


def whole_photo_reason(service: SearchService, image: Image.Image, body: SearchBody) -> str | None:
    """Why *image* is searched whole whatever ``detect`` says, or None when its objects can be looked for."""
    if service.detector is None:
        return "no object detector is installed (lookalike detector build)"
    if min(image.size) < 2 * regions.MIN_PIXELS:
        return "the photo is too small to hold several objects"
    if body.weights is not None and body.weights.image == 0:
        return "the image signal is off (weights.image is 0)"
    return None


def search_each(service: SearchService, image: Image.Image, working: Image.Image, boxes: list[regions.Box]) -> PhotoQuery:
    """``detect: all``: a vector for each object big enough to search, and the whole photo's for the main results."""
    cut = [(index, regions.cut_out(working, (box.left, box.top, box.right, box.bottom))) for index, box in enumerate(boxes)]
    kept = [(index, pixels) for index, pixels in cut if pixels is not None]
    with stage("embed"):
        vectors = service.embedder.images([image] + [pixels for _, pixels in kept])
    groups = [(index, vector) for (index, _), vector in zip(kept, vectors[1:])]
    return PhotoQuery(vectors[0], detection=Detection(DetectMode.all.value, boxes), groups=groups)


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


def named_photo(image_base64: str | None, image_url: str | None, service: SearchService) -> Image.Image | None:
    """The photo a JSON body gives as ``image_base64`` or ``image_url`` (one at most), decoded; None for neither."""
    if image_base64 is not None and image_url is not None:
        raise ApiError(400, "invalid_parameter", "give one photo: image_base64 or image_url", "image_url")
    if image_base64 is not None:
        return decode_photo(from_base64(image_base64), service, "image_base64")
    if image_url is not None:
        return decode_photo(from_url(image_url, service), service, "image_url")
    return None


def uploaded_photo(files: dict[str, FileStorage], service: SearchService) -> Image.Image | None:
    """The photo a form sends as its ``image`` file, decoded; None without one."""
    upload = files.get("image")
    return decode_photo(upload.read(MAX_PHOTO_BYTES + 1), service, "image") if upload is not None else None


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
