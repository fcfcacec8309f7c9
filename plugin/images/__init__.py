"""Images: fetched safely from URLs and files, decoded into clean RGB, thumbnailed, seen as views."""

from plugin.images.decode import IMAGE_FORMATS, DecodePolicy, decode_image
from plugin.images.fetch import FetchedImage, FetchPolicy, fetch_image
from plugin.images.thumbnails import load_thumbnail, make_thumbnail
from plugin.images.views import VIEWS, parse_views

__all__ = [
    "IMAGE_FORMATS",
    "VIEWS",
    "DecodePolicy",
    "FetchPolicy",
    "FetchedImage",
    "decode_image",
    "fetch_image",
    "load_thumbnail",
    "make_thumbnail",
    "parse_views",
]
