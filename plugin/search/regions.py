"""Which parts of a query photo to search: the whole photo, the objects found in it, and a few windows.

A small product in a busy photo competes with everything around it when the photo is
embedded whole. ``auto`` embeds, in one batch, the whole photo, the most salient boxes of
the detector (:mod:`plugin.models.detector`) and a coarse grid of windows, and the image
signal scores each product by the best match any of these regions finds
(:func:`plugin.search.builder.signal_queries`). The catalogue decides which region holds a
product: a region around a lamp or a wall that no product resembles adds nothing, and a
photo that is all product is matched best by the whole frame, as before. The grid is there
because the detector misses or cuts badly many products (measured in ``lookalike eval
scenes``); the boxes, because a grid window rarely fits a small object. ``all`` searches each
detected object on its own ("shop the look").
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Sequence

import numpy as np
from PIL import Image

from plugin.models.detector import Box

__all__ = ["Box", "DetectMode", "Detection", "Region", "closest_region", "cut_out", "grid", "iou", "regions_for", "salient", "working_copy"]

#: A detected box is widened by this share of its size on each side before it is cut out:
#: detectors cut tight, and the catalogue's photos show a product with some of its surroundings.
MARGIN = 0.1
#: A region needs at least this many pixels a side to be embedded: fewer cannot match a product.
MIN_PIXELS = 48
#: Boxes smaller than this share of the photo are never searched.
MIN_AREA = 0.01
#: What a region's matches count for beside the whole photo's, by kind. Parts of a blurred or
#: rotated catalogue photo matched other products a little better than the whole photo matched
#: its own (a blurred window looks like a low-resolution thumbnail); discounting them by 1-2% of
#: the score keeps those photos right and loses no scene (``lookalike eval scenes``, ``vendure``).
WEIGHTS = {"photo": 1.0, "object": 0.98, "window": 0.99}
#: Nor boxes narrower or lower than this share of the photo: a little over the smallest ``crop``
#: the API takes (0.05), so that every box returned, rounded, can be searched again as a crop.
MIN_SIDE = 0.06
#: A region overlapping an earlier one this much (IoU) is the same region: searched once.
SAME_REGION = 0.9
#: Regions are cut from a copy of the photo at most this many pixels a side: four times the
#: embedding network's input is detail enough, and a 40-megapixel upload costs no more than a phone photo.
WORKING_SIDE = 896


class DetectMode(str, enum.Enum):
    """What a photo search does with the objects in the photo."""

    auto = "auto"
    off = "off"
    all = "all"


@dataclasses.dataclass(frozen=True)
class Region:
    """A part of the query photo that is searched: fractions of its width and height."""

    box: tuple[float, float, float, float]
    #: ``photo`` (the whole frame), ``object`` (a detected box) or ``window`` (the grid).
    kind: str
    #: For an object, its index in :attr:`Detection.boxes`.
    index: int | None = None


WHOLE = Region((0.0, 0.0, 1.0, 1.0), "photo")


@dataclasses.dataclass
class Detection:
    """What the detector found in a query photo and which parts of it were searched."""

    mode: str
    #: The detected objects worth searching, most salient first.
    boxes: list[Box]
    #: Every region searched, the whole photo first.
    regions: list[Region] = dataclasses.field(default_factory=lambda: [WHOLE])
    #: The region whose vector matches the first result best (an index in :attr:`regions`).
    matched: int | None = None
    #: Each region's cosine to the first result's closest photo, when measured.
    matched_scores: list[float] = dataclasses.field(default_factory=list)
    #: Why the photo was searched whole without looking for objects, when it was.
    reason: str | None = None

    @property
    def searched(self) -> int | None:
        """The index in :attr:`boxes` of the object the first result was found by; None: another region."""
        return None if self.matched is None else self.regions[self.matched].index

    def json(self, explain: bool) -> dict[str, object]:
        out: dict[str, object] = {
            "mode": self.mode,
            "boxes": [{"box": box.coords(), "score": round(box.score, 3), "label": box.label} for box in self.boxes],
            "searched": self.searched,
        }
        if self.matched is not None:
            out["searched_region"] = _rounded(self.regions[self.matched].box)
        if self.reason:
            out["reason"] = self.reason
        if explain:
            out["regions"] = [
                {"box": _rounded(region.box), "kind": region.kind, **({"object": region.index} if region.index is not None else {}),
                 **({"first_result_cosine": round(self.matched_scores[n], 4)} if n < len(self.matched_scores) else {})}
                for n, region in enumerate(self.regions)
            ]
        return out


def salience(box: Box) -> float:
    """How likely *box* is the object the photo is about: the detector's confidence, its size, its centrality."""
    centre_x, centre_y = (box.left + box.right) / 2, (box.top + box.bottom) / 2
    off_centre = math.hypot(centre_x - 0.5, centre_y - 0.5) / math.hypot(0.5, 0.5)
    return box.score * math.sqrt(box.area) * (1.0 - 0.5 * off_centre)


