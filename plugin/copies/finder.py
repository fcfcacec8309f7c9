"""Which catalogue images are copies of one photo: candidates by k-NN, judged on their evidence."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from opensearchpy import OpenSearch
from PIL import Image

from plugin.copies.evidence import (
    CopyRule,
    Evidence,
    compare,
    photo_hashes,
    stored_hash,
)

#: Products whose photos are weighed as copies of a photo; a copy is among the nearest few.
CANDIDATES = 20


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
    client: OpenSearch, alias: str, photo: Image.Image, vector: np.ndarray, rule: CopyRule, candidates: int = CANDIDATES
) -> list[CopyMatch]:
    """The images of the products behind *alias* that *rule* judges copies of *photo* (*vector* is its
    image vector), most certain first."""
    matches = []
    for candidate in nearest_photos(client, alias, photo, vector, candidates):
        reason = rule.reason(candidate.evidence)
        if reason:
            matches.append(CopyMatch(**vars(candidate), reason=reason))
    return sorted(matches, key=lambda m: (m.evidence.hash_distance, -m.evidence.similarity))


def nearest_photos(client: OpenSearch, alias: str, photo: Image.Image, vector: np.ndarray, candidates: int = CANDIDATES) -> list[Candidate]:
    """Each photo of the *candidates* products nearest to *vector* by k-NN, weighed on its own so
    the evidence names the photo that was copied."""
    hashes = photo_hashes(photo)
    body = {
        "size": candidates,
        "_source": ["product_id", "title", "brand", "images.url", "images.fingerprint", "images.phash", "images.vector"],
        "query": {"nested": {"path": "images", "score_mode": "max", "query": {"knn": {"images.vector": {"vector": vector.tolist(), "k": candidates}}}}},
    }
    found: list[Candidate] = []
    for hit in client.search(index=alias, body=body)["hits"]["hits"]:
        found.extend(_product_photos(hit["_source"], hashes, vector))
    return found


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
