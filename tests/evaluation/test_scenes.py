"""The scenes evaluation's photos: real backgrounds with catalogue products pasted where the report says."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evaluation.scenes import (
    AREA,
    MAX_COVER,
    SCENE_SIDE,
    _covered,
    backgrounds,
    iou,
    make_scenes,
)
from plugin.config import Config
from sample_data.distractors import prepare_distractors
from sample_data.vendure import prepare_vendure


@pytest.fixture(scope="module")
def made(base_config: Config) -> list:
    photos = prepare_distractors(base_config.data_dir).parent / "photos"
    rows = [json.loads(line) for line in prepare_vendure(base_config.data_dir).read_text(encoding="utf-8").splitlines()]
    return make_scenes(backgrounds(photos), {row["id"]: Path(row["images"][0]) for row in rows}, 24, seed=5)


def test_backgrounds_are_real_photos_large_enough_to_be_a_scene(base_config: Config) -> None:
    found = backgrounds(prepare_distractors(base_config.data_dir).parent / "photos")
    assert len(found) >= 30
    assert all(min(Image.open(path).size) >= 256 for path in found)
    assert not any(path.name.startswith(("cifar", "fmnist")) for path in found)


def test_each_scene_holds_one_to_three_products_of_the_promised_size_inside_the_frame(made: list) -> None:
    for scene in made:
        assert 256 <= min(scene.image.size) and max(scene.image.size) <= SCENE_SIDE
        assert 1 <= len(scene.placements) <= 3
        for placement in scene.placements:
            left, top, right, bottom = placement.box
            assert 0 <= left < right <= 1 and 0 <= top < bottom <= 1
            # A rotated product's box grows with its corners; an unrotated one covers 15-50% of the frame.
            assert AREA[0] * 0.8 <= placement.area <= 1.0
        for earlier, later in zip(scene.placements, scene.placements[1:]):
            assert _covered(earlier.box, later.box) <= MAX_COVER + 1e-9


def test_a_scene_shows_its_product_where_its_box_says(made: list, base_config: Config) -> None:
    scene = made[0]
    placement = scene.largest
    left, top, right, bottom = (round(v * s) for v, s in zip(placement.box, scene.image.size * 2))
    inside = np.asarray(scene.image.crop((left, top, right, bottom)), np.float32)
    background = np.asarray(Image.open(next(p for p in backgrounds(prepare_distractors(base_config.data_dir).parent / "photos") if p.name == scene.background)).convert("RGB").resize(scene.image.size).crop((left, top, right, bottom)), np.float32)
    assert np.abs(inside - background).mean() > 20  # the pasted product, not the background, is there


def test_the_same_seed_makes_the_same_scenes(base_config: Config, made: list) -> None:
    photos = prepare_distractors(base_config.data_dir).parent / "photos"
    rows = [json.loads(line) for line in prepare_vendure(base_config.data_dir).read_text(encoding="utf-8").splitlines()]
    again = make_scenes(backgrounds(photos), {row["id"]: Path(row["images"][0]) for row in rows}, 24, seed=5)
    assert [s.placements for s in again] == [s.placements for s in made]
    assert np.array_equal(np.asarray(again[3].image), np.asarray(made[3].image))


def test_overlap_is_measured_as_a_share_of_the_box_underneath() -> None:
    assert _covered((0, 0, 0.5, 0.5), (0.25, 0, 0.75, 0.5)) == pytest.approx(0.5)
    assert iou((0, 0, 0.5, 0.5), (0.25, 0, 0.75, 0.5)) == pytest.approx(1 / 3)
