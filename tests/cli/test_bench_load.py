"""``lookalike bench load``: a tiny run against the real node and a real ``lookalike serve`` process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from plugin.config import Config
from plugin.opensearch.client import connect
from tests.support.cli import run_cli

PRODUCTS = 24  # a catalogue no real run uses: bench-search-24 is this test's, and deleted afterwards


@pytest.fixture
def bench_alias(base_config: Config) -> Iterator[str]:
    alias = f"bench-search-{PRODUCTS}"
    yield alias
    client = connect(base_config)
    client.indices.delete(index=f"{alias}*", expand_wildcards="all", ignore_unavailable=True)
    client.close()


def test_bench_load_drives_the_served_api_at_each_level_with_limits_on_and_reports_the_cpu_bound(
    cli_env: dict[str, str], tmp_path: Path, bench_alias: str
) -> None:
    result = run_cli(
        "bench", "load", "--products", str(PRODUCTS), "--levels", "2", "--seconds", "2", "--warmup", "1", "--threads", "4",
        env=dict(cli_env, LOOKALIKE_REPORTS_DIR=str(tmp_path)),
    )

    assert result.returncode == 0, result.stderr
    report = tmp_path / "bench-load.json"
    assert result.stdout.strip().endswith(f"Written to {report}.")
    figures = json.loads(report.read_text(encoding="utf-8"))
    assert list(figures["levels"]) == ["1", "2"]  # concurrency 1 is always measured: it gives the CPU bound
    for level in figures["levels"].values():
        assert level["errors"] == 0
        assert level["qps"] > 0 and level["counted"] > 0
        assert 0 < level["p50_ms"] <= level["p95_ms"] <= level["p99_ms"]
        assert set(level["p50_ms_by_kind"]) == {"photo", "text", "hybrid"}
    bound = figures["cpu_bound"]
    assert bound["server_cpu_ms_per_query"] > 0 and bound["node_on_this_machine"] is True
    expected = bound["cores"] * 1000 / (bound["server_cpu_ms_per_query"] + bound["node_cpu_ms_per_query"])
    assert figures["cpu_bound_qps"] == pytest.approx(expected, rel=0.01)
    assert figures["server"]["waitress_threads"] == 4 and figures["server"]["processes"] == 1
    assert figures["server"]["index"].startswith(bench_alias)
    assert figures["catalogue_size"] == PRODUCTS and figures["alias"] == bench_alias
    assert figures["goals"] is None  # concurrency 8 was not run
    assert figures["command"].startswith(f"lookalike bench load --products {PRODUCTS} --levels 1,2 --seconds 2")
    # The servers ran with rate limits on: many shoppers, each under its limit, and then one client over it.
    limits, throttle = figures["limits"], figures["throttle"]
    assert limits["search"] == "30/10 seconds" and limits["trusted_proxies"] == 1 and limits["shoppers"] > 1000
    assert 0 < throttle["ok"] <= 30 and throttle["throttled"] > 0 and throttle["server_errors"] == 0
    assert throttle["throttled_with_retry_after"] == throttle["throttled"] and 1 <= throttle["retry_after_s"][0] <= 10
    assert figures["limit_goals"] == {"zero_errors_with_limits_on": True, "a_client_over_its_limit_gets_429": True, "never_5xx": True}
    assert "429" in result.stdout  # the command says what the client over its limit was answered

