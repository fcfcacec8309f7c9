"""The ways a shopper's photo differs from the catalogue's: each a function of a photo and a seed.

Every degradation is deterministic for a given seed, so a report can be reproduced exactly.
Sizes are relative to the photo (a blur radius of 1% of the longer side), so the same
degradation means the same thing for a 400 px and a 1600 px photo.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from plugin.images.gallery import border_colour

Degradation = Callable[[Image.Image, int], Image.Image]

#: Query photos are first scaled so their longer side is this long, as a phone upload would be.
QUERY_SIDE = 640


def as_query_photo(photo: Image.Image) -> Image.Image:
    """*photo* in RGB with its longer side at most :data:`QUERY_SIDE`."""
    photo = photo.convert("RGB")
    photo.thumbnail((QUERY_SIDE, QUERY_SIDE), Image.LANCZOS)
    return photo


def gaussian_blur(photo: Image.Image, seed: int) -> Image.Image:
    return photo.filter(ImageFilter.GaussianBlur(radius=0.01 * max(photo.size)))


def motion_blur(photo: Image.Image, seed: int) -> Image.Image:
    """A horizontal camera shake over 4% of the width: the mean of shifted copies."""
    length = max(3, round(0.04 * photo.width))
    pixels = np.asarray(photo, dtype=np.float32)
    padded = np.pad(pixels, ((0, 0), (length // 2, length - 1 - length // 2), (0, 0)), mode="edge")
    summed = np.cumsum(padded, axis=1, dtype=np.float64)
    summed = np.concatenate([np.zeros_like(summed[:, :1]), summed], axis=1)
    blurred = (summed[:, length:] - summed[:, :-length]) / length
    return Image.fromarray(np.clip(blurred, 0, 255).astype(np.uint8))


def rotation(degrees: float) -> Degradation:
    def rotate(photo: Image.Image, seed: int) -> Image.Image:
        # The corners a rotation uncovers take the photo's border colour, as a photo of the
        # product lying on its backdrop would, rather than a black frame no camera produces.
        return photo.rotate(degrees, resample=Image.BICUBIC, expand=True, fillcolor=border_colour(photo))

    return rotate


def occlusion(fraction: float) -> Degradation:
    """A grey block over *fraction* of the area, placed at random (a hand, a label, another object)."""

    def occlude(photo: Image.Image, seed: int) -> Image.Image:
        rng = random.Random(seed)
        aspect = rng.uniform(0.6, 1.6)
        width = min(photo.width, round((fraction * photo.width * photo.height * aspect) ** 0.5))
        height = min(photo.height, round(fraction * photo.width * photo.height / width))
        left, top = rng.randint(0, photo.width - width), rng.randint(0, photo.height - height)
        out = photo.copy()
        out.paste((128, 128, 128), (left, top, left + width, top + height))
        return out

    return occlude


def brightness(factor: float) -> Degradation:
    return lambda photo, seed: ImageEnhance.Brightness(photo).enhance(factor)


def contrast(factor: float) -> Degradation:
    return lambda photo, seed: ImageEnhance.Contrast(photo).enhance(factor)


def colour_cast(photo: Image.Image, seed: int) -> Image.Image:
    """A warm, tungsten-light cast: red up, blue down."""
    pixels = np.asarray(photo, dtype=np.float32) * np.array([1.15, 1.0, 0.7], dtype=np.float32)
    return Image.fromarray(np.clip(pixels + np.array([20, 5, 0], dtype=np.float32), 0, 255).astype(np.uint8))


def greyscale(photo: Image.Image, seed: int) -> Image.Image:
    return ImageOps.grayscale(photo).convert("RGB")


def downscale(side: int) -> Degradation:
    def shrink(photo: Image.Image, seed: int) -> Image.Image:
        small = photo.copy()
        small.thumbnail((side, side), Image.BILINEAR)
        return small

    return shrink


def jpeg(quality: int) -> Degradation:
    def compress(photo: Image.Image, seed: int) -> Image.Image:
        buffer = io.BytesIO()
        photo.save(buffer, format="JPEG", quality=quality)
        return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")

    return compress


def crop(fraction: float) -> Degradation:
    """The centre *fraction* of each side (a close-up of the product), shifted at random by up to 10%."""

    def cut(photo: Image.Image, seed: int) -> Image.Image:
        rng = random.Random(seed)
        width, height = round(photo.width * fraction), round(photo.height * fraction)
        dx = round(rng.uniform(-0.1, 0.1) * photo.width)
        dy = round(rng.uniform(-0.1, 0.1) * photo.height)
        left = min(max(0, (photo.width - width) // 2 + dx), photo.width - width)
        top = min(max(0, (photo.height - height) // 2 + dy), photo.height - height)
        return photo.crop((left, top, left + width, top + height))

    return cut


def hflip(photo: Image.Image, seed: int) -> Image.Image:
    return ImageOps.mirror(photo)


def combined(*steps: Degradation) -> Degradation:
    def apply(photo: Image.Image, seed: int) -> Image.Image:
        for step in steps:
            photo = step(photo, seed)
        return photo

    return apply


#: The degradations of the robustness table, in the order the report lists them.
DEGRADATIONS: dict[str, Degradation] = {
    "gaussian_blur": gaussian_blur,
    "motion_blur": motion_blur,
    "rotate_15": rotation(15),
    "rotate_45": rotation(45),
    "rotate_90": rotation(90),
    "occlude_20": occlusion(0.20),
    "occlude_40": occlusion(0.40),
    "brightness_0.4": brightness(0.4),
    "brightness_1.8": brightness(1.8),
    "contrast_0.4": contrast(0.4),
    "colour_cast": colour_cast,
    "greyscale": greyscale,
    "downscale_64": downscale(64),
    "jpeg_10": jpeg(10),
    "crop_50": crop(0.5),
    "crop_70": crop(0.7),
    "hflip": hflip,
    "crop_rotate_jpeg": combined(crop(0.7), rotation(15), jpeg(10)),
}
