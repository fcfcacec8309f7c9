"""The evidence between two photos: a perceptual hash that survives resizing and recolouring, its mirror for flips."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

from plugin.config import Config
from plugin.copies.evidence import (
    CopyRule,
    Evidence,
    compare,
    hash_distance,
    hash_distances,
    photo_hashes,
)
from sample_data.vendure import prepare_vendure


@pytest.fixture(scope="module")
def photos(base_config: Config) -> list[Image.Image]:
    images = sorted((prepare_vendure(base_config.data_dir).parent / "images").glob("*.jpg"))[:6]
    return [Image.open(path).convert("RGB").resize((400, 400)) for path in images]


def test_a_resized_recoloured_copy_keeps_its_hash_and_a_flipped_one_matches_the_mirror(photos: list[Image.Image]) -> None:
    original = photo_hashes(photos[0])[0]
    resized = photo_hashes(photos[0].resize((150, 150)))
    grey = photo_hashes(ImageOps.grayscale(photos[0]).convert("RGB"))
    brighter = photo_hashes(ImageEnhance.Brightness(photos[0]).enhance(1.3))
    flipped = photo_hashes(ImageOps.mirror(photos[0]))

    assert hash_distance(resized[0], original) <= 4
    assert hash_distance(grey[0], original) <= 6
    assert hash_distance(brighter[0], original) <= 6
    evidence = compare(flipped, original, 0.9)
    assert evidence.hash_distance == 0 and evidence.mirrored


def test_different_photos_are_far_apart_in_hash(photos: list[Image.Image]) -> None:
    hashes = [photo_hashes(photo)[0] for photo in photos]
    distances = [hash_distance(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1 :]]

    assert min(distances) > CopyRule().hash_distance


def test_the_block_hash_distances_equal_one_by_one_counts() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 2**63, size=5, dtype=np.uint64), rng.integers(0, 2**63, size=7, dtype=np.uint64)

    block = hash_distances(a, b)

    assert block.tolist() == [[hash_distance(int(x), int(y)) for y in b] for x in a]


def test_the_rule_names_the_evidence_that_decided() -> None:
    rule = CopyRule(hash_distance=8, similarity=0.95, joint_hash_distance=18, joint_similarity=0.8)

    assert "perceptual hash (3 of 64" in (rule.reason(Evidence(3, 0.1)) or "")
    assert "content (similarity 0.970)" in (rule.reason(Evidence(40, 0.97)) or "")
    assert "both" in (rule.reason(Evidence(15, 0.85)) or "")
    assert rule.reason(Evidence(15, 0.7)) is None
    assert rule.reason(Evidence(30, 0.9)) is None
