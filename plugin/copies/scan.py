"""Copies inside the catalogue: every pair of photos of different products that the rule judges copies.

All photos' vectors and hashes are read once and compared in blocks in memory (exact, no
approximation: a scan is run by an operator, not on a shopper's time). Each photo's few nearest
photos of other products by vector also have their keypoints matched, read from the stored
thumbnails, so a crop of another seller's photo is found too. Pairs are joined into groups, so
three sellers using one photo are one finding, not three.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from opensearchpy import OpenSearch, helpers

from plugin.copies.evidence import (
    HASH_BITS,
    CopyRule,
    Evidence,
    hash_distances,
    stored_hash,
)
from plugin.copies.keypoints import Keypoints, matching_points

#: Photos compared with all the others at once: a block holds 256 x photos similarities and
#: hash distances (about 3 KB per photo, 300 MB at 100,000 photos).
BLOCK = 256
#: Nearest photos of other products, by vector, whose keypoints each photo's are matched with.
NEIGHBOURS = 3
#: Photos whose keypoints are kept between blocks (about 100 KB each, a photo and its mirror).
KEPT_KEYPOINTS = 4096

#: Reads the keypoints of the photos with these fingerprints, each photo's own first and its
#: mirror image's second (see :func:`plugin.copies.finder.load_keypoints`).
KeypointReader = Callable[[list[str]], dict[str, tuple[Keypoints, ...]]]


@dataclasses.dataclass(frozen=True)
class CataloguePhoto:
    product_id: str
    title: str
    brand: str | None
    url: str
    fingerprint: str


@dataclasses.dataclass(frozen=True)
class CatalogueImages:
    """Every photo of the catalogue (gallery views left out), with its vector and hash."""

    photos: list[CataloguePhoto]
    vectors: np.ndarray  # (photos, dims), unit length
    hashes: np.ndarray  # (photos,) uint64
    hashed: np.ndarray  # (photos,) bool: indexed with a perceptual hash


@dataclasses.dataclass(frozen=True)
class CopyPair:
    first: CataloguePhoto
    second: CataloguePhoto
    evidence: Evidence
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"photos": [dataclasses.asdict(self.first), dataclasses.asdict(self.second)], **self.evidence.as_dict(), "reason": self.reason}


def load_catalogue_images(client: OpenSearch, alias: str) -> CatalogueImages:
    """Read every product's photos behind *alias* with one scroll."""
    photos: list[CataloguePhoto] = []
    vectors: list[list[float]] = []
    hashes: list[int] = []
    hashed: list[bool] = []
    fields = ["product_id", "title", "brand", "images.url", "images.fingerprint", "images.phash", "images.vector", "images.view"]
    for hit in helpers.scan(client, index=alias, query={"query": {"match_all": {}}}, _source=fields, size=200):
        source = hit["_source"]
        for image in source.get("images", []):
            if image.get("view"):
                continue  # a gallery view is the same photo again
            value = stored_hash(image.get("phash", ""))
            photos.append(
                CataloguePhoto(source.get("product_id", hit["_id"]), source.get("title", ""), source.get("brand"), image.get("url", ""), image.get("fingerprint", ""))
            )
            vectors.append(image["vector"])
            hashes.append(value or 0)
            hashed.append(value is not None)
    matrix = np.asarray(vectors, np.float32) if vectors else np.zeros((0, 0), np.float32)
    return CatalogueImages(photos, matrix, np.asarray(hashes, np.uint64), np.asarray(hashed, bool))


def scan_catalogue(images: CatalogueImages, rule: CopyRule, keypoints: KeypointReader | None = None, neighbours: int = NEIGHBOURS) -> list[CopyPair]:
    """Every pair of photos of two different products that *rule* judges copies, most certain first;
    with *keypoints*, each photo's *neighbours* nearest photos of other products are also matched
    by keypoint."""
    pairs = [
        pair
        for first, second, evidence in _close_pairs(images, rule, keypoints, neighbours)
        if (pair := _pair(images, first, second, evidence, rule))
    ]
    return sorted(pairs, key=lambda p: (p.evidence.hash_distance, -p.evidence.similarity))


