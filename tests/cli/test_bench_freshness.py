"""``lookalike bench freshness``: new and changed products sent through the real broker and a real
worker are found by a search and told to the shoppers who saved their photo, and the report says
how soon, beside a search with nothing to wait for."""

from __future__ import annotations

import json
from pathlib import Path

from engine.local_redis import LocalRedis
from tests.support.cli import run_cli


def test_each_update_is_found_and_the_report_gives_its_delay_beside_the_baseline(cli_env: dict[str, str], redis_server: LocalRedis, tmp_path: Path) -> None:
    env = dict(
        cli_env,
        LOOKALIKE_REPORTS_DIR=str(tmp_path),
        LOOKALIKE_REDIS_HOME=str(redis_server.home),
        LOOKALIKE_REDIS_PORT=str(redis_server.port),
        CELERY_BROKER_URL=redis_server.url,
        LOOKALIKE_INFERENCE_THREADS="1",
    )

    result = run_cli("bench", "freshness", "--products", "100", "--updates", "4", env=env)

    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "bench-freshness.json").read_text(encoding="utf-8"))
    assert report["updates"] == 4 and report["command"] == "lookalike bench freshness --products 100 --updates 4"
    # Each update was found (a missing one fails the run), never before its run was done.
    assert 0 < report["p50_s"] <= report["p95_s"] <= report["max_s"] < 30
    assert report["end_to_end"]["p50_s"] > report["p50_s"] and report["baseline_search"]["p50_s"] > 0
    assert set(report["by_kind"]) == {"new", "changed"}
    # Each shopper who saved the update's photo was told of it (a shopper never told fails the run).
    assert 0 < report["saved_search_told"]["p50_s"] <= report["saved_search_told"]["max_s"] < 30
