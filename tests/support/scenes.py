"""A shopper's photo made on the spot: demo products pasted at known places on a real photo.

Where each product lies is known exactly, so a test can tell which of the boxes an object
detector draws lies over which product without trusting the detector's class names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from sample_data.distractors import prepare_distractors
from tests.support.images import jpeg

#: A photo of a snare drum on a wall (one of the ImageNet distractors): a real, busy background
#: with no demo product in it, and wider than high, as a phone photo held sideways is.
BACKGROUND = "imagenet_10_541.jpg"

Box = tuple[float, float, float, float]


@dataclasses.dataclass
class Scene:
    image: Image.Image
    #: Each pasted product's title and its box as fractions of the frame: left, top, right, bottom.
    placed: dict[str, Box]

    def product_under(self, box: Sequence[float]) -> str | None:
        """The title of the product whose pasted photo holds the centre of *box*, if any."""
        x, y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        for title, (left, top, right, bottom) in self.placed.items():
            if left <= x <= right and top <= y <= bottom:
                return title
        return None


def background_photo(data_dir: Path) -> Path:
    """The background photo, from the distractor photos set up under *data_dir*."""
    return prepare_distractors(data_dir).parent / "photos" / BACKGROUND


def scene(background: Path, products: Sequence[tuple[str, Path | str, tuple[float, float, float]]], size: tuple[int, int] = (1024, 683)) -> Scene:
    """*background* scaled to *size* with each product's photo pasted whole at (left, top) as fractions, *width* of the frame wide.

    *products* holds (title, photo, (left, top, width)); a photo keeps its aspect ratio.
    """
    frame = Image.open(background).convert("RGB").resize(size, Image.LANCZOS)
    placed: dict[str, Box] = {}
    for title, photo_path, (left, top, width) in products:
        photo = Image.open(photo_path).convert("RGB")
        w = round(width * size[0])
        h = round(w * photo.height / photo.width)
        x, y = round(left * size[0]), round(top * size[1])
        assert x + w <= size[0] and y + h <= size[1], f"{title} does not fit in the frame"
        frame.paste(photo.resize((w, h), Image.LANCZOS), (x, y))
        placed[title] = (x / size[0], y / size[1], (x + w) / size[0], (y + h) / size[1])
    return Scene(frame, placed)


def ball_and_laptop(data_dir: Path, products: dict[str, dict[str, Any]], path: Path) -> Scene:
    """The tennis ball's and the laptop's demo photos side by side on the snare drum, written to *path* as a JPEG."""
    made = scene(
        background_photo(data_dir),
        [
            ("Tennis Ball", products["Tennis Ball"]["images"][0], (0.05, 0.15, 0.4)),
            ("Laptop", products["Laptop"]["images"][0], (0.55, 0.2, 0.4)),
        ],
    )
    path.write_bytes(jpeg(made.image, quality=90))
    return made
