"""An invisible watermark carrying a shop's id in the thumbnails the API serves, and reading it back.

The mark is invisible-watermark's DWT-DCT-SVD block coder (``imwatermark.dwtDctSvd``): each
8 x 8 pixel block of the brightness, seen through a Haar wavelet and a DCT, gets its largest
singular value moved onto one of two interleaved lattices, one per bit. As the library ships
it, the mark did not survive a JPEG at quality 50 of a 256-pixel thumbnail
(``reports/eval-watermark.json``, ``stock_methods``), so it is used with four changes:

- on the brightness, in floating point, added equally to R, G and B: the library marks only
  the blue-difference channel, which JPEG halves and quantises hardest, and its own
  brightness path wraps around in 8 bits (white turns black);
- each block moves to the *nearest* point of its bit's lattice, shifted by a fixed dither
  (the library moves up to 3/4 of a step, and an undithered lattice lines up with JPEG's
  own quantiser on flat grey, which can flip every bit at once);
- the bits are not a 32-bit code repeated in columns but one bit per block, drawn from the
  shop id's SHA-256, so a white background costs votes, not whole bits;
- reading correlates the soft phase of every usable block with the shop's bits: the score
  is close to a standard normal on an image without this shop's mark, so a threshold of 5
  means about one false claim in a million checks.

Near-white and near-black blocks are left alone (the mark would clip there); a thumbnail with
too few other blocks is served unmarked. A crop moves the block grid, and the mark is lost.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import threading
from collections.abc import Callable, Iterator

import cv2
import numpy as np
import pywt
from cachetools import LRUCache
from imwatermark.dwtDctSvd import EmbedDwtDctSvd
from PIL import Image

from plugin.images.decode import decode_image
from plugin.images.thumbnails import THUMBNAIL_SIDE

log = logging.getLogger(__name__)

#: Names the whole scheme: a change to anything below must change it, so caches and ETags move on.
SCHEME = "dwtdctsvd-luma-1"
#: The lattice step of a block's largest singular value: about 5.5 grey levels of the block's mean.
#: Measured: 44 keeps the served thumbnails above 40 dB while surviving JPEG 50 after a halving.
STRENGTH = 44.0
#: Coefficients a side of a block in the wavelet's half-size band: 8 pixels a side in the image.
BLOCK = 4
PIXELS = 2 * BLOCK
#: Blocks a side of the largest thumbnail; the keyed bits are drawn for this grid.
GRID = THUMBNAIL_SIDE // PIXELS
#: A reading at or above this score says "carries the mark" (one-sided normal tail: 3e-7 a try, at most 4 tries).
THRESHOLD = 5.0
#: Fewer usable blocks than this: too small or too blank to hold the mark (embed) or to tell (read).
MIN_BLOCKS = 64
#: WebP quality of a marked thumbnail: thumbnails are stored at 80, and a second pass at 80 would
#: cost more of the 40 dB than the mark itself.
SERVE_QUALITY = 90
#: Brightness a block's mean keeps from black and white for the mark to move freely (half a step, and one level).
_EMBED_MARGIN = STRENGTH / PIXELS / 2 + 1
#: Reading skips a wider band: a block left alone may have drifted in by a few levels since.
_READ_MARGIN = _EMBED_MARGIN + 4
#: A fixed dither, one offset per block, the same for every shop.
_DITHER = np.random.default_rng(0x5EED_3A7E).random((GRID, GRID))


class _LatticeCoder(EmbedDwtDctSvd):
    """The library's block coder, each block's "bit" being its lattice offset in steps (bit / 2 + dither)."""

    def diffuse_dct_svd(self, block: np.ndarray, offset: float, scale: float) -> np.ndarray:
        u, s, v = np.linalg.svd(cv2.dct(block))
        s[0] = (np.round(s[0] / scale - offset) + offset) * scale  # the nearest point, up or down
        return cv2.idct(u @ np.diag(s) @ v)

    def infer_dct_svd(self, block: np.ndarray, scale: float) -> float:
        # The raw phase; the caller removes the dither and weighs it softly.
        return float(np.linalg.svd(cv2.dct(block), compute_uv=False)[0] / scale % 1.0)


@dataclasses.dataclass(frozen=True)
class Reading:
    """How strongly an image carries one shop's mark."""

    #: Correlation with the shop's bits, about standard normal on an image without the mark.
    score: float
    #: Blocks the score was read from (near-white and near-black ones are skipped).
    blocks: int

    @property
    def carries(self) -> bool:
        return self.blocks >= MIN_BLOCKS and self.score >= THRESHOLD


