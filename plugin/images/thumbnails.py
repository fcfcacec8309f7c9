"""WebP thumbnails of catalogue images, stored in OpenSearch one per distinct image.

Keyed by the image's content fingerprint, so the same photo used by several products is
stored once, and any API node of a cluster can serve it without a shared disk.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError
from PIL import Image

THUMBNAIL_SIDE = 256
WEBP_QUALITY = 80


def make_thumbnail(image: Image.Image) -> tuple[bytes, int, int]:
    """The image scaled to fit 256 x 256, as WebP bytes (no metadata), with its size."""
    thumb = image.copy()
    thumb.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.LANCZOS)
    buffer = io.BytesIO()
    thumb.save(buffer, format="WEBP", quality=WEBP_QUALITY, method=4)
    return buffer.getvalue(), thumb.width, thumb.height


def thumbnail_action(index: str, fingerprint: str, webp: bytes, width: int, height: int) -> dict[str, Any]:
    """A bulk action that stores a thumbnail (idempotent: the id is the image's fingerprint)."""
    return {
        "_op_type": "index",
        "_index": index,
        "_id": fingerprint,
        "_source": {
            "webp": base64.b64encode(webp).decode("ascii"),
            "width": width,
            "height": height,
            "created_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        },
    }


def load_thumbnail(client: OpenSearch, index: str, fingerprint: str) -> bytes | None:
    """The WebP bytes stored for *fingerprint*, or None."""
    try:
        found = client.get(index=index, id=fingerprint, _source_includes=["webp"])
    except NotFoundError:
        return None
    return base64.b64decode(found["_source"]["webp"])


def load_thumbnails(client: OpenSearch, index: str, fingerprints: list[str]) -> dict[str, bytes]:
    """The WebP bytes stored for each of *fingerprints* that has a thumbnail, read with one request."""
    wanted = sorted({fingerprint for fingerprint in fingerprints if fingerprint})
    if not wanted:
        return {}
    found = client.mget(index=index, body={"ids": wanted}, _source_includes=["webp"])
    return {doc["_id"]: base64.b64decode(doc["_source"]["webp"]) for doc in found["docs"] if doc.get("found")}
