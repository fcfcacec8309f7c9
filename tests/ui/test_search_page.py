"""The search page in a real browser: a photo, a region of it, facets, more-like-this, the score breakdown."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from PIL import Image
from playwright.sync_api import Page, expect

from tests.support.browser import (
    ApiServer,
    card_titles,
    screenshot,
    snapshot,
    wait_for_results,
)
from tests.support.images import degraded, jpeg


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
