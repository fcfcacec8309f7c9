"""Small real images made on the spot, and a few deliberately broken ones."""

from __future__ import annotations

import io
import random
import struct
import zlib
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter


def png_bytes(size: tuple[int, int] = (64, 48), color: tuple[int, ...] = (200, 30, 30), mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (30, 120, 200), exif_orientation: int | None = None) -> bytes:
    image = Image.new("RGB", size, color)
    image.paste((250, 250, 0), (0, 0, size[0] // 4, size[1] // 4))  # a marked corner, to see rotations
    exif = Image.Exif()
    if exif_orientation is not None:
        exif[0x0112] = exif_orientation
    exif[0x010F] = "SecretCam"  # Make: must not survive decoding
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims *width* x *height* pixels, as a decompression bomb does."""
    data = bytearray(png_bytes((1, 1)))
    ihdr_start = 8 + 8  # signature, then length + b"IHDR"
    data[ihdr_start : ihdr_start + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12 : ihdr_start + 13]))
    data[ihdr_start + 13 : ihdr_start + 17] = struct.pack(">I", crc)
    return bytes(data)


def jpeg(image: Image.Image, quality: int = 70) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def degraded(path: str) -> bytes:
    """A worse photo of the product in *path*: cropped, blurred, tilted, darker, recompressed."""
    photo = Image.open(path).convert("RGB")
    w, h = photo.size
    photo = photo.crop((w // 10, h // 10, w * 9 // 10, h * 9 // 10)).filter(ImageFilter.GaussianBlur(3)).rotate(8)
    return jpeg(ImageEnhance.Brightness(photo).enhance(0.6))


def product_photo(path: Path, seed: int, size: tuple[int, int] = (160, 120)) -> Path:
    """A distinct synthetic product photo: a few coloured shapes on a plain background."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(150, 256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x0, y0 = rng.randrange(0, size[0] - 40), rng.randrange(0, size[1] - 40)
        box = (x0, y0, x0 + rng.randrange(20, 80), y0 + rng.randrange(20, 80))
        colour = tuple(rng.randrange(0, 256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    image.save(path, format="JPEG" if path.suffix == ".jpg" else "PNG")
    return path
