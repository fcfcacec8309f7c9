"""Fixtures for ingest: catalogues with real image files, a real Redis, real Celery worker processes."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from engine.local_redis import LocalRedis
from plugin.config import Config
from tests.conftest import LOOKALIKE


def product_photo(path: Path, seed: int, size: tuple[int, int] = (160, 120)) -> Path:
    """A distinct synthetic product photo: a few coloured shapes on a plain background."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(150, 256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x0, y0 = rng.randrange(0, size[0] - 40), rng.randrange(0, size[1] - 40)
        box = (x0, y0, x0 + rng.randrange(20, 80), y0 + rng.randrange(20, 80))
        colour = tuple(rng.randrange(0, 256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    image.save(path, format="JPEG" if path.suffix == ".jpg" else "PNG")
    return path


def write_catalogue(path: Path, rows: list[dict[str, Any] | str]) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "images"
    directory.mkdir()
    return directory


@pytest.fixture
def ingest_config(config: Config, image_dir: Path) -> Config:
    """The test's configuration, allowed to read images from its own directory, retrying quickly."""
    return dataclasses.replace(
        config,
        fetch=dataclasses.replace(config.fetch, local_roots=(image_dir,)),
        ingest=dataclasses.replace(config.ingest, max_attempts=2, retry_backoff=0.2),
    )


class Worker:
    """A real ``lookalike worker`` process, started in its own process group so it can be killed whole."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [LOOKALIKE, "worker", "--loglevel=INFO"], env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b" ready." in self.log.read_bytes()[offset:]:
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready after {timeout} s:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL, as the kernel's OOM killer or a pulled plug would: no clean-up at all."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture(scope="module")
def worker_env(base_config: Config, redis_server: LocalRedis, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One alias, image directory and broker for a module's worker tests."""
    images = tmp_path_factory.mktemp("worker-images")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOKALIKE_", "OPENSEARCH_", "CELERY_"))}
    env.update(
        OPENSEARCH_URL=base_config.opensearch_url,
        LOOKALIKE_INDEX_ALIAS=f"test-workers-{uuid.uuid4().hex[:8]}",
        CELERY_BROKER_URL=redis_server.url,
        LOOKALIKE_IMAGE_ROOTS=str(images),
        LOOKALIKE_INGEST_MAX_ATTEMPTS="2",
        LOOKALIKE_INGEST_RETRY_BACKOFF="0.2",
        LOOKALIKE_INGEST_BATCH_SIZE="4",
        LOOKALIKE_BROKER_VISIBILITY_TIMEOUT="5",
        LOOKALIKE_TORCH_THREADS="1",
    )
    return env


@pytest.fixture(scope="module")
def worker(worker_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    running = Worker(worker_env, tmp_path_factory.mktemp("worker-log") / "worker.log")
    running.start()
    yield running
    running.stop()
