"""The API as a subprocess, the sample shop's own little web server, and page screenshots."""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import threading
import time
import urllib.request
from functools import partial
from pathlib import Path

import pytest
from playwright.sync_api import Page

from plugin.config import Config
from tests.support.cli import LOOKALIKE, free_port

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
        LOOKALIKE_INFERENCE_THREADS="1",
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


def card_titles(page: Page) -> list[str]:
    return page.locator("#grid .card .title a").all_inner_texts()


def wait_for_results(page: Page, previous: str | None = None) -> None:
    """Until the status line reports a finished search (and, given *previous*, a different one)."""
    page.wait_for_function(
        "prev => { const s = document.getElementById('status').textContent;"
        " return /products|No products/.test(s) && !/Searching/.test(s) && (prev === null || s + document.getElementById('grid').textContent !== prev); }",
        arg=previous,
    )


def snapshot(page: Page) -> str:
    return page.evaluate("document.getElementById('status').textContent + document.getElementById('grid').textContent")


#: Wraps the page's fetch to keep the body of every POST /search it sends: a multipart body
#: with a photo is not readable from Playwright's request (its post data comes back empty).
_RECORD_SEARCHES = """
(() => {
  const sent = (window.__lookalikeSearches = []);
  const fetch = window.fetch;
  window.fetch = function (url, init) {
    if (String(url).endsWith("/search") && init && init.body) {
      const body = init.body instanceof FormData ? init.body.get("query") : init.body;
      sent.push({ query: JSON.parse(body), photo: init.body instanceof FormData && init.body.has("image") });
    }
    return fetch.apply(this, arguments);
  };
})();
"""


def record_searches(page: Page) -> None:
    """From the next page load on, keep what each ``POST /search`` the page sends asks for (see :func:`sent_searches`)."""
    page.add_init_script(_RECORD_SEARCHES)


def sent_searches(page: Page) -> list[dict[str, object]]:
    """Each search the page sent since it loaded, oldest first: ``{"query": the JSON body or form's query, "photo": bool}``."""
    return page.evaluate("window.__lookalikeSearches || []")
