"""``make demo`` ends at a live search page: the printed address answers a photo query in a real browser."""

from __future__ import annotations

import io
import json
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page

from engine.local_node import LocalNode
from plugin.config import Config
from sample_data.vendure import prepare_vendure
from tests.support.browser import card_titles, snapshot, wait_for_results
from tests.support.cli import LOOKALIKE, free_port
from tests.support.images import degraded

#: Set to a path to (re)write the README's screenshot from this test (``make screenshot``).
README_SCREENSHOT = os.environ.get("LOOKALIKE_README_SCREENSHOT")


@dataclass
class Demo:
    """``lookalike demo`` running in a subprocess, with everything it printed so far."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    _queue: queue.Queue[str | None] = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        """The first printed line matching *pattern*, waiting up to *timeout* seconds for it."""
        deadline = time.monotonic() + timeout
        for line in self.lines:
            if found := re.search(pattern, line):
                return found
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            self.lines.append(line)
            if found := re.search(pattern, line):
                return found
        raise AssertionError(f"no line matching {pattern!r}; the demo printed:\n" + "\n".join(self.lines[-40:]))


@pytest.fixture
def demo(running_local_node: LocalNode, cli_env: dict[str, str]) -> Iterator[Demo]:
    env = {k: v for k, v in cli_env.items() if k != "LOOKALIKE_ADMIN_KEY"}
    process = subprocess.Popen(
        [LOOKALIKE, "demo", "--port", str(free_port())], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )
    running = Demo(process)
    yield running
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_the_demo_ends_at_a_search_page_that_answers_a_photo_query(demo: Demo, page: Page, base_config: Config, tmp_path: Path) -> None:
    url = demo.wait_for(r"The search page is live: (http://\S+/)$", timeout=900).group(1)
    admin = demo.wait_for(r"Admin views: (http://\S+/admin/)  \(admin key (\S+), made for this machine", timeout=10)
    demo.wait_for(r"Ctrl-C stops the API", timeout=10)
    rows = [json.loads(line) for line in prepare_vendure(base_config.data_dir).read_text(encoding="utf-8").splitlines()]
    laptop = next(row for row in rows if row["title"] == "Laptop")
    photo = tmp_path / "laptop.jpg"
    photo.write_bytes(degraded(laptop["images"][0]))

    page.goto(url)
    wait_for_results(page)
    before = snapshot(page)
    page.set_input_files("#photo", str(photo))
    wait_for_results(page, before)

    assert card_titles(page)[0] == "Laptop"
    request = urllib.request.Request(admin.group(1) + "api/index", headers={"X-API-Key": admin.group(2)})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200 and json.loads(response.read())["documents"] == 54
    if README_SCREENSHOT:
        write_readme_screenshot(page, Path(README_SCREENSHOT))

    demo.process.send_signal(signal.SIGINT)  # what Ctrl-C sends
    assert demo.process.wait(timeout=60) == 0
    demo.wait_for(r"The API stopped\. The node still runs", timeout=10)


def test_a_second_demo_on_a_taken_port_says_so_in_one_sentence(running_local_node: LocalNode, cli_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([LOOKALIKE, "demo", "--port", str(port)], env=cli_env, capture_output=True, text=True, timeout=120)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: Port {port} on 127.0.0.1 is already in use (another `make demo` or `lookalike serve`?); "
        f"serve the demo on another port with `make demo DEMO_PORT={port + 1}` or `lookalike demo --port {port + 1}`."
    )


def write_readme_screenshot(page: Page, path: Path, width: int = 960) -> None:
    """The page as the README shows it: the first screen at desktop size, scaled down, as a small JPEG."""
    shot = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    shot = shot.resize((width, round(shot.height * width / shot.width)), Image.LANCZOS)
    path.parent.mkdir(parents=True, exist_ok=True)
    shot.save(path, format="JPEG", quality=82, optimize=True, progressive=True)