def salient(boxes: Sequence[Box], limit: int) -> list[Box]:
    """The *limit* most salient of *boxes* big enough to search, each widened as it is searched.

    The boxes returned are the regions cut out, so a shopper's click on one (sent back as a
    ``crop``) searches exactly what ``auto`` and ``all`` searched.
    """
    kept = [box for box in boxes if box.area >= MIN_AREA]
    widened_boxes = [dataclasses.replace(box, **dict(zip(("left", "top", "right", "bottom"), widened(box)))) for box in kept]
    usable = [box for box in widened_boxes if box.right - box.left >= MIN_SIDE and box.bottom - box.top >= MIN_SIDE]
    return sorted(usable, key=salience, reverse=True)[:limit]


def grid(cells: int, side: float) -> list[tuple[float, float, float, float]]:
    """``cells`` × ``cells`` square windows of *side* (a fraction of the photo), evenly spread over it (one: centred)."""
    if cells <= 0:
        return []
    starts = [(1.0 - side) / 2] if cells == 1 else [n * (1.0 - side) / (cells - 1) for n in range(cells)]
    return [(x, y, x + side, y + side) for y in starts for x in starts]


def widened(box: Box, margin: float = MARGIN) -> tuple[float, float, float, float]:
    width, height = box.right - box.left, box.bottom - box.top
    return (
        max(0.0, box.left - margin * width), max(0.0, box.top - margin * height),
        min(1.0, box.right + margin * width), min(1.0, box.bottom + margin * height),
    )


def cut_out(image: Image.Image, box: tuple[float, float, float, float]) -> Image.Image | None:
    """The part of *image* inside *box*; None when too few pixels remain to match a product."""
    pixels = (round(box[0] * image.width), round(box[1] * image.height), round(box[2] * image.width), round(box[3] * image.height))
    if pixels[2] - pixels[0] < MIN_PIXELS or pixels[3] - pixels[1] < MIN_PIXELS:
        return None
    return image.crop(pixels)


def regions_for(
    image: Image.Image, boxes: Sequence[Box], windows: Sequence[tuple[float, float, float, float]]
) -> list[tuple[Region, Image.Image]]:
    """The regions ``auto`` searches, each with its pixels: the whole photo, each of *boxes*, each of *windows*.

    Regions too small to match anything are left out (all but the whole photo, in a thumbnail).
    """
    found = [(WHOLE, image)]
    wanted = [Region((box.left, box.top, box.right, box.bottom), "object", index) for index, box in enumerate(boxes)]
    wanted += [Region(window, "window") for window in windows]
    for region in wanted:
        if any(iou(region.box, earlier.box) >= SAME_REGION for earlier, _ in found):
            continue  # a box around the whole frame, or a window that is the whole photo
        pixels = cut_out(image, region.box)
        if pixels is not None:
            found.append((region, pixels))
    return found


def working_copy(image: Image.Image) -> Image.Image:
    """*image*, or a copy at most :data:`WORKING_SIDE` pixels a side, for detection and cutting regions."""
    if max(image.size) <= WORKING_SIDE:
        return image
    copy = image.copy()
    copy.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.BILINEAR)
    return copy


def closest_region(
    region_vectors: Sequence[Sequence[float]], weights: Sequence[float], photo_vectors: Sequence[Sequence[float]]
) -> tuple[int, list[float]]:
    """The region whose match decided a product's image score, and each region's cosine to the product.

    The score is what the image signal gives: the best of each region's k-NN score (``(1 +
    cosine) / 2`` for cosine similarity) times its weight.
    """
    regions = np.asarray(region_vectors, np.float32)
    photos = np.asarray(photo_vectors, np.float32)
    cosines = (regions @ photos.T).max(axis=1)
    scores = (1.0 + cosines) / 2.0 * np.asarray(weights, np.float32)
    return int(np.argmax(scores)), [float(value) for value in cosines]


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two boxes given as (left, top, right, bottom)."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _rounded(box: tuple[float, float, float, float]) -> list[float]:
    return [round(value, 4) for value in box]
