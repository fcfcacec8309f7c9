"""The object detector: the converted CenterNet finds the products in a photo, and its maps decode as CenterNet's do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from plugin.config import Config
from plugin.models.detector import STRIDE, Box, Detector, decode, suppress
from plugin.models.detector_build import detector_file
from plugin.models.registry import detector_for
from tests.support.scenes import background_photo, ball_and_laptop, scene


@pytest.fixture(scope="module")
def detector(base_config: Config) -> Detector:
    found = detector_for(base_config)
    if found is None:
        pytest.fail(f"no detector at {detector_file(base_config.detect.cache_dir, base_config.detect.size)}: run `lookalike detector build` (make test does)")
    return found


def lies_on(box: Box, photo: tuple[float, float, float, float]) -> bool:
    """Whether *box* lies on the pasted *photo*: most of it inside, and big enough to be the product, not a detail.

    The detector boxes the product inside its photo (a ball, not the ball's backdrop), so a
    box is compared with the pasted photo by containment rather than by overlap.
    """
    width = min(box.right, photo[2]) - max(box.left, photo[0])
    height = min(box.bottom, photo[3]) - max(box.top, photo[1])
    inside = max(0.0, width) * max(0.0, height)
    photo_area = (photo[2] - photo[0]) * (photo[3] - photo[1])
    return inside >= 0.7 * box.area and box.area >= 0.05 * photo_area


def test_it_finds_each_product_pasted_into_a_real_photo(
    detector: Detector, base_config: Config, products: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    # A tennis ball and a laptop on a photo of a drum, where they lie known to the pixel.
    made = ball_and_laptop(base_config.data_dir, products, tmp_path / "drum.jpg")
    boxes = detector.detect(made.image)
    for title, photo in made.placed.items():
        assert any(lies_on(box, photo) for box in boxes), f"no box over the {title}: {boxes}"
    assert not any(lies_on(box, made.placed["Laptop"]) and lies_on(box, made.placed["Tennis Ball"]) for box in boxes)


@pytest.mark.parametrize("where", [(0.55, 0.1, 0.3), (0.05, 0.45, 0.3), (0.35, 0.25, 0.3)])
def test_the_ball_is_boxed_wherever_it_lies(
    detector: Detector, base_config: Config, products: dict[str, dict[str, Any]], where: tuple[float, float, float]
) -> None:
    made = scene(background_photo(base_config.data_dir), [("Tennis Ball", products["Tennis Ball"]["images"][0], where)])
    boxes = detector.detect(made.image)
    assert any(lies_on(box, made.placed["Tennis Ball"]) for box in boxes), f"no box over the ball at {where}: {boxes}"


def test_boxes_come_strongest_first_within_the_photo(detector: Detector, base_config: Config, products: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    boxes = detector.detect(ball_and_laptop(base_config.data_dir, products, tmp_path / "drum.jpg").image)
    assert boxes, "the detector found nothing"
    assert [box.score for box in boxes] == sorted((box.score for box in boxes), reverse=True)
    assert all(0 <= box.left < box.right <= 1 and 0 <= box.top < box.bottom <= 1 for box in boxes)
    assert all(box.score >= detector.min_score for box in boxes)


def test_a_peak_of_the_heat_map_decodes_into_the_box_its_distances_draw() -> None:
    size = 64
    heat = np.zeros((size // STRIDE, size // STRIDE, 80), np.float32)
    distances = np.zeros((size // STRIDE, size // STRIDE, 4), np.float32)
    heat[5, 8, 56] = 0.9  # a chair centred at x = 32, y = 20 pixels
    heat[5, 9, 56] = 0.5  # its neighbour is no peak of its own
    distances[5, 8] = (8, 4, 16, 12)  # left, top, right, bottom from the centre
    boxes = decode(heat, distances, size)
    assert len(boxes) == 1
    box = boxes[0]
    assert box.label == "chair" and box.score == pytest.approx(0.9)
    assert box.coords() == pytest.approx([24 / 64, 16 / 64, 48 / 64, 32 / 64])


def test_suppression_keeps_the_stronger_of_two_overlapping_boxes_whatever_their_classes() -> None:
    strong = Box(0.1, 0.1, 0.5, 0.5, 0.8, "chair")
    overlapping = Box(0.12, 0.1, 0.52, 0.5, 0.6, "couch")
    apart = Box(0.6, 0.6, 0.9, 0.9, 0.4, "vase")
    weak = Box(0.0, 0.6, 0.2, 0.9, 0.05, "cup")
    assert suppress([strong, overlapping, apart, weak], iou=0.5, limit=8, min_score=0.1) == [strong, apart]
    assert suppress([strong, overlapping, apart], iou=0.5, limit=1, min_score=0.1) == [strong]


def test_the_cached_file_is_named_by_everything_its_build_depends_on(tmp_path: Path) -> None:
    assert detector_file(tmp_path, 384) != detector_file(tmp_path, 320)
    assert detector_file(tmp_path, 384) == detector_file(tmp_path, 384)
    assert detector_file(tmp_path, 384).parent == tmp_path
