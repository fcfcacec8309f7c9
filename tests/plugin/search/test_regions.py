"""Which parts of a query photo are searched: the whole photo, the detected objects, a grid of windows."""

from __future__ import annotations

import pytest
from PIL import Image

from plugin.models.detector import Box
from plugin.search import regions
from plugin.search.regions import WHOLE, Detection, Region


def test_the_grid_spreads_its_windows_evenly_from_corner_to_corner() -> None:
    assert regions.grid(0, 0.6) == []
    assert regions.grid(1, 0.5) == [(0.25, 0.25, 0.75, 0.75)]
    windows = [value for window in regions.grid(2, 0.6) for value in window]
    assert windows == pytest.approx([0, 0, 0.6, 0.6, 0.4, 0, 1, 0.6, 0, 0.4, 0.6, 1, 0.4, 0.4, 1, 1])
    assert len(regions.grid(3, 0.5)) == 9 and max(w[2] for w in regions.grid(3, 0.5)) == pytest.approx(1.0)


def test_salient_boxes_are_widened_ordered_and_never_too_thin_to_crop_again() -> None:
    big_centred = Box(0.3, 0.3, 0.7, 0.7, 0.3, "chair")
    small_corner = Box(0.0, 0.0, 0.15, 0.15, 0.6, "cup")
    sliver = Box(0.5, 0.1, 0.52, 0.9, 0.9, "knife")  # 0.02 wide: too thin to search
    speck = Box(0.5, 0.5, 0.55, 0.55, 0.9, "ball")  # under 1% of the photo
    found = regions.salient([small_corner, sliver, big_centred, speck], limit=5)
    assert [box.label for box in found] == ["chair", "cup"]
    assert found[0].coords() == pytest.approx([0.26, 0.26, 0.74, 0.74])  # 10% of its size added on each side
    assert found[1].left == 0.0 and found[1].right == pytest.approx(0.165)  # never past the photo's edge
    assert all(box.right - box.left >= regions.MIN_SIDE and box.bottom - box.top >= regions.MIN_SIDE for box in found)
    assert regions.salient([small_corner, big_centred], limit=1) == found[:1]


def test_auto_searches_the_whole_photo_first_then_the_objects_then_the_windows() -> None:
    photo = Image.new("RGB", (640, 480), "white")
    boxes = [Box(0.1, 0.1, 0.5, 0.6, 0.5, "chair")]
    found = regions.regions_for(photo, boxes, regions.grid(2, 0.6))
    assert [region for region, _ in found][:2] == [WHOLE, Region((0.1, 0.1, 0.5, 0.6), "object", 0)]
    assert [region.kind for region, _ in found] == ["photo", "object", "window", "window", "window", "window"]
    assert found[1][1].size == (256, 240)  # the object's own pixels


def test_regions_too_small_to_match_anything_are_left_out() -> None:
    thumbnail = Image.new("RGB", (90, 90), "white")  # a window of 0.6 is 54 pixels: enough; a box of 0.3 is not
    found = regions.regions_for(thumbnail, [Box(0.0, 0.0, 0.3, 0.3, 0.9, "cup")], regions.grid(2, 0.6))
    assert [region.kind for region, _ in found] == ["photo", "window", "window", "window", "window"]
    assert [region.kind for region, _ in regions.regions_for(Image.new("RGB", (60, 60)), [], regions.grid(2, 0.6))] == ["photo"]


def test_the_region_that_found_a_product_is_the_one_whose_weighted_match_scored_it() -> None:
    whole, window = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]
    product_photos = [[0.0, 0.8, 0.6], [0.6, 0.0, 0.8]]
    best, cosines = regions.closest_region([whole, window], [1.0, 1.0], product_photos)
    assert best == 1 and cosines == pytest.approx([0.6, 0.8])
    # A window only a little closer than the whole photo loses once its weight is counted, as in the search.
    product = [[1.0, 0.0, 0.0]]
    whole, window = [0.8, 0.6, 0.0], [0.805, 0.5933, 0.0]  # cosines 0.8 and 0.805
    assert regions.closest_region([whole, window], [1.0, 1.0], product)[0] == 1
    assert regions.closest_region([whole, window], [1.0, 0.99], product)[0] == 0  # 0.99 × 0.9025 < 0.9


def test_a_region_that_is_the_whole_photo_again_is_searched_once() -> None:
    photo = Image.new("RGB", (640, 480), "white")
    everything = Box(0.0, 0.0, 1.0, 0.98, 0.4, "dining_table")
    found = regions.regions_for(photo, [everything], regions.grid(1, 0.9))
    assert [region.kind for region, _ in found] == ["photo", "window"]
    assert [region.kind for region, _ in regions.regions_for(photo, [everything], [])] == ["photo"]


def test_a_huge_photo_is_cut_from_a_working_copy_no_larger_than_needed() -> None:
    huge = Image.new("RGB", (6000, 4000), "white")
    working = regions.working_copy(huge)
    assert working.size == (regions.WORKING_SIDE, round(regions.WORKING_SIDE * 4000 / 6000))
    small = Image.new("RGB", (640, 480))
    assert regions.working_copy(small) is small


def test_the_json_names_the_object_searched_and_explains_every_region() -> None:
    box = Box(0.1, 0.2, 0.5, 0.6, 0.42, "chair")
    detection = Detection("auto", [box], [WHOLE, Region((0.1, 0.2, 0.5, 0.6), "object", 0), Region((0.0, 0.0, 0.6, 0.6), "window")])
    detection.matched, detection.matched_scores = 1, [0.7, 0.9, 0.8]
    plain = detection.json(explain=False)
    assert plain == {
        "mode": "auto", "boxes": [{"box": [0.1, 0.2, 0.5, 0.6], "score": 0.42, "label": "chair"}],
        "searched": 0, "searched_region": [0.1, 0.2, 0.5, 0.6],
    }
    explained = detection.json(explain=True)["regions"]
    assert [region["kind"] for region in explained] == ["photo", "object", "window"]
    assert explained[1] == {"box": [0.1, 0.2, 0.5, 0.6], "kind": "object", "object": 0, "first_result_cosine": 0.9}
    detection.matched = 2
    assert detection.json(explain=False)["searched"] is None  # found by a window, not by an object
