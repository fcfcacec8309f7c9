"""``lookalike ingest``: its usage errors and a missing broker, as a user meets them."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from engine.local_redis import LocalRedis
from tests.support.catalogues import write_catalogue
from tests.support.cli import LOOKALIKE, free_port, run_cli
from tests.support.images import jpeg_bytes
from tests.support.ingest import HeldImages, row, summary_counts
from tests.support.workers import Worker


def test_ingest_without_a_broker_is_one_clear_error(cli_env: dict[str, str], tmp_path: Path) -> None:
    catalogue = tmp_path / "c.jsonl"
    catalogue.write_text('{"id": "a", "title": "A", "images": ["https://shop.example/a.jpg"]}\n')
    env = dict(cli_env, CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0")

    result = run_cli("ingest", str(catalogue), env=env)

    assert result.returncode == 1
    assert result.stderr.startswith("Error: The broker at redis://127.0.0.1:")
    assert "lookalike broker start" in result.stderr and "Traceback" not in result.stderr


def test_ingest_needs_a_catalogue_or_an_option(cli_env: dict[str, str]) -> None:
    result = run_cli("ingest", env=cli_env)

    assert result.returncode == 2
    assert "give a CATALOGUE, or --retry-failed, or --failures" in result.stderr


def test_failures_show_a_catalogues_escape_sequences_as_text_never_to_the_terminal(
    client: OpenSearch, cli_env: dict[str, str], tmp_path: Path
) -> None:
    catalogue = write_catalogue(
        tmp_path / "c.jsonl",
        [
            {"id": "evil\u009b2J", "title": "Mug", "images": ["/nowhere/\u001b]0;pwned\u0007mug\u001b[31m.jpg"]},
            '{"id": "\u001b[2Jbroken", ',
        ],
    )
    ingested = run_cli("ingest", str(catalogue), "--eager", env=cli_env)
    assert ingested.returncode == 0, ingested.stderr

    result = run_cli("ingest", "--failures", env=cli_env)

    assert result.returncode == 0, result.stderr
    assert not any(char in result.stdout for char in "\x1b\x07\x9b\x9d")
    lines = result.stdout.splitlines()
    assert len(lines) == 3  # two records and the hint, one line each
    assert any(line.startswith("product  path_not_allowed product evil /nowhere/mug.jpg: ") for line in lines), result.stdout
    assert any(line.startswith("row      malformed_row    line 2: invalid JSON") for line in lines), result.stdout


@pytest.mark.slow
def test_a_broker_stopped_mid_run_is_one_line_in_the_worker_and_the_command_and_the_run_finishes(
    client: OpenSearch, cli_env: dict[str, str], tmp_path: Path
) -> None:
    broker = LocalRedis(tmp_path / "redis", free_port())  # a Redis of its own, to stop
    broker.start()
    env = dict(cli_env, CELERY_BROKER_URL=broker.url, LOOKALIKE_FETCH_ALLOW_PRIVATE="true", LOOKALIKE_INGEST_BATCH_SIZE="2")
    worker = Worker(env, tmp_path / "worker.log")
    worker.start()
    try:
        with HeldImages(jpeg_bytes((96, 96)), hold=1.0) as images:
            catalogue = write_catalogue(tmp_path / "c.jsonl", [row(f"b{n}", images.url(f"b{n}.jpg")) for n in range(8)])
            running = subprocess.Popen(
                [LOOKALIKE, "ingest", str(catalogue), "--timeout", "240"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            images.wait_for_requests(1, timeout=120)  # the worker is inside the task
            broker.stop()
            time.sleep(3)
            broker.start()  # with the queued tasks: Redis keeps them on disk
            stdout, stderr = running.communicate(timeout=300)
    finally:
        worker.stop()
        broker.stop()

    assert running.returncode == 0, stderr
    assert f"Lost the broker {broker.url}; reconnecting ..." in stdout
    assert summary_counts(stdout)["quarantined"] == 0
    assert sum(summary_counts(stdout)[k] for k in ("indexed", "unchanged")) == 8
    assert "Traceback" not in stderr
    log = (tmp_path / "worker.log").read_text()
    assert "Lost the broker (" in log and "reconnecting ..." in log
    assert "Traceback" not in log and "CPendingDeprecationWarning" not in log
