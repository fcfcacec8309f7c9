"""In a real browser: a photo's credit and licence under it on the search page, a takedown from
the admin's product page that empties the search at once, its undo, and the copies page."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engine.local_redis import LocalRedis
from ingest import runner
from plugin.config import Config
from plugin.opensearch.client import connect
from sample_data.vendure import prepare_vendure
from tests.support.browser import ADMIN_KEY, ApiServer, server_env

TITLES = ("Tent", "Road Bike")


@pytest.fixture(scope="module")
def rights_alias() -> str:
    return f"test-rights-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def rights_server(rights_alias: str, base_config: Config, redis_server: LocalRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    source = prepare_vendure(base_config.data_dir)
    rows = [row for row in map(json.loads, source.read_text(encoding="utf-8").splitlines()) if row["title"] in TITLES]
    for row in rows:
        row |= {"photographer": "Ana Lopez", "license": "CC-BY-4.0"}
    folder = tmp_path_factory.mktemp("rights")
    catalogue = folder / "catalogue.jsonl"
    catalogue.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    config = dataclasses.replace(
        base_config,
        index_alias=rights_alias,
        fetch=dataclasses.replace(base_config.fetch, local_roots=(source.parent / "images",)),
    )
    runner.run_catalogue(connect(config), config, catalogue, eager=True)
    server = ApiServer(server_env(config, CELERY_BROKER_URL=redis_server.url), folder / "serve.log")
    yield server
    server.stop()
    connect(config).indices.delete(index=f"{config.index_alias}*", expand_wildcards="all", ignore_unavailable=True)


def _search(page: Page, server: ApiServer, words: str) -> None:
    page.goto(server.url + "/")
    page.fill("#text", words)
    page.click("button[type=submit]")


def test_the_search_page_credits_the_photo_and_a_takedown_withholds_the_product_until_undone(page: Page, rights_server: ApiServer) -> None:
    _search(page, rights_server, "tent")
    card = page.locator(".card").first
    expect(card.locator(".title")).to_have_text("Tent")
    expect(card.locator(".credit")).to_have_text("Photo: Ana Lopez · CC-BY-4.0")

    page.goto(rights_server.url + "/admin/catalogue/tent")
    page.fill("#key", ADMIN_KEY)
    page.click("button[type=submit]")
    page.wait_for_url(rights_server.url + "/admin/catalogue/tent")
    page.fill("form.take-down input[name=reason]", "copied from studio X")
    page.fill("form.take-down input[name=operator]", "Ana")
    page.click("form.take-down button[type=submit]")
    expect(page.locator("#withheld")).to_contain_text("copied from studio X")

    _search(page, rights_server, "tent")
    expect(page.locator(".card .title", has_text="Tent")).to_have_count(0)

    page.goto(rights_server.url + "/admin/takedowns")
    row = page.locator("#active-takedowns tbody tr", has_text="tent")
    row.locator("input[name=reason]").fill("licence shown")
    row.locator("input[name=operator]").fill("Ben")
    row.locator("button[type=submit]").click()
    expect(page.locator("#active-takedowns")).to_contain_text("Nothing is withheld.")
    expect(page.locator("#takedown-log")).to_contain_text("Ben (admin session)")

    _search(page, rights_server, "tent")
    expect(page.locator(".card .title").first).to_have_text("Tent")


def test_the_copies_page_checks_a_photo_sent_from_the_browser(page: Page, rights_server: ApiServer, base_config: Config, tmp_path: Path) -> None:
    photo = next(row for row in map(json.loads, prepare_vendure(base_config.data_dir).read_text().splitlines()) if row["title"] == "Road Bike")["images"][0]
    page.goto(rights_server.url + "/admin/copies")
    page.fill("#key", ADMIN_KEY)
    page.click("button[type=submit]")
    page.wait_for_url(rights_server.url + "/admin/copies")
    expect(page.locator("#no-copies")).to_be_visible()

    page.set_input_files("#copies-form input[name=image]", photo)
    page.click("#copies-form button[type=submit]")

    expect(page.locator("#copies-found tbody tr").first).to_contain_text("Road Bike")
    expect(page.locator("#copies-status")).to_contain_text("look copied")


def test_a_click_on_a_result_is_sent_as_a_shopper_event_under_a_random_id(page: Page, rights_server: ApiServer, rights_alias: str, base_config: Config) -> None:
    _search(page, rights_server, "road bike")
    expect(page.locator(".card .title").first).to_have_text("Road Bike")

    page.locator(".card .title a").first.click()

    client = connect(dataclasses.replace(base_config, index_alias=rights_alias))
    events: list[dict] = []
    deadline = time.monotonic() + 10
    while not events and time.monotonic() < deadline:
        client.indices.refresh(index=f"{rights_alias}-events-*", ignore_unavailable=True, allow_no_indices=True)
        found = client.search(index=f"{rights_alias}-events-*", body={"query": {"match_all": {}}}, ignore_unavailable=True, allow_no_indices=True)
        events = [hit["_source"] for hit in found["hits"]["hits"]]
        time.sleep(0.2)
    assert [(e["type"], e["product_id"]) for e in events] == [("click", "road-bike")]
    assert events[0]["user"].startswith("s-") and len(events[0]["user"]) == 26  # random, nothing of the shopper
