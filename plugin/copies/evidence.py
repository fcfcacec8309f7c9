"""The evidence that one image is a copy of another, and the rule that weighs it.

Three signals, because each misses what the others see:

* the **perceptual hash** (the 64-bit DCT hash ingest stores for every image) barely moves
  under resizing, recompression, recolouring or a caption, and not at all between exact
  copies, but a crop or a flip changes it completely; the photo's mirror image is hashed too,
  so a flipped copy is caught;
* the **image vector** (the product's own model) holds through crops, flips and overlays, but
  two different photos of similar products can come close, so it alone must clear a higher bar;
* **matching keypoints** (:mod:`plugin.copies.keypoints`) hold through crops, turns, captions
  and blocks laid over the photo, where both of the others fall away, and are counted only
  for the few catalogue photos nearest by vector, since they cost milliseconds a pair.

A pair is a copy when its hashes are close, or when its vectors are very close, or when both
are moderately close, or when enough keypoints match in one layout; the thresholds are
:class:`CopyRule`'s, chosen by ``lookalike eval copies``.
"""

from __future__ import annotations

import dataclasses

import imagehash
import numpy as np
from PIL import Image, ImageOps

#: Bits in a perceptual hash (imagehash's 8 x 8 DCT hash).
HASH_BITS = 64


@dataclasses.dataclass(frozen=True)
class CopyRule:
    """When a pair of images counts as a copy (see the module's docstring)."""

    #: Perceptual hash distance (bits of 64) at or under which two images are the same picture.
    hash_distance: int = 8
    #: Cosine of the image vectors at or over which two images are the same picture.
    similarity: float = 0.93
    #: Hash distance at or under which ``joint_similarity`` is enough.
    joint_hash_distance: int = 18
    joint_similarity: float = 0.85
    #: Keypoints matching in one layout at or over which two images are the same picture.
    keypoints: int = 22

    def reason(self, evidence: Evidence) -> str | None:
        """Why *evidence* shows a copy, in a sentence; None when it does not."""
        distance, similarity = evidence.hash_distance, evidence.similarity
        if distance <= self.hash_distance:
            return f"the same picture by its perceptual hash ({distance} of {HASH_BITS} bits differ)"
        if similarity >= self.similarity:
            return f"the same picture by its content (similarity {similarity:.3f})"
        if distance <= self.joint_hash_distance and similarity >= self.joint_similarity:
            return f"close in both perceptual hash ({distance} bits) and content (similarity {similarity:.3f})"
        if evidence.keypoints >= self.keypoints:
            return f"the same picture, cropped, turned or drawn over ({evidence.keypoints} details match in the same layout)"
        return None


@dataclasses.dataclass(frozen=True)
class Evidence:
    """How close two images are: hash distance (the nearer of the photo and its mirror image), vector
    cosine and keypoints matching in one layout (0 where not counted)."""

    hash_distance: int
    similarity: float
    mirrored: bool = False
    keypoints: int = 0

    def as_dict(self) -> dict[str, float | int | bool]:
        return {"hash_distance": self.hash_distance, "similarity": round(self.similarity, 4), "mirrored": self.mirrored, "keypoints": self.keypoints}


def photo_hashes(photo: Image.Image) -> tuple[int, int]:
    """The perceptual hash of *photo* and of its mirror image, as integers (ingest's hash, read the same way)."""
    return _as_int(str(imagehash.phash(photo))), _as_int(str(imagehash.phash(ImageOps.mirror(photo))))


def stored_hash(text: str) -> int | None:
    """An indexed image's ``phash`` as an integer; None for an image indexed without one."""
    try:
        return _as_int(text) if text else None
    except ValueError:
        return None


def compare(hashes: tuple[int, int], other_hash: int | None, similarity: float) -> Evidence:
    """The evidence between a photo (its two hashes) and an indexed image (its hash and their cosine)."""
    if other_hash is None:
        return Evidence(HASH_BITS, similarity)
    straight, mirrored = (hash_distance(h, other_hash) for h in hashes)
    return Evidence(min(straight, mirrored), similarity, mirrored < straight)


def hash_distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def hash_distances(hashes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Pairwise bit distances between two arrays of 64-bit hashes (``uint64``), ``(len(hashes), len(others))``."""
    return np.bitwise_count(hashes[:, None] ^ others[None, :]).astype(np.int64)


def _as_int(text: str) -> int:
    return int(text, 16)