@dataclasses.dataclass(frozen=True)
class BlockPhases:
    """The part of a reading that does not depend on the shop: each usable block's phase on the lattice."""

    phases: np.ndarray  # in steps, dither removed, one per usable block
    usable: np.ndarray  # (rows, cols) booleans: which blocks those are


def shop_bits(shop: str, rows: int = GRID, cols: int = GRID) -> np.ndarray:
    """The shop's bit for each block, tied to the block's place so any size of thumbnail reads the same bits."""
    seed = hashlib.sha256(f"{SCHEME}\0{shop}".encode()).digest()
    return np.random.default_rng(int.from_bytes(seed[:16], "big")).integers(0, 2, (GRID, GRID))[:rows, :cols]


def watermark_tag(shop: str) -> str:
    """A short name of the mark *shop* gets, for cache keys and ETags (not the shop id itself)."""
    return hashlib.sha256(f"tag\0{SCHEME}\0{shop}".encode()).hexdigest()[:12]


def embed(image: Image.Image, shop: str) -> Image.Image | None:
    """*image* (at most a thumbnail's size) with *shop*'s mark, or None when too few blocks can hold it."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float64)
    rows, cols = rgb.shape[0] // PIXELS, rgb.shape[1] // PIXELS
    if rows > GRID or cols > GRID:
        raise ValueError(f"the watermark is for thumbnails of at most {THUMBNAIL_SIDE} pixels a side, not {image.width}x{image.height}")
    if rows * cols < MIN_BLOCKS:
        return None
    height, width = rows * PIXELS, cols * PIXELS
    luma = _luma(rgb[:height, :width])
    band, details = pywt.dwt2(luma, "haar")
    means = _block_means(band)
    if _within(means, _READ_MARGIN).sum() < MIN_BLOCKS:
        return None  # a mark nobody could read back is not worth its cost
    marked = _marked_band(band, _within(means, _EMBED_MARGIN), shop)
    out = rgb.copy()
    # The same change to R, G and B changes the brightness only, never the colour.
    out[:height, :width] += (pywt.idwt2((marked, details), "haar") - luma)[..., None]
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8))


def block_phases(image: Image.Image) -> list[BlockPhases]:
    """The phases of *image* as it is (when thumbnail-sized) and scaled to a thumbnail's long side.

    A copy made smaller (or larger) is read at the size it was marked at: thumbnails of
    photos are :data:`THUMBNAIL_SIDE` pixels on their long side. Up to four sizes are tried,
    and the best is kept, so the false-claim rate is up to four times one try's.
    """
    return [_phases(candidate) for candidate in _candidate_sizes(image.convert("RGB"))]


def score(phases: list[BlockPhases], shop: str) -> Reading:
    """The best reading of *shop*'s mark among *phases*."""
    return max((_correlate(each, shop) for each in phases), key=lambda reading: reading.score, default=Reading(0.0, 0))


def read(image: Image.Image, shop: str) -> Reading:
    """How strongly *image* carries *shop*'s mark."""
    return score(block_phases(image), shop)


def read_bytes(data: bytes, shop: str, source: str = "") -> Reading:
    """:func:`read` of an image file's bytes; raises :class:`~plugin.errors.NotAnImage` and the like for what is not one."""
    return read(decode_image(data, source=source), shop)


def mark_webp(webp: bytes, shop: str) -> bytes | None:
    """A stored WebP thumbnail with *shop*'s mark, as WebP; None when it is too small or blank to hold it."""
    with Image.open(io.BytesIO(webp)) as thumbnail:
        marked = embed(thumbnail, shop)
    if marked is None:
        return None
    buffer = io.BytesIO()
    marked.save(buffer, format="WEBP", quality=SERVE_QUALITY, method=4)
    return buffer.getvalue()


class MarkedThumbnails:
    """Recently served marked thumbnails, bounded by their bytes: marking one costs tens of milliseconds.

    Thread-safe (the API serves from a pool of threads). A thumbnail too small to hold the mark
    is kept and served unmarked.
    """

    def __init__(self, max_bytes: int = 64 * 2**20) -> None:
        self._cache: LRUCache[tuple[str, str], bytes] = LRUCache(maxsize=max_bytes, getsizeof=len)
        self._lock = threading.Lock()

    def get(self, fingerprint: str, shop: str, load: Callable[[], bytes | None]) -> bytes | None:
        """The marked thumbnail *fingerprint*, calling *load* for its stored WebP on a miss; None when there is none."""
        key = (fingerprint, shop)
        with self._lock:
            found = self._cache.get(key)
        if found is not None:
            return found
        webp = load()
        if webp is None:
            return None
        marked = mark_webp(webp, shop)
        if marked is None:
            log.info("thumbnail %s is too small or too blank to hold the watermark: served unmarked", fingerprint)
            marked = webp
        with self._lock:
            if len(marked) <= self._cache.maxsize:
                self._cache[key] = marked
        return marked


