"""Browser tests: Debian's Chromium driven by Playwright against a real ``lookalike serve``.

Nothing is downloaded: Playwright launches the ``chromium`` package (``apt-get install
chromium``; ``scripts/system-deps.sh`` installs it), and fails with that advice when it is
missing. The API runs as a subprocess on a free port, against the session's OpenSearch node.
"""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from engine.local_redis import LocalRedis
from plugin.config import Config
from tests.conftest import LOOKALIKE, free_port

ADMIN_KEY = "test-admin-key-7f3c"
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "reports" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str:
    """Debian's chromium, or the one named by LOOKALIKE_CHROMIUM; the tests fail (not skip) without it."""
    path = os.environ.get("LOOKALIKE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(path, os.X_OK):
        pytest.fail(
            f"Chromium is not installed ({path} not found): the browser tests need Debian's chromium package. "
            "Install it with: apt-get install -y chromium (scripts/system-deps.sh, run by make install, does it as root).",
            pytrace=False,
        )
    return path


class ApiServer:
    """``lookalike serve`` in a subprocess on a free port, configured by environment variables as in production."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [LOOKALIKE, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--threads", "8"],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"lookalike serve exited:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"lookalike serve did not answer in time:\n{log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def server_env(config: Config, **extra: str) -> dict[str, str]:
    """The environment ``lookalike`` reads, pointing at this run's node and *config*'s alias."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOKALIKE_", "OPENSEARCH_", "CELERY_"))}
    env.update(
        OPENSEARCH_URL=config.opensearch_url,
        LOOKALIKE_INDEX_ALIAS=config.index_alias,
        LOOKALIKE_ADMIN_KEY=ADMIN_KEY,
        LOOKALIKE_TORCH_THREADS="1",
        **extra,
    )
    return env


class ShopSite:
    """The sample shop page (examples/shop) served by its own little server, on another origin than the API."""

    def __init__(self, root: Path, port: int) -> None:
        self.port = port
        self.url = f"http://localhost:{port}"
        handler = partial(_QuietHandler, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass


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


def screenshot(page: Page, name: str) -> Path:
    """Write the page, at desktop and phone widths, to reports/screenshots/<name>-{desktop,phone}.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size or DESKTOP
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_timeout(200)  # let the layout settle at the new width
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(original)
    return SCREENSHOTS
