"""The search page in a real browser: a photo, the objects in it, a region of it, facets, more-like-this, the score breakdown."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Locator, Page, Response, Route, expect

from engine.local_redis import LocalRedis
from plugin.config import Config
from tests.support.browser import (
    ApiServer,
    card_titles,
    record_searches,
    screenshot,
    sent_searches,
    server_env,
    snapshot,
    wait_for_results,
)
from tests.support.images import degraded, jpeg
from tests.support.scenes import Scene, ball_and_laptop


def api_search(server: ApiServer, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(server.url + "/search", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_a_degraded_photo_of_a_demo_product_brings_that_product_first(
    page: Page, search_server: ApiServer, products: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    photo = tmp_path / "laptop.jpg"
    photo.write_bytes(degraded(products["Laptop"]["images"][0]))
    page.goto(search_server.url + "/")
    wait_for_results(page)
    before = snapshot(page)

    page.set_input_files("#photo", str(photo))
    wait_for_results(page, before)

    assert card_titles(page)[0] == "Laptop"
    expect(page.locator("#preview-image")).to_be_visible()
    screenshot(page, "search-page")


def test_a_box_drawn_on_the_photo_searches_that_region_only(
    page: Page, search_server: ApiServer, products: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    # Two products side by side in one photo; the box picks the one on the right.
    left, right = (Image.open(products[t]["images"][0]).convert("RGB").resize((400, 400)) for t in ("Tent", "Tennis Ball"))
    both = Image.new("RGB", (800, 400), "white")
    both.paste(left, (0, 0))
    both.paste(right, (400, 0))
    photo = tmp_path / "two-products.jpg"
    photo.write_bytes(jpeg(both, quality=85))
    page.goto(search_server.url + "/")
    wait_for_results(page)
    before = snapshot(page)
    page.set_input_files("#photo", str(photo))
    wait_for_results(page, before)
    whole = card_titles(page)

    image = page.locator("#preview-image").bounding_box()
    assert image is not None
    page.mouse.move(image["x"] + image["width"] * 0.53, image["y"] + image["height"] * 0.05)
    page.mouse.down()
    page.mouse.move(image["x"] + image["width"] * 0.75, image["y"] + image["height"] * 0.5, steps=5)
    page.mouse.move(image["x"] + image["width"] * 0.97, image["y"] + image["height"] * 0.95, steps=5)
    page.mouse.up()
    wait_for_results(page, snapshot(page))
    region = card_titles(page)

    assert region != whole
    assert region[0] == "Tennis Ball"
    expect(page.locator("#box")).to_be_visible()
    expect(page.locator("#clear-box")).to_be_visible()


def test_a_facet_narrows_the_results_and_the_counts_agree_with_the_api(page: Page, search_server: ApiServer) -> None:
    page.goto(search_server.url + "/")
    wait_for_results(page)
    before = snapshot(page)
    page.fill("#text", "camera")
    page.click("button[type=submit]")
    wait_for_results(page, before)

    body = {"text": "camera", "filters": {}, "sort": "relevance", "page": 1, "size": 24, "facets": True, "explain": True}
    unfiltered = api_search(search_server, body)
    shown = {
        label.get_attribute("data-value"): int(label.locator(".count").inner_text())
        for label in page.locator("fieldset[data-facet=category] label").all()
    }
    assert shown == {b["value"]: b["count"] for b in unfiltered["facets"]["category"] if b["count"] > 0}

    category = next(b for b in unfiltered["facets"]["category"] if 1 < b["count"] < unfiltered["total"])
    before = snapshot(page)
    page.locator(f"fieldset[data-facet=category] label[data-value='{category['value']}'] input").check()
    wait_for_results(page, before)

    filtered = api_search(search_server, {**body, "filters": {"category": category["value"]}})
    assert filtered["total"] == category["count"]  # what the facet promised is what the filter gives
    assert page.locator("#status").inner_text().startswith(f"{category['count']} products")
    assert card_titles(page) == [hit["title"] for hit in filtered["hits"]]
    assert all(hit["category"].startswith(category["value"]) for hit in filtered["hits"])
    chosen = page.locator(f"fieldset[data-facet=category] label[data-value='{category['value']}']")
    expect(chosen.locator("input")).to_be_checked()
    assert int(chosen.locator(".count").inner_text()) == category["count"]


def test_more_like_this_and_the_score_breakdown(page: Page, search_server: ApiServer) -> None:
    page.goto(search_server.url + "/")
    wait_for_results(page)
    before = snapshot(page)
    page.fill("#text", "bike")
    page.press("#text", "Enter")
    wait_for_results(page, before)
    first = page.locator("#grid .card").first
    title = first.locator(".title a").inner_text()

    first.locator(".why").click()
    table = first.locator(".explain table")
    expect(table).to_be_visible()
    assert "keywords" in table.inner_text() or "text" in table.inner_text()
    expect(first.locator(".why")).to_have_attribute("aria-expanded", "true")

    before = snapshot(page)
    first.locator(".more").click()
    wait_for_results(page, before)
    expect(page.locator("#like-text")).to_have_text(f"Showing products like {title}")
    assert title not in card_titles(page) and len(card_titles(page)) > 0


def test_the_first_paint_waits_for_nothing_and_thumbnails_are_small_and_cached(page: Page, search_server: ApiServer) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(search_server.url + "/")
    wait_for_results(page)

    assert page.locator("head script:not([defer])").count() == 0  # no script blocks parsing
    images = page.locator("#grid img")
    assert images.count() > 0
    assert all(img.get_attribute("loading") == "lazy" for img in images.all())
    assert all(url.startswith(search_server.url) for url in requested), "every asset comes from the API, none from a CDN"
    thumbnail = images.first.get_attribute("src")
    with urllib.request.urlopen(search_server.url + thumbnail, timeout=10) as response:
        assert "immutable" in response.headers["Cache-Control"]
        assert response.headers["Content-Type"] == "image/webp" and len(response.read()) < 30_000
    with urllib.request.urlopen(search_server.url + "/", timeout=10) as response:
        html = response.read().decode()
    css = html.split('href="', 2)[1].split('"', 1)[0]
    with urllib.request.urlopen(search_server.url + css, timeout=10) as response:
        assert "max-age=86400" in response.headers["Cache-Control"]


def test_the_page_is_keyboard_operable_and_labelled(page: Page, search_server: ApiServer) -> None:
    page.goto(search_server.url + "/")
    wait_for_results(page)
    for control in ("#photo", "#text", "#sort", "#profile"):
        assert page.locator(control).evaluate("el => el.labels.length > 0 || !!el.closest('label')")
    expect(page.locator("#status")).to_have_attribute("aria-live", "polite")
    before = snapshot(page)
    page.focus("#text")
    page.keyboard.type("tent")
    page.keyboard.press("Enter")
    wait_for_results(page, before)
    assert "Tent" in card_titles(page)[:3]


# -- the objects found in the shopper's photo ------------------------------------------------------


def is_search(response: Response) -> bool:
    return response.url.endswith("/search") and response.request.method == "POST"


def upload(page: Page, server: ApiServer, photo: Path) -> dict[str, Any]:
    """Open the search page, choose *photo*, and wait for its results; the API's answer."""
    record_searches(page)
    page.goto(server.url + "/")
    wait_for_results(page)
    before = snapshot(page)
    with page.expect_response(is_search) as answered:
        page.set_input_files("#photo", str(photo))
    wait_for_results(page, before)
    return answered.value.json()