#: The marked thumbnails of this process, for the API's ``/thumbnails`` route.
served_thumbnails = MarkedThumbnails()


def _marked_band(band: np.ndarray, writable: np.ndarray, shop: str) -> np.ndarray:
    """*band* with each writable block moved onto the nearest point of *shop*'s lattice for it; the others as they were."""
    rows, cols = writable.shape
    offsets = 0.25 + 0.5 * shop_bits(shop, rows, cols) + _DITHER[:rows, :cols]
    marked = band.copy()
    _LatticeCoder(list(offsets.ravel()), wmLen=rows * cols, scales=[STRENGTH, 0, 0], block=BLOCK).encode_frame(marked, STRENGTH)
    untouched = np.kron(~writable, np.ones((BLOCK, BLOCK), dtype=bool))
    marked[untouched] = band[untouched]
    return marked


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _block_means(band: np.ndarray) -> np.ndarray:
    """Each block's mean brightness in grey levels (the Haar half-size band holds twice the pixels' mean)."""
    rows, cols = band.shape[0] // BLOCK, band.shape[1] // BLOCK
    return band[: rows * BLOCK, : cols * BLOCK].reshape(rows, BLOCK, cols, BLOCK).mean(axis=(1, 3)) / 2


def _within(means: np.ndarray, margin: float) -> np.ndarray:
    """The blocks whose mean brightness keeps *margin* from black and from white."""
    return (means > margin) & (means < 255 - margin)


def _candidate_sizes(image: Image.Image) -> Iterator[Image.Image]:
    long_side = max(image.size)
    if long_side <= THUMBNAIL_SIDE:
        yield image
    if long_side == THUMBNAIL_SIDE:
        return
    # The short side it had is known only to a pixel (a halved 171 is 86, and so is a halved 172),
    # and a grid stretched by one pixel loses much of the mark: each neighbour is tried.
    scale = THUMBNAIL_SIDE / long_side
    short = round(min(image.size) * scale)
    for side in sorted({max(1, short - 1), short, short + 1} - {0}, key=lambda each: abs(each - short)):
        yield image.resize((THUMBNAIL_SIDE, side) if image.width >= image.height else (side, THUMBNAIL_SIDE), Image.BICUBIC)


def _phases(image: Image.Image) -> BlockPhases:
    rgb = np.asarray(image, dtype=np.float64)
    rows, cols = min(rgb.shape[0] // PIXELS, GRID), min(rgb.shape[1] // PIXELS, GRID)
    if rows * cols < MIN_BLOCKS:
        return BlockPhases(np.zeros(0), np.zeros((rows, cols), dtype=bool))
    band, _ = pywt.dwt2(_luma(rgb[: rows * PIXELS, : cols * PIXELS]), "haar")
    usable = _within(_block_means(band), _READ_MARGIN)
    coder = _LatticeCoder([], wmLen=rows * cols, scales=[STRENGTH, 0, 0], block=BLOCK)
    raw = np.array([each[0] for each in coder.decode_frame(band, STRENGTH, [[] for _ in range(rows * cols)])]).reshape(rows, cols)
    return BlockPhases((raw - _DITHER[:rows, :cols])[usable], usable)


def _correlate(phases: BlockPhases, shop: str) -> Reading:
    count = int(phases.usable.sum())
    if count < MIN_BLOCKS:
        return Reading(0.0, count)
    rows, cols = phases.usable.shape
    signs = 2.0 * shop_bits(shop, rows, cols)[phases.usable] - 1.0
    # 0 on the lattice of bit 0, 1 on bit 1's, 1/2 half-way: a block near a boundary says little.
    soft = 0.5 - 0.5 * np.cos(2 * np.pi * (phases.phases - 0.25))
    # Centred, so an offset shared by every block (a flat, re-quantised image) cancels out.
    centred = soft - soft.mean()
    spread = float(np.sqrt(np.mean(centred**2) * count))
    return Reading(float(centred @ signs) / spread if spread > 0 else 0.0, count)
