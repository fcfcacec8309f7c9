"""Decode image bytes into a clean RGB picture, refusing what is unsafe or broken.

Used by ingest for catalogue images and by the API for query photos. The pixel count is
checked from the header, before any pixel is decoded, so a small file that claims to be
20,000 x 20,000 pixels costs nothing. The result carries no metadata: EXIF orientation is
applied to the pixels and the EXIF data itself (GPS position, camera serial) is dropped.
"""

from __future__ import annotations

import dataclasses
import io

from PIL import Image, ImageOps, UnidentifiedImageError

from plugin.errors import CorruptImage, ImageTooLarge, ImageTooSmall, NotAnImage

#: The image formats lookalike reads: their MIME type (as sniffed from the bytes) and Pillow's name.
IMAGE_FORMATS: dict[str, str] = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/bmp": "BMP",
    "image/tiff": "TIFF",
}
PILLOW_FORMATS = tuple(IMAGE_FORMATS.values())


@dataclasses.dataclass(frozen=True)
class DecodePolicy:
    #: Largest width x height decoded: 40 megapixels is more than any product photo needs.
    max_pixels: int = 40_000_000
    #: Smallest side accepted; tinier images carry too little to embed.
    min_side: int = 16
    #: Colour that transparent areas become (product cut-outs are shown on white).
    background: tuple[int, int, int] = (255, 255, 255)
    #: A JPEG is decoded at 1/2, 1/4 or 1/8 of its size (in the DCT, far cheaper than decoding
    #: every pixel and scaling down) while its long side stays at least this: four times the
    #: network's 224-pixel input, so a crop of a quarter of the photo still fills it, and the
    #: 256-pixel thumbnails lose nothing. Photos up to 1,791 pixels are decoded whole, so
    #: their vectors are exactly what they were; 0 decodes every photo whole.
    draft_side: int = 896


def decode_image(data: bytes, policy: DecodePolicy = DecodePolicy(), source: str = "") -> Image.Image:
    """Return *data* as an upright RGB :class:`PIL.Image.Image` without metadata.

    Raises :class:`NotAnImage`, :class:`ImageTooLarge`, :class:`ImageTooSmall` or :class:`CorruptImage`.
    """
    label = source or "the image"
    try:
        # Pillow's own bomb guard (a warning, then an error at twice its limit) is looser than
        # the explicit pixel check below, which is what protects us.
        image = Image.open(io.BytesIO(data), formats=PILLOW_FORMATS)
    except UnidentifiedImageError as exc:
        raise NotAnImage(f"{label} is not a supported image", source=source) from exc
    except Image.DecompressionBombError as exc:
        # Raised while reading the header, before our own check can run.
        raise ImageTooLarge(f"{label} is over the limit of {policy.max_pixels} pixels ({exc})", source=source) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise CorruptImage(f"{label} cannot be decoded: {exc}", source=source) from exc
    width, height = image.size
    if width * height > policy.max_pixels:
        raise ImageTooLarge(
            f"{label} is {width}x{height} pixels, over the limit of {policy.max_pixels} pixels", source=source
        )
    if min(width, height) < policy.min_side:
        raise ImageTooSmall(f"{label} is {width}x{height} pixels, under the minimum of {policy.min_side}", source=source)
    try:
        _draft(image, policy.draft_side)
        image.load()
        upright = ImageOps.exif_transpose(image)
        return _to_rgb(upright, policy.background)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise CorruptImage(f"{label} cannot be decoded: {exc}", source=source) from exc


def _draft(image: Image.Image, side: int) -> None:
    """Ask a JPEG decoder for the smallest DCT scale that keeps the long side at least *side*."""
    if image.format != "JPEG" or not side:
        return
    scale = next((s for s in (8, 4, 2) if max(image.size) // s >= side), 1)
    if scale > 1:
        # Pillow picks the largest scale that keeps both sides at least the size asked for.
        image.draft("RGB", (-(-image.width // scale), -(-image.height // scale)))


def _to_rgb(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, background)
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    rgb = image.convert("RGB")
    rgb.info.clear()  # no EXIF, ICC or comments travel further
    return rgb
