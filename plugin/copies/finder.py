"""Which catalogue images are copies of one photo: candidates by k-NN, judged on their evidence."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import numpy as np
from opensearchpy import OpenSearch
from PIL import Image, UnidentifiedImageError

from plugin.copies.evidence import (
    CopyRule,
    Evidence,
    compare,
    photo_hashes,
    stored_hash,
)
from plugin.copies.keypoints import Keypoints, describe, describe_both, matching_points
from plugin.images.thumbnails import load_thumbnails

#: Products whose photos are weighed as copies of a photo; a copy is among the nearest few.
CANDIDATES = 20
#: Photos, nearest by vector first, whose keypoints are matched against the photo's: in the
#: evaluation a cropped copy's own photo was always among the five nearest.
VERIFIED = 5


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One distinct catalogue photo near the query photo, with its product and the evidence."""

    product_id: str
    title: str
    brand: str | None
    image_url: str
    image_fingerprint: str
    evidence: Evidence


@dataclasses.dataclass(frozen=True)
class CopyMatch(Candidate):
    """A catalogue photo judged a copy of the query photo, and why."""

    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "product_id": self.product_id,
            "title": self.title,
            "brand": self.brand,
            "image_url": self.image_url,
            "image_fingerprint": self.image_fingerprint,
            **self.evidence.as_dict(),
            "reason": self.reason,
        }


def find_copies(
    client: OpenSearch, alias: str, photo: Image.Image, vector: np.ndarray, rule: CopyRule, thumbnails: str, candidates: int = CANDIDATES
) -> list[CopyMatch]:
    """The images of the products behind *alias* that *rule* judges copies of *photo* (*vector* is its
    image vector; *thumbnails* the index of the catalogue's thumbnails), most certain first."""
    matches = []
    for candidate in nearest_photos(client, alias, photo, vector, thumbnails, candidates):
        reason = rule.reason(candidate.evidence)
        if reason:
            matches.append(CopyMatch(**vars(candidate), reason=reason))
    return sorted(matches, key=lambda m: (m.evidence.hash_distance, -m.evidence.similarity))


def nearest_photos(
    client: OpenSearch, alias: str, photo: Image.Image, vector: np.ndarray, thumbnails: str | None, candidates: int = CANDIDATES
) -> list[Candidate]:
    """Each photo of the *candidates* products nearest to *vector* by k-NN, weighed on its own so
    the evidence names the photo that was copied; the :data:`VERIFIED` nearest also have their
    keypoints matched, read from their thumbnails in *thumbnails* (None: no keypoints)."""
    hashes = photo_hashes(photo)
    body = {
        "size": candidates,
        "_source": ["product_id", "title", "brand", "images.url", "images.fingerprint", "images.phash", "images.vector"],
        "query": {"nested": {"path": "images", "score_mode": "max", "query": {"knn": {"images.vector": {"vector": vector.tolist(), "k": candidates}}}}},
    }
    found: list[Candidate] = []
    for hit in client.search(index=alias, body=body)["hits"]["hits"]:
        found.extend(_product_photos(hit["_source"], hashes, vector))
    if thumbnails is None or not found:
        return found
    nearest = sorted(range(len(found)), key=lambda i: -found[i].evidence.similarity)[:VERIFIED]
    stored = load_keypoints(client, thumbnails, [found[i].image_fingerprint for i in nearest])
    views = describe_both(photo)
    for i in nearest:
        other = stored.get(found[i].image_fingerprint)
        if other is not None:
            found[i] = dataclasses.replace(found[i], evidence=dataclasses.replace(found[i].evidence, keypoints=matching_points(views, other[0])))
    return found


def load_keypoints(client: OpenSearch, thumbnails: str, fingerprints: list[str], mirrored: bool = False) -> dict[str, tuple[Keypoints, ...]]:
    """The keypoints of each stored thumbnail among *fingerprints* (and of its mirror image after
    them when *mirrored*); an image without a thumbnail, or with one that no longer decodes, is left out."""
    out: dict[str, tuple[Keypoints, ...]] = {}
    for fingerprint, webp in load_thumbnails(client, thumbnails, fingerprints).items():
        try:
            thumbnail = Image.open(io.BytesIO(webp))
            out[fingerprint] = describe_both(thumbnail) if mirrored else (describe(thumbnail),)
        except (UnidentifiedImageError, OSError):
            continue
    return out


def _product_photos(source: dict[str, Any], hashes: tuple[int, int], vector: np.ndarray) -> list[Candidate]:
    """One candidate per distinct photo of the product; a photo's gallery views (further vectors of
    the same photo) lend it their similarity, its own hash its distance."""
    best: dict[str, tuple[Evidence, dict[str, Any]]] = {}
    for image in source.get("images", []):
        similarity = float(np.dot(np.asarray(image["vector"], np.float32), vector))
        evidence = compare(hashes, stored_hash(image.get("phash", "")), similarity)
        key = image.get("fingerprint") or image.get("url", "")
        if key in best:
            held, first = best[key]
            closer = evidence if evidence.hash_distance < held.hash_distance else held
            evidence = dataclasses.replace(closer, similarity=max(similarity, held.similarity))
            image = first
        best[key] = (evidence, image)
    return [
        Candidate(
            product_id=source.get("product_id", ""),
            title=source.get("title", ""),
            brand=source.get("brand"),
            image_url=image.get("url", ""),
            image_fingerprint=fingerprint,
            evidence=evidence,
        )
        for fingerprint, (evidence, image) in best.items()
    ]
