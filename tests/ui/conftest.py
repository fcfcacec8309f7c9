"""Browser tests: Debian's Chromium driven by Playwright against a real ``lookalike serve``.

Nothing is downloaded: Playwright launches the ``chromium`` package (``apt-get install
chromium``; ``scripts/system-deps.sh`` installs it), and fails with that advice when it is
missing. The API runs as a subprocess on a free port, against the session's OpenSearch node.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from engine.local_redis import LocalRedis
from plugin.config import Config
from tests.support.browser import (
    DESKTOP,
    REPO,
    ApiServer,
    ShopSite,
    chromium_path,
    server_env,
)
from tests.support.cli import free_port


@pytest.fixture(scope="session")
def shop_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def reports_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty reports folder the tests fill; the repository's reports/ is left alone."""
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="session")
def search_server(
    shop_config: Config, redis_server: LocalRedis, shop_port: int, reports_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    """The API over the demo catalogue; the sample shop's origin may call it."""
    env = server_env(
        shop_config,
        LOOKALIKE_CORS_ORIGINS=f"http://localhost:{shop_port}",
        CELERY_BROKER_URL=redis_server.url,
        LOOKALIKE_REPORTS_DIR=str(reports_dir),
    )
    server = ApiServer(env, tmp_path_factory.mktemp("serve") / "serve.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def shop_site(search_server: ApiServer, shop_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopSite]:
    """examples/shop/index.html, its widget tag pointed at the test's API instead of localhost:8000."""
    root = tmp_path_factory.mktemp("shop")
    page = (REPO / "examples" / "shop" / "index.html").read_text(encoding="utf-8")
    assert "http://localhost:8000/widget.js" in page
    (root / "index.html").write_text(page.replace("http://localhost:8000", search_server.url), encoding="utf-8")
    site = ShopSite(root, shop_port)
    yield site
    site.stop()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
    yield launched
    launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh desktop-sized page (no cookies shared with other tests)."""
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(30_000)
    opened = context.new_page()
    yield opened
    context.close()
