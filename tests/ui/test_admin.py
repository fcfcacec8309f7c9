"""The admin views in a real browser: the key, the index, the catalogue, the playground, the reports."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from plugin.config import Config
from plugin.opensearch.client import connect
from plugin.opensearch.ranking_store import save_ranking
from plugin.search.ranking import KindWeights, RankingSettings
from tests.support.browser import ADMIN_KEY, ApiServer, screenshot


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def log_in(page: Page, server: ApiServer, path: str = "/admin/") -> None:
    page.goto(server.url + path)
    page.fill("#key", ADMIN_KEY)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + path)


@pytest.mark.parametrize("path", ["/admin/", "/admin/ingest", "/admin/api/index", "/admin/events", "/admin/reports/plot.png"])
def test_the_admin_refuses_a_request_without_the_key(search_server: ApiServer, path: str) -> None:
    status, _ = get(search_server.url + path)
    assert status == 401
    assert get(search_server.url + path, {"X-API-Key": "wrong"})[0] == 401
    assert get(search_server.url + path, {"Cookie": "lookalike_admin=4102444800.forged"})[0] == 401


def test_the_key_opens_the_admin_and_the_public_search_stays_open(search_server: ApiServer) -> None:
    status, body = get(search_server.url + "/admin/api/index", {"X-API-Key": ADMIN_KEY})
    assert status == 200 and json.loads(body)["documents"] == 54
    assert get(search_server.url + "/")[0] == 200
    request = urllib.request.Request(search_server.url + "/search", data=b'{"text": "tent"}', headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200


def test_logging_in_shows_the_index(page: Page, search_server: ApiServer, shop_config: Config) -> None:
    page.goto(search_server.url + "/admin/")
    expect(page.locator("#key")).to_be_visible()
    page.fill("#key", "not the key")
    page.click("button[type=submit]")
    expect(page.locator("#login-message")).to_have_text("That is not the admin key.")

    log_in(page, search_server)

    expect(page.locator("#alias")).to_have_text(shop_config.index_alias)
    expect(page.locator("#index-name")).to_have_text(re.compile(f"^{shop_config.index_alias}-v5-"))
    expect(page.locator("#documents")).to_have_text("54")
    expect(page.locator("#model")).to_contain_text("efficientnet")
    page.click("summary")
    expect(page.locator("#mapping")).to_contain_text('"knn_vector"')
    cookie = next(c for c in page.context.cookies() if c["name"] == "lookalike_admin")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/admin"
    screenshot(page, "admin-index")


def test_the_catalogue_shows_suggested_category_and_tags_beside_the_shops_and_near_duplicates(page: Page, search_server: ApiServer) -> None:
    log_in(page, search_server, "/admin/catalogue")
    expect(page.locator("h2#catalogue-heading")).to_have_text("Catalogue (54 products)")
    page.fill("#q", "running shoe")
    page.press("#q", "Enter")
    page.locator("#catalogue a", has_text="Ultraboost Running Shoe").click()

    expect(page.locator("#product-heading")).to_have_text("Ultraboost Running Shoe")
    assert page.locator(".images img").count() >= 1
    table = page.locator("#predicted-tags")
    category, tags = table.locator("tbody tr").nth(0), table.locator("tbody tr").nth(1)
    expect(category.locator("td").nth(0)).to_contain_text("Sports & Outdoor > Footwear")
    expect(category.locator("td").nth(0).locator(".agree")).to_have_count(1)
    expect(tags.locator("td").nth(1)).to_contain_text("color:blue")
    similar = page.locator("#similar li")
    expect(similar.first).to_be_visible()
    assert "Ultraboost Running Shoe" not in similar.all_inner_texts()
    assert any("Shoe" in text for text in similar.all_inner_texts()[:3])
    screenshot(page, "admin-product")


def test_the_playground_compares_two_profiles_with_score_breakdowns(page: Page, search_server: ApiServer) -> None:
    log_in(page, search_server, "/admin/playground")
    page.fill("#pg-text", "camera")
    page.select_option("#pg-left", "")
    page.select_option("#pg-right", "popular")
    page.click("#playground button[type=submit]")

    expect(page.locator("#pg-status")).to_have_text("Done.")
    for side in ("left", "right"):
        assert page.locator(f"#{side} > li").count() == 10
        expect(page.locator(f"#{side} > li table.breakdown").first).to_contain_text("keywords")
    expect(page.locator("#right > li table.breakdown").first).to_contain_text("popular")
    expect(page.locator("#right-heading")).to_contain_text("popular")
    screenshot(page, "admin-playground")


def test_the_playground_shows_a_saved_ranking_version_beside_the_defaults(page: Page, search_server: ApiServer, shop_config: Config) -> None:
    client = connect(shop_config)
    saved = save_ranking(client, shop_config, RankingSettings(text=KindWeights(keywords=1.0)), "test", {})
    try:
        log_in(page, search_server, "/admin/playground")
        expect(page.locator("#ranking-table")).to_contain_text(f"version {saved.version} (live)")
        expect(page.locator("#ranking-table")).to_contain_text("built-in defaults")
        # The text vector's weight for words: 0 in the saved version, 1 in the defaults.
        expect(page.locator("#ranking-table tr[data-key='text.text'] td.differs")).to_have_text("1")
        page.select_option("#pg-left-ranking", str(saved.version))
        page.fill("#pg-text", "camera")
        page.click("#playground button[type=submit]")

        expect(page.locator("#pg-status")).to_have_text("Done.")
        expect(page.locator("#left-heading")).to_contain_text(f"version {saved.version}")
        # The saved version ranks words by keywords alone; the defaults add the text vector.
        left_signals = page.locator("#left > li").first.locator("table.breakdown tbody th").all_inner_texts()
        right_signals = page.locator("#right > li").first.locator("table.breakdown tbody th").all_inner_texts()
        assert left_signals == ["keywords"]
        assert "text" in right_signals and "keywords" in right_signals
        expect(page.locator("#left > li table.breakdown").first).to_contain_text("100% of the words")
    finally:
        client.indices.delete(index=shop_config.ranking_index)


def test_reports_show_as_tables_and_plots(page: Page, search_server: ApiServer, reports_dir: Path) -> None:
    (reports_dir / "eval-demo.json").write_text(json.dumps({"benchmark": "eval", "recall_at_10": 0.87, "per_query": [{"query": "tent", "rank": 1}, {"query": "lamp", "rank": 4}]}))
    Image.new("RGB", (120, 60), (20, 120, 200)).save(reports_dir / "eval-demo.png")
    (reports_dir / "latency.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="100" height="40"><rect width="100" height="40" fill="teal"/></svg>')
    (reports_dir / "notes.md").write_text("# Notes\nAll good.")

    log_in(page, search_server, "/admin/reports")

    report = page.locator("section[data-report='eval-demo.json']")
    expect(report.locator("th", has_text="recall_at_10")).to_be_visible()
    expect(report.get_by_role("cell", name="0.87", exact=True)).to_be_visible()
    expect(report.get_by_role("cell", name="lamp", exact=True)).to_be_visible()  # a list of records: a table of its own
    for name in ("eval-demo.png", "latency.svg"):
        image = page.locator(f"section[data-report='{name}'] img")
        image.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    expect(page.locator("section[data-report='notes.md'] pre")).to_contain_text("All good.")
    assert get(search_server.url + "/admin/reports/..%2Fsecret.png", {"X-API-Key": ADMIN_KEY})[0] == 404


def test_a_merchandiser_rejects_a_suggested_tag_and_takes_the_rejection_back(page: Page, search_server: ApiServer) -> None:
    log_in(page, search_server, "/admin/catalogue/ultraboost-running-shoe")
    tags = page.locator("#predicted-tags tbody tr").nth(1)
    suggested = tags.locator("td").nth(0).locator("li").first
    tag = suggested.locator("button.review[data-decision=reject]").get_attribute("data-value")

    suggested.locator("button.review[data-decision=reject]").click()
    expect(page.locator("#review-status")).to_contain_text("Give your name first")
    page.fill("#review-operator", "Robin")
    suggested.locator("button.review[data-decision=reject]").click()

    rejected = page.locator("#rejected li", has_text=f"tag {tag}")
    expect(rejected).to_have_count(1)
    expect(page.locator("#predictions-stored")).not_to_contain_text(f"{tag}")
    expect(page.locator("#review-operator")).to_have_value("Robin")  # remembered for the next decision
    screenshot(page, "admin-product-rejected")
    rejected.locator("button.review").click()
    expect(page.locator("#rejected")).to_have_count(0)
    expect(tags.locator("td").nth(0)).to_contain_text(tag)
