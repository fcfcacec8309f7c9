"""Recommendations on the search page, in a real browser: looking at a product shows what other
shoppers saw with it, each with its reason, and the personal ranking names the browser's shopper."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from plugin.config import Config
from plugin.opensearch.client import connect
from plugin.opensearch.events import write_events
from plugin.recommend.cooccurrence import (
    events_pattern,
    related_index,
    sessions_index,
    update_related,
)
from tests.support.browser import ApiServer, screenshot, snapshot, wait_for_results


@pytest.fixture(scope="module")
def seen_together(shop_config: Config, products: dict[str, dict[str, Any]]) -> Iterator[None]:
    """Three shoppers who looked at the hard drive, then the spiky cactus; deleted afterwards."""
    client = connect(shop_config)
    now = dt.datetime.now(dt.timezone.utc)
    write_events(client, shop_config, [
        {"type": "view", "user": f"ui-{n}", "session": f"ui-visit-{n}", "product_id": products[title]["id"], "at": now - dt.timedelta(minutes=2 - step)}
        for n in range(3)
        for step, title in enumerate(("Hard Drive", "Spiky Cactus"))
    ])
    update_related(client, shop_config)
    yield
    for index in (events_pattern(shop_config.index_alias), related_index(shop_config.index_alias), sessions_index(shop_config.index_alias)):
        client.indices.delete(index=index, ignore_unavailable=True, expand_wildcards="all")


def test_looking_at_a_product_shows_what_shoppers_also_viewed_and_why(page: Page, search_server: ApiServer, seen_together: None) -> None:
    page.goto(search_server.url + "/")
    wait_for_results(page)
    before = snapshot(page)
    page.fill("#text", "hard drive")
    page.press("#text", "Enter")
    wait_for_results(page, before)
    expect(page.locator("#also")).to_be_hidden()

    page.locator("#grid .card", has_text="Hard Drive").first.locator(".more").click()

    also = page.locator("#also")
    expect(also).to_be_visible()
    expect(page.locator("#also-heading")).to_have_text("Shoppers who viewed Hard Drive also viewed")
    first = also.locator(".card").first
    expect(first.locator(".title")).to_have_text("Spiky Cactus")
    expect(first.locator(".reason")).to_have_text("Viewed together in 3 visits")
    expect(also.locator(".card .reason", has_text="Looks alike").first).to_be_visible()
    screenshot(page, "also-viewed")

    page.click("#clear-like")
    expect(also).to_be_hidden()


def test_the_personal_ranking_sends_this_browsers_shopper_id(page: Page, search_server: ApiServer) -> None:
    page.goto(search_server.url + "/")
    wait_for_results(page)
    page.fill("#text", "chair")

    with page.expect_response(lambda response: response.url.endswith("/search")) as answered:
        page.select_option("#profile", "personal")

    sent = json.loads(answered.value.request.post_data or "{}")
    shopper = page.evaluate("localStorage.getItem('lookalike-shopper')")
    assert shopper and sent["profile"] == "personal" and sent["shopper"] == shopper
    assert answered.value.status == 200
    expect(page.locator("#grid .card").first).to_be_visible()
