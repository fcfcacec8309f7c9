"""Images: fetched safely from URLs and files, decoded into clean RGB, thumbnailed, seen as views."""

from plugin.exports import lazy_exports

_EXPORTS = {
    "DecodePolicy": "plugin.images.decode",
    "FetchPolicy": "plugin.images.fetch",
    "FetchedImage": "plugin.images.fetch",
    "IMAGE_FORMATS": "plugin.images.decode",
    "VIEWS": "plugin.images.views",
    "decode_image": "plugin.images.decode",
    "fetch_image": "plugin.images.fetch",
    "load_thumbnail": "plugin.images.thumbnails",
    "make_thumbnail": "plugin.images.thumbnails",
    "parse_views": "plugin.images.views",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
