"""The views of a query photo (mirrored, centre crops, padded, rotated), by name.

A shopper's photo is often mirrored, off-centre or framed differently from the catalogue's.
Embedding a few views and averaging their vectors (:mod:`plugin.search.query_vectors`) gives
a query vector that is less sensitive to those differences; the evaluation report
(``lookalike eval vendure``) shows what each view set gains and costs, and
``LOOKALIKE_QUERY_VIEWS`` chooses the set.
"""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image, ImageOps

from plugin.errors import ConfigError


def _centre(fraction: float) -> Callable[[Image.Image], Image.Image]:
    def crop(image: Image.Image) -> Image.Image:
        width, height = round(image.width * fraction), round(image.height * fraction)
        left, top = (image.width - width) // 2, (image.height - height) // 2
        return image.crop((left, top, left + width, top + height))

    return crop


def _pad_square(image: Image.Image) -> Image.Image:
    side = max(image.size)
    canvas = Image.new("RGB", (side, side), (255, 255, 255))
    canvas.paste(image.convert("RGB"), ((side - image.width) // 2, (side - image.height) // 2))
    return canvas


#: The views a query photo can be embedded as, by name.
VIEWS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "original": lambda image: image,
    "hflip": ImageOps.mirror,
    "centre_80": _centre(0.8),
    "centre_60": _centre(0.6),
    "pad_square": _pad_square,
    "rot90": lambda image: image.transpose(Image.Transpose.ROTATE_90),
    "rot270": lambda image: image.transpose(Image.Transpose.ROTATE_270),
}


def parse_views(text: str) -> tuple[str, ...]:
    """Comma-separated view names, checked, in order, without repeats (``"original,hflip"``)."""
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in VIEWS]
    if unknown or not names:
        raise ConfigError(f"query views must be some of {', '.join(VIEWS)}; got {text!r}")
    return names

