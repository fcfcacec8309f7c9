"""A saved search in a real browser: the shopper saves words, a matching product is ingested, and
the open page shows "New match" without a reload, then only what is new when opened again."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from engine.local_redis import LocalRedis
from ingest import runner
from plugin.config import Config
from plugin.opensearch.client import connect
from sample_data.vendure import prepare_vendure
from tests.support.browser import ApiServer, screenshot, server_env


@pytest.fixture(scope="module")
def rows(base_config: Config) -> dict[str, dict[str, Any]]:
    source = prepare_vendure(base_config.data_dir)
    return {row["title"]: row for row in map(json.loads, source.read_text(encoding="utf-8").splitlines())}


@pytest.fixture(scope="module")
def shop(base_config: Config, rows: dict[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Config]:
    """A shop of its own (this test adds products), starting with three."""
    config = dataclasses.replace(
        base_config,
        index_alias=f"test-ui-saved-{uuid.uuid4().hex[:8]}",
        fetch=dataclasses.replace(base_config.fetch, local_roots=(Path(rows["Laptop"]["images"][0]).parent,)),
    )
    first = tmp_path_factory.mktemp("saved") / "first.jsonl"
    first.write_text("".join(json.dumps(rows[t]) + "\n" for t in ("Laptop", "Tent", "Orchid")), encoding="utf-8")
    runner.run_catalogue(connect(config), config, first, eager=True)
    yield config
    connect(config).indices.delete(index=f"{config.index_alias}*", expand_wildcards="all", ignore_unavailable=True)


@pytest.fixture(scope="module")
def server(shop: Config, redis_server: LocalRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    running = ApiServer(server_env(shop, CELERY_BROKER_URL=redis_server.url), tmp_path_factory.mktemp("serve") / "serve.log")
    yield running
    running.stop()


def test_a_saved_search_shows_a_new_matching_product_without_a_reload(
    page: Page, server: ApiServer, shop: Config, rows: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    page.goto(server.url + "/")
    page.fill("#text", "running shoe")
    page.click("#search-form button[type=submit]")
    expect(page.locator("#status")).to_contain_text("products")
    page.click("#save-search")
    expect(page.locator("#save-status")).to_contain_text("Saved")
    expect(page.locator("#new-matches")).to_be_hidden()

    new = tmp_path / "new.jsonl"
    new.write_text(json.dumps(rows["Ultraboost Running Shoe"]) + "\n" + json.dumps(rows["Road Bike"]) + "\n", encoding="utf-8")
    runner.run_catalogue(connect(shop), shop, new, eager=True)

    # Within 5 s of the ingest finishing, on the page as it is.
    matches = page.locator("#new-matches .new-match")
    expect(matches).to_have_count(1, timeout=5_000)
    expect(matches.first).to_contain_text("New match: Ultraboost Running Shoe")
    screenshot(page, "saved-search")
    matches.first.get_by_role("button", name="Show").click()
    expect(page.locator("#grid .card").first).to_contain_text("Ultraboost Running Shoe")

    page.reload()  # the match was shown: a page opened again waits for the next one
    page.wait_for_timeout(2_500)
    expect(page.locator("#new-matches")).to_be_hidden()