def copy_groups(pairs: list[CopyPair]) -> list[dict[str, Any]]:
    """The pairs joined into groups of photos that are copies of one another, largest first."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for pair in pairs:
        parent[root(_key(pair.first))] = root(_key(pair.second))
    groups: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        group = groups.setdefault(root(_key(pair.first)), {"photos": {}, "pairs": []})
        for photo in (pair.first, pair.second):
            group["photos"][_key(photo)] = dataclasses.asdict(photo)
        group["pairs"].append(pair.as_dict())
    out = []
    for group in groups.values():
        photos = list(group["photos"].values())
        out.append(
            {
                "products": sorted({p["product_id"] for p in photos}),
                "sellers": sorted({p["brand"] for p in photos if p["brand"]}),
                "photos": photos,
                "pairs": group["pairs"],
            }
        )
    return sorted(out, key=lambda g: -len(g["photos"]))


def _close_pairs(images: CatalogueImages, rule: CopyRule, keypoints: KeypointReader | None, neighbours: int) -> Iterator[tuple[int, int, Evidence]]:
    owners = np.asarray([photo.product_id for photo in images.photos])
    verified: set[tuple[int, int]] = set()
    kept: dict[str, tuple[Keypoints, ...]] = {}
    for start in range(0, len(images.photos), BLOCK):
        block = slice(start, min(start + BLOCK, len(images.photos)))
        similarity = images.vectors[block] @ images.vectors.T
        distance = hash_distances(images.hashes[block], images.hashes)
        distance[:, ~images.hashed] = HASH_BITS
        distance[~images.hashed[block], :] = HASH_BITS
        joint = (distance <= rule.joint_hash_distance) & (similarity >= rule.joint_similarity)
        match = (distance <= rule.hash_distance) | (similarity >= rule.similarity) | joint
        rows = np.arange(block.start, block.stop)
        others = owners[None, :] != owners[block, None]  # a product's own photos may look alike
        match &= others & (np.arange(len(images.photos))[None, :] > rows[:, None])  # each pair once
        for r, c in zip(*np.nonzero(match)):
            verified.add((int(rows[r]), int(c)))
            yield int(rows[r]), int(c), Evidence(int(distance[r, c]), float(similarity[r, c]))
        if keypoints is not None and neighbours > 0:
            yield from _matched_by_keypoints(images, rows, np.where(others, similarity, -np.inf), distance, keypoints, neighbours, verified, kept)


def _matched_by_keypoints(
    images: CatalogueImages,
    rows: np.ndarray,
    similarity: np.ndarray,
    distance: np.ndarray,
    keypoints: KeypointReader,
    neighbours: int,
    verified: set[tuple[int, int]],
    kept: dict[str, tuple[Keypoints, ...]],
) -> Iterator[tuple[int, int, Evidence]]:
    """The block's pairs with each photo's *neighbours* nearest photos of other products, with their
    keypoints counted; *verified* holds the pairs already judged, so none is counted twice, and
    *kept* the keypoints read in earlier blocks, so a photo is described once while they fit."""
    nearest = np.argsort(-similarity, axis=1)[:, :neighbours]
    wanted = []
    for r, row in enumerate(rows):
        for c in nearest[r]:
            pair = (min(int(row), int(c)), max(int(row), int(c)))
            if np.isfinite(similarity[r, c]) and pair not in verified:
                verified.add(pair)
                wanted.append((r, int(c)))
    if not wanted:
        return
    fingerprints = [images.photos[i].fingerprint for i in {int(rows[r]) for r, _ in wanted} | {c for _, c in wanted}]
    if len(kept) > KEPT_KEYPOINTS:
        kept.clear()
    kept.update(keypoints([f for f in fingerprints if f not in kept]))
    stored = kept
    for r, c in wanted:
        first, second = stored.get(images.photos[rows[r]].fingerprint), stored.get(images.photos[c].fingerprint)
        if first is None or second is None:
            continue
        points = matching_points(first, second[0])
        if points:
            low, high = sorted((int(rows[r]), c))
            yield low, high, Evidence(int(distance[r, c]), float(similarity[r, c]), keypoints=points)


def _pair(images: CatalogueImages, first: int, second: int, evidence: Evidence, rule: CopyRule) -> CopyPair | None:
    reason = rule.reason(evidence)
    return CopyPair(images.photos[first], images.photos[second], evidence, reason) if reason else None


def _key(photo: CataloguePhoto) -> str:
    return f"{photo.product_id}\n{photo.fingerprint or photo.url}"
