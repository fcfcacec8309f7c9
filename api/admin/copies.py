"""The admin's copy detection: the photo an operator sends, and the catalogue's own copies."""

from __future__ import annotations

import datetime as dt
import functools
import threading
from typing import Any

from cachetools import TTLCache
from flask import Request
from opensearchpy import OpenSearch
from PIL import Image

from api.errors import ApiError
from api.photos import named_photo, uploaded_photo
from api.schemas import CopiesBody, read_form, read_model
from api.service import SearchService
from plugin.copies.evidence import CopyRule
from plugin.copies.finder import load_keypoints
from plugin.copies.scan import copy_groups, load_catalogue_images, scan_catalogue

#: A catalogue scan reads every photo's vector: kept a few minutes, so the page stays quick to reload.
SCAN_SECONDS = 300
#: Products the page scans while an operator waits (every photo against every other); a larger
#: catalogue is scanned with ``lookalike copies``, which no request thread waits on.
PAGE_SCAN_PRODUCTS = 20_000
#: Photos whose nearest neighbours the page also matches by keypoints (to find crops): about
#: 20 ms a photo on a 2-core machine, so some 20 s at this size; a larger catalogue's page scan
#: leaves keypoints out and says so, and ``lookalike copies`` does them.
PAGE_KEYPOINT_PHOTOS = 1_000
_scans: TTLCache[str, dict[str, Any]] = TTLCache(maxsize=8, ttl=SCAN_SECONDS)
_scanning = threading.Lock()


def copies_photo(request: Request, service: SearchService) -> Image.Image:
    """The photo of a copies request: an ``image`` upload, or JSON ``image_base64`` or ``image_url``."""
    if request.mimetype == "multipart/form-data":
        photo = uploaded_photo(read_form(request)[1], service)
        if photo is None:
            raise ApiError(400, "invalid_parameter", "image: send the photo as the form's image file", "image")
        return photo
    body = read_model(request, CopiesBody)
    photo = named_photo(body.image_base64, body.image_url, service)
    if photo is None:
        raise ApiError(400, "invalid_parameter", "give one photo: image_base64 or image_url (or upload image)", "image_base64")
    return photo


def catalogue_copies(client: OpenSearch, alias: str, thumbnails: str) -> dict[str, Any]:
    """Groups of catalogue photos that are copies of one another, scanned now or at most
    :data:`SCAN_SECONDS` ago (one scan at a time: it reads every vector)."""
    products = client.count(index=alias)["count"]
    if products > PAGE_SCAN_PRODUCTS:
        raise ApiError(
            422, "scan_too_large",
            f"{products} products are more than this page scans ({PAGE_SCAN_PRODUCTS}); run lookalike copies --json FILE instead", None,
        )
    with _scanning:
        found = _scans.get(alias)
        if found is None:
            rule = CopyRule()
            images = load_catalogue_images(client, alias)
            keypoints = len(images.photos) <= PAGE_KEYPOINT_PHOTOS
            reader = functools.partial(load_keypoints, client, thumbnails, mirrored=True) if keypoints else None
            pairs = scan_catalogue(images, rule, reader)
            found = {
                "scanned_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "photos": len(images.photos),
                "keypoints": keypoints,
                "groups": copy_groups(pairs),
                "pairs": len(pairs),
            }
            _scans[alias] = found
    return found
