"""Gallery views: further pictures of a catalogue photo, embedded and indexed beside it.

A shopper's photo may be tilted, tiny or a tight shot of the product in a room. A query
vector can only be so robust; a catalogue photo indexed also as it would look tilted by
45° either way, or shrunk to a thumbnail, or cut down to the product it shows, lets the
nearest-neighbour search meet such a photo half-way. Each view is one more nested vector
of the product (``images`` entries with a ``view`` name), so the product's image score
is its best view's, with no change to the query.

Views cost what the evaluation report (``lookalike eval views``) lists: one more vector
stored and one more forward pass at ingest per view and photo.
``LOOKALIKE_GALLERY_VIEWS`` chooses them; none by default.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from plugin.errors import ConfigError

#: The side of the ``small`` view, about a search-results thumbnail's.
SMALL_SIDE = 64
#: The ``object`` view is kept only when the product's box leaves out at least this much of
#: the photo (by intersection over union): a product on a plain backdrop fills its photo.
OBJECT_AT_MOST = 0.7

#: A view of a photo, given the object's box in it when one was found.
View = Callable[[Image.Image, "tuple[float, float, float, float] | None"], "Image.Image | None"]


def _rotated(degrees: float) -> View:
    def rotate(photo: Image.Image, box: tuple[float, float, float, float] | None) -> Image.Image:
        # The corners a rotation uncovers take the photo's border colour, as a tilted photo of
        # the product on its backdrop shows it, rather than a black frame.
        return photo.rotate(degrees, resample=Image.BICUBIC, expand=True, fillcolor=border_colour(photo))

    return rotate


def _small(photo: Image.Image, box: tuple[float, float, float, float] | None) -> Image.Image:
    small = photo.copy()
    small.thumbnail((SMALL_SIDE, SMALL_SIDE), Image.BILINEAR)
    return small


def _object(photo: Image.Image, box: tuple[float, float, float, float] | None) -> Image.Image | None:
    if box is None or box_area(box) > OBJECT_AT_MOST:
        return None
    pixels = (round(box[0] * photo.width), round(box[1] * photo.height), round(box[2] * photo.width), round(box[3] * photo.height))
    if min(pixels[2] - pixels[0], pixels[3] - pixels[1]) < 32:
        return None
    return photo.crop(pixels)


#: The gallery views, by name. ``object`` needs the object detector, and is left out of a
#: photo where it finds no product clearly smaller than the photo.
VIEWS: dict[str, View] = {
    "rotate_45": _rotated(45),
    "rotate_315": _rotated(-45),
    "small": _small,
    "object": _object,
}


def parse_gallery_views(text: str) -> tuple[str, ...]:
    """Comma-separated gallery view names, checked, without repeats, in :data:`VIEWS`' order (``""``: none)."""
    names = {name.strip() for name in text.split(",") if name.strip()}
    unknown = sorted(names - set(VIEWS))
    if unknown:
        raise ConfigError(f"gallery views must be some of {', '.join(VIEWS)}; got {', '.join(unknown)}")
    return tuple(name for name in VIEWS if name in names)


def gallery_views(photo: Image.Image, names: Sequence[str], box: tuple[float, float, float, float] | None = None) -> list[tuple[str, Image.Image]]:
    """The views *names* of *photo* that apply to it, each with its name; *box* is its object's, if found."""
    made = ((name, VIEWS[name](photo, box)) for name in names)
    return [(name, view) for name, view in made if view is not None]


def border_colour(photo: Image.Image) -> tuple[int, int, int]:
    """The median colour of the photo's outermost pixels: its backdrop, for most product photos."""
    pixels = np.asarray(photo.convert("RGB"))
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    red, green, blue = (int(v) for v in np.median(border, axis=0))
    return red, green, blue


def box_area(box: tuple[float, float, float, float]) -> float:
    """The share of the photo a box inside it covers: also its intersection over union with the whole photo."""
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])