def pressed(objects: Locator) -> list[bool]:
    return [button.get_attribute("aria-pressed") == "true" for button in objects.all()]


def another_product(scene: Scene, detection: dict[str, Any]) -> tuple[int, str]:
    """An object the automatic search did not pick, over a product other than the one it searched: its index and the product."""
    boxes = detection["boxes"]
    searched = None if detection["searched"] is None else scene.product_under(boxes[detection["searched"]]["box"])
    over = [(index, scene.product_under(found["box"])) for index, found in enumerate(boxes)]
    return next((index, title) for index, title in over if title is not None and title != searched)


def test_the_objects_found_in_a_photo_are_buttons_that_search_that_object(
    page: Page, search_server: ApiServer, shop_config: Config, products: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    # A tennis ball and a laptop pasted onto a photo of a drum, at places known to the pixel.
    scene = ball_and_laptop(shop_config.data_dir, products, tmp_path / "drum.jpg")
    answer = upload(page, search_server, tmp_path / "drum.jpg")
    detection = answer["detection"]
    boxes = detection["boxes"]
    automatic = card_titles(page)
    assert {scene.product_under(found["box"]) for found in boxes} >= {"Tennis Ball", "Laptop"}

    # Each object is a toggle button drawn over the photo where the API boxed it; the one searched is pressed.
    objects = page.locator("#objects").get_by_role("button")
    expect(objects).to_have_count(len(boxes))
    image = page.locator("#preview-image").bounding_box()
    assert image is not None
    for index, found in enumerate(boxes):
        button = objects.nth(index)
        name = found["label"].replace("_", " ")
        expect(button).to_have_accessible_name(f"Search the {name} ({index + 1} of {len(boxes)})")
        drawn = button.bounding_box()
        assert drawn is not None
        left, top, right, bottom = found["box"]
        assert drawn["x"] == pytest.approx(image["x"] + left * image["width"], abs=1.5)
        assert drawn["y"] == pytest.approx(image["y"] + top * image["height"], abs=1.5)
        assert drawn["width"] == pytest.approx((right - left) * image["width"], abs=1.5)
        assert drawn["height"] == pytest.approx((bottom - top) * image["height"], abs=1.5)
    assert pressed(objects) == [index == detection["searched"] for index in range(len(boxes))]
    assert "crop" not in sent_searches(page)[-1]["query"]

    # A click on the other product's box searches that box of the same photo, as a crop.
    index, title = another_product(scene, detection)
    before = snapshot(page)
    objects.nth(index).click()
    wait_for_results(page, before)
    sent = sent_searches(page)[-1]
    assert sent["photo"] and sent["query"]["crop"] == boxes[index]["box"]
    assert card_titles(page)[0] == title
    assert card_titles(page) != automatic
    # The boxes stay, though a crop search finds none itself; the chosen one is pressed now.
    expect(objects).to_have_count(len(boxes))
    assert pressed(objects) == [i == index for i in range(len(boxes))]
    expect(page.get_by_role("button", name="Whole photo")).to_be_visible()

    # From the keyboard, choosing the pressed object again lets go of it: back to the photo's own search.
    objects.nth(index).focus()
    before = snapshot(page)
    page.keyboard.press("Enter")
    wait_for_results(page, before)
    assert "crop" not in sent_searches(page)[-1]["query"]
    assert card_titles(page) == automatic
    assert pressed(objects) == [i == detection["searched"] for i in range(len(boxes))]
    expect(page.get_by_role("button", name="Whole photo")).to_be_hidden()


def test_a_box_drawn_by_hand_replaces_the_chosen_object_and_whole_photo_goes_back(
    page: Page, search_server: ApiServer, shop_config: Config, products: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    scene = ball_and_laptop(shop_config.data_dir, products, tmp_path / "drum.jpg")
    detection = upload(page, search_server, tmp_path / "drum.jpg")["detection"]
    automatic = card_titles(page)
    objects = page.locator("#objects").get_by_role("button")
    index, _ = another_product(scene, detection)
    before = snapshot(page)
    objects.nth(index).click()
    wait_for_results(page, before)

    # A drag draws the shopper's own box, even one that starts on an object's button.
    start = objects.nth(index).bounding_box()
    image = page.locator("#preview-image").bounding_box()
    assert start is not None and image is not None
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(image["x"] + image["width"] * 0.7, image["y"] + image["height"] * 0.7, steps=5)
    page.mouse.move(image["x"] + image["width"] * 0.98, image["y"] + image["height"] * 0.95, steps=5)
    before = snapshot(page)
    page.mouse.up()
    wait_for_results(page, before)
    crop = sent_searches(page)[-1]["query"]["crop"]
    assert crop != detection["boxes"][index]["box"]
    assert crop[2:] == pytest.approx([0.98, 0.95], abs=0.01)
    expect(page.locator("#box")).to_be_visible()
    assert pressed(objects) == [False] * len(detection["boxes"])  # no object chosen now, the boxes still offered

    before = snapshot(page)
    page.get_by_role("button", name="Whole photo").click()
    wait_for_results(page, before)
    assert "crop" not in sent_searches(page)[-1]["query"]
    assert card_titles(page) == automatic
    expect(page.locator("#box")).to_be_hidden()
    assert pressed(objects) == [i == detection["searched"] for i in range(len(detection["boxes"]))]


def test_shop_the_look_shows_the_products_for_each_object_under_its_own_heading(
    page: Page, search_server: ApiServer, shop_config: Config, products: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    scene = ball_and_laptop(shop_config.data_dir, products, tmp_path / "drum.jpg")
    upload(page, search_server, tmp_path / "drum.jpg")
    look = page.get_by_role("button", name="Shop the look")
    expect(look).to_have_attribute("aria-pressed", "false")

    before = snapshot(page)
    with page.expect_response(is_search) as answered:
        look.click()
    wait_for_results(page, before)
    answer = answered.value.json()
    assert sent_searches(page)[-1]["query"]["detect"] == "all"
    groups = answer["groups"]
    assert len(groups) >= 2
    expect(look).to_have_attribute("aria-pressed", "true")

    # One section per object, in the API's order, headed by the object's number and name, with its products.
    sections = page.locator("#groups > section")
    expect(sections).to_have_count(len(groups))
    expect(page.locator("#objects").get_by_role("button")).to_have_count(len(answer["detection"]["boxes"]))
    for section, group in zip(sections.all(), groups):
        heading = section.get_by_role("heading", level=3)
        expect(heading).to_have_text(f"{group['index'] + 1} {group['label'].replace('_', ' ')}")
        assert section.locator(".card .title a").all_inner_texts() == [hit["title"] for hit in group["hits"]]
    # The ball's box finds the ball first, the laptop's the laptop.
    firsts = {scene.product_under(group["box"]): group["hits"][0]["title"] for group in groups if group["hits"]}
    assert firsts.get("Tennis Ball") == "Tennis Ball" and firsts.get("Laptop") == "Laptop"
    # Then the whole photo's products.
    expect(page.get_by_role("heading", name="The whole photo")).to_be_visible()
    assert card_titles(page) == [hit["title"] for hit in answer["hits"]]

    # Hovering over an object's products lights its box on the photo.
    sections.nth(1).hover()
    expect(page.locator("#objects button.lit")).to_have_count(1)
    expect(page.locator("#objects button.lit")).to_have_attribute("data-index", str(groups[1]["index"]))

    before = snapshot(page)
    look.click()  # pressed again: back to one list of results
    wait_for_results(page, before)
    assert "detect" not in sent_searches(page)[-1]["query"]
    expect(sections).to_have_count(0)
    expect(page.locator("#groups")).to_be_hidden()


@pytest.fixture(scope="module")
def server_without_detector(
    shop_config: Config, redis_server: LocalRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    """The API over the demo catalogue on a machine where ``lookalike detector build`` was never run."""
    empty = tmp_path_factory.mktemp("no-detector")
    env = server_env(shop_config, CELERY_BROKER_URL=redis_server.url, LOOKALIKE_DETECTOR_CACHE=str(empty))
    server = ApiServer(env, tmp_path_factory.mktemp("serve-no-detector") / "serve.log")
    yield server
    server.stop()


def test_without_an_object_detector_the_photo_is_searched_whole_and_nothing_more_is_offered(
    page: Page, server_without_detector: ApiServer, products: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    photo = tmp_path / "laptop.jpg"
    photo.write_bytes(degraded(products["Laptop"]["images"][0]))
    answer = upload(page, server_without_detector, photo)
    assert answer["detection"]["boxes"] == [] and re.search("no object detector", answer["detection"]["reason"])

    assert card_titles(page)[0] == "Laptop"
    expect(page.locator("#status")).to_have_text(re.compile(r"^\d+ products"))  # no error, no word of the detector
    expect(page.locator("#objects")).to_be_hidden()
    expect(page.locator("#objects button")).to_have_count(0)
    expect(page.get_by_role("button", name="Shop the look")).to_be_hidden()
    expect(page.locator("#hint")).to_have_text("Drag across the photo to search only that part.")


def test_an_object_thinner_than_the_smallest_crop_is_searched_with_its_thin_side_widened(
    page: Page, search_server: ApiServer, shop_config: Config, products: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    # A detector may box a cable or a pen thinner than the 0.05 of the photo a crop must have at
    # least. This photo has no such object, so the real answer gets one more box, 0.02 wide.
    thin = {"box": [0.3, 0.6, 0.32, 0.95], "score": 0.2, "label": "knife"}

    def with_a_thin_box(route: Route) -> None:
        response = route.fetch()
        answer = response.json()
        if "detection" in answer:
            answer["detection"]["boxes"].append(thin)
        route.fulfill(response=response, json=answer)

    page.route("**/search", with_a_thin_box)
    ball_and_laptop(shop_config.data_dir, products, tmp_path / "drum.jpg")
    boxes = upload(page, search_server, tmp_path / "drum.jpg")["detection"]["boxes"]
    before = snapshot(page)
    page.locator("#objects").get_by_role("button", name=re.compile("^Search the knife")).click()
    wait_for_results(page, before)

    crop = sent_searches(page)[-1]["query"]["crop"]
    assert crop[1::2] == thin["box"][1::2]  # its height kept
    assert crop[0] < 0.3 and crop[2] > 0.32 and crop[2] - crop[0] >= 0.05  # its width grown around its middle
    assert (crop[0] + crop[2]) / 2 == pytest.approx(0.31, abs=1e-3)
    expect(page.locator("#status")).to_have_text(re.compile(r"^\d+ products"))  # searched, not refused
    assert page.locator("#objects button").nth(len(boxes) - 1).get_attribute("aria-pressed") == "true"
