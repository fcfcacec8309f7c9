"""``detect`` on ``POST /search``: the objects in a shopper's photo found, searched, and shown.

The photo is made on the spot: the tennis ball's and the laptop's demo photos pasted onto a
real photo of a drum at known places (``tests/support/scenes.py``), so each box can be told
apart by where it lies, not by the detector's class names.
"""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from api.app import create_app
from plugin.config import Config
from tests.support.images import jpeg
from tests.support.scenes import Scene, background_photo, ball_and_laptop, scene


@pytest.fixture(scope="module")
def api(shop_config: Config) -> FlaskClient:
    return create_app(shop_config, warm=False).test_client()


@pytest.fixture
def drum(shop_config: Config, products: dict[str, dict[str, Any]], tmp_path: Path) -> Scene:
    return ball_and_laptop(shop_config.data_dir, products, tmp_path / "drum.jpg")


def search(api: FlaskClient, made: Scene, **fields: Any) -> dict[str, Any]:
    response = api.post("/search", json={"image_base64": base64.b64encode(jpeg(made.image, quality=90)).decode(), **fields})
    assert response.status_code == 200, response.get_json()
    answer: dict[str, Any] = response.get_json()
    return answer


def test_auto_is_the_default_and_returns_the_objects_it_found(api: FlaskClient, drum: Scene) -> None:
    answer = search(api, drum, size=5)
    detection = answer["detection"]
    assert detection["mode"] == "auto"
    assert {drum.product_under(found["box"]) for found in detection["boxes"]} >= {"Tennis Ball", "Laptop"}
    assert all(set(found) == {"box", "score", "label"} for found in detection["boxes"])
    # Both products are on the first page: each is matched by the region that holds it.
    assert {"Tennis Ball", "Laptop"} <= set(titles_of(answer))
    # The region that found the first result lies over that product.
    assert drum.product_under(detection["searched_region"]) == titles_of(answer)[0]


def test_a_small_product_in_a_busy_photo_is_found_with_auto_and_lost_with_off(
    api: FlaskClient, shop_config: Config, products: dict[str, dict[str, Any]]
) -> None:
    # The tripod's photo at a fifth of the frame's width, low on the right of the drum photo.
    made = scene(background_photo(shop_config.data_dir), [("Tripod", products["Tripod"]["images"][0], (0.72, 0.5, 0.2))])
    found = titles_of(search(api, made, size=3, detect="auto"))
    whole = titles_of(search(api, made, size=3, detect="off"))
    assert found[0] == "Tripod"
    assert whole[0] != "Tripod"


def test_off_searches_the_whole_photo_and_says_so(api: FlaskClient, drum: Scene) -> None:
    answer = search(api, drum, size=5, detect="off", explain=True)
    assert answer["detection"] == {"mode": "off", "boxes": [], "searched": None, "regions": [{"box": [0, 0, 1, 1], "kind": "photo"}]}


def test_all_gives_one_group_of_results_per_object(api: FlaskClient, drum: Scene) -> None:
    answer = search(api, drum, size=3, detect="all")
    boxes, groups = answer["detection"]["boxes"], answer["groups"]
    assert answer["detection"]["mode"] == "all" and groups
    assert [group["index"] for group in groups] == sorted(group["index"] for group in groups)
    firsts = {}
    for group in groups:
        assert group["box"] == boxes[group["index"]]["box"]
        assert set(group) == {"box", "score", "label", "index", "total", "hits"} and len(group["hits"]) <= 3
        firsts[drum.product_under(group["box"])] = group["hits"][0]["title"]
    assert firsts.get("Tennis Ball") == "Tennis Ball" and firsts.get("Laptop") == "Laptop"


def test_explain_lists_every_region_searched_with_its_match_to_the_first_result(api: FlaskClient, drum: Scene, shop_config: Config) -> None:
    detection = search(api, drum, size=3, explain=True)["detection"]
    kinds = [region["kind"] for region in detection["regions"]]
    settings = shop_config.detect
    assert kinds[0] == "photo" and kinds.count("window") == settings.grid**2
    assert 1 <= kinds.count("object") <= settings.candidates
    cosines = [region["first_result_cosine"] for region in detection["regions"]]
    assert detection["regions"][cosines.index(max(cosines))]["box"] == detection["searched_region"]


def test_only_the_first_page_in_relevance_order_names_the_region_of_the_first_result(api: FlaskClient, drum: Scene) -> None:
    first = search(api, drum, size=2)["detection"]
    later = search(api, drum, size=2, page=2)["detection"]
    sorted_by_price = search(api, drum, size=2, sort="price_asc")["detection"]
    assert "searched_region" in first
    assert later["boxes"] == first["boxes"] and "searched_region" not in later and later["searched"] is None
    assert "searched_region" not in sorted_by_price


def test_the_groups_of_all_are_each_objects_first_page_whatever_page_the_whole_photo_is_on(api: FlaskClient, drum: Scene) -> None:
    first = search(api, drum, size=3, detect="all")
    later = search(api, drum, size=3, detect="all", page=2, facets=True)
    assert [g["hits"] for g in later["groups"]] == [g["hits"] for g in first["groups"]]
    assert titles_of(later) != titles_of(first) and "facets" in later
    assert all(set(group) == {"box", "score", "label", "index", "total", "hits"} for group in later["groups"])


def test_with_the_image_signal_off_the_photo_is_not_looked_into(api: FlaskClient, drum: Scene) -> None:
    detection = search(api, drum, size=3, text="laptop", weights={"image": 0})["detection"]
    assert detection["boxes"] == [] and "weights.image" in detection["reason"]


def test_a_box_returned_can_be_searched_again_as_the_shoppers_crop(api: FlaskClient, drum: Scene) -> None:
    boxes = search(api, drum, size=1)["detection"]["boxes"]
    laptop = next(found["box"] for found in boxes if drum.product_under(found["box"]) == "Laptop")
    answer = search(api, drum, size=1, crop=laptop)
    assert titles_of(answer) == ["Laptop"]
    assert "detection" not in answer  # the shopper's own box is searched as it is


def test_an_unknown_mode_is_refused_naming_the_field(api: FlaskClient, drum: Scene) -> None:
    response = api.post("/search", json={"image_base64": base64.b64encode(jpeg(drum.image)).decode(), "detect": "some"})
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "detect"


def test_a_thumbnail_sized_photo_is_searched_whole(api: FlaskClient, drum: Scene) -> None:
    small = drum.image.resize((80, 53))
    detection = search(api, Scene(small, {}), size=1)["detection"]
    assert detection["boxes"] == [] and "too small" in detection["reason"]


def test_without_a_detector_photos_are_still_searched_whole(shop_config: Config, drum: Scene, tmp_path: Path) -> None:
    bare = dataclasses.replace(shop_config, detect=dataclasses.replace(shop_config.detect, cache_dir=tmp_path, model_file=None))
    answer = search(create_app(bare, warm=False).test_client(), drum, size=3)
    assert answer["detection"]["boxes"] == [] and "lookalike detector build" in answer["detection"]["reason"]
    assert answer["hits"]


def titles_of(answer: dict[str, Any]) -> list[str]:
    return [hit["title"] for hit in answer["hits"]]
