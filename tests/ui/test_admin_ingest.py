"""Ingest in the admin views: a run started from the command line moves on the page without a reload,
and a quarantined product is retried from the page. Real Redis, a real worker, the real CLI."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from opensearchpy import OpenSearch
from playwright.sync_api import Page, expect

from engine.local_redis import LocalRedis
from plugin.config import Config
from tests.support.browser import ADMIN_KEY, ApiServer, screenshot, server_env
from tests.support.catalogues import write_catalogue
from tests.support.cli import LOOKALIKE
from tests.support.images import product_photo
from tests.support.workers import Worker

#: Enough products that the run lasts several of the page's one-second updates: with 20, a
#: quick worker sometimes finished between two of them and no progress between start and end showed.
PRODUCTS = 60


@pytest.fixture
def ingest_env(config: Config, redis_server: LocalRedis, image_dir: Path) -> dict[str, str]:
    return server_env(
        config,
        CELERY_BROKER_URL=redis_server.url,
        LOOKALIKE_IMAGE_ROOTS=str(image_dir),
        LOOKALIKE_INGEST_BATCH_SIZE="2",  # many small batches: progress moves in many steps
        LOOKALIKE_INGEST_MAX_ATTEMPTS="1",
    )


@pytest.fixture
def worker(ingest_env: dict[str, str], tmp_path: Path) -> Iterator[Worker]:
    running = Worker(ingest_env, tmp_path / "worker.log")
    running.start()
    yield running
    running.stop()


@pytest.fixture
def admin_server(ingest_env: dict[str, str], client: OpenSearch, tmp_path: Path) -> Iterator[ApiServer]:
    server = ApiServer(ingest_env, tmp_path / "serve.log")
    yield server
    server.stop()


def test_a_command_line_ingest_shows_live_progress_and_a_quarantined_item_is_retried_from_the_page(
    page: Page, worker: Worker, admin_server: ApiServer, ingest_env: dict[str, str], image_dir: Path, client: OpenSearch, config: Config
) -> None:
    rows = [{"id": f"p{i}", "title": f"Product {i}", "price": 10 + i, "images": [str(product_photo(image_dir / f"p{i}.jpg", seed=i))]} for i in range(PRODUCTS)]
    broken = image_dir / "broken.jpg"
    broken.write_bytes(product_photo(image_dir / "whole.jpg", seed=500).read_bytes()[:500])  # cut short: undecodable
    rows.append({"id": "broken", "title": "Broken photo", "price": 5, "images": [str(broken)]})
    catalogue = write_catalogue(image_dir / "catalogue.jsonl", rows)

    page.goto(admin_server.url + "/admin/ingest", wait_until="domcontentloaded")
    page.fill("#key", ADMIN_KEY)
    page.click("main button[type=submit]")
    expect(page.locator("#broker")).to_have_text("Live: updates arrive as workers finish products.")
    expect(page.locator("#runs tbody")).to_contain_text("No runs")
    # Remember this page and every progress figure it shows: a reload would lose both.
    page.evaluate(
        """() => {
            window.samePage = true;
            window.seen = [];
            new MutationObserver(() => {
                for (const cell of document.querySelectorAll('#runs td.done')) window.seen.push(cell.textContent);
            }).observe(document.getElementById('runs'), {childList: true, subtree: true, characterData: true});
        }"""
    )

    ingest = subprocess.Popen([LOOKALIKE, "ingest", str(catalogue), "--timeout", "300"], env=ingest_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        run = page.locator("#runs tbody tr", has_text=str(catalogue))
        expect(run.locator("td.done")).to_have_text(f"{PRODUCTS + 1} / {PRODUCTS + 1}", timeout=240_000)
        out, err = ingest.communicate(timeout=120)
    finally:
        if ingest.poll() is None:
            ingest.kill()
    assert ingest.returncode == 0, err
    assert "1 quarantined" in out

    seen = page.evaluate("window.seen")
    steps = {int(text.split(" / ")[0]) for text in seen}
    assert any(0 < done < PRODUCTS + 1 for done in steps), f"no progress between start and end was shown: {sorted(steps)}"
    assert page.evaluate("window.samePage") is True
    expect(run).to_contain_text(f"{PRODUCTS} indexed, 1 quarantined")
    expect(page.locator("#quarantine-count")).to_have_text("1")
    record = page.locator("#quarantine tbody tr[data-product='broken']")
    expect(record).to_contain_text("corrupt_image")
    screenshot(page, "admin-ingest")

    product_photo(broken, seed=501)  # the shop fixes the photo
    page.get_by_role("button", name="Retry failed products").click()

    expect(page.locator("#quarantine tbody")).to_have_text("Nothing is quarantined.", timeout=120_000)
    expect(page.locator("#quarantine-count")).to_have_text("0")
    retry = page.locator("#runs tbody tr", has_text="retry-failed")
    expect(retry.locator("td.done")).to_have_text("1 / 1")
    expect(retry).to_contain_text("1 indexed")
    assert page.evaluate("window.samePage") is True
    client.indices.refresh(index=config.index_alias)
    assert client.get(index=config.index_alias, id="broken")["found"]
