"""``lookalike bench``: the one benchmark quick enough for the suite, writing where the configuration says."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import run_cli

COMMITTED = Path(__file__).resolve().parents[2] / "reports" / "bench-bridge.json"


def test_bench_bridge_writes_the_committed_format_into_the_reports_directory(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli("bench", "bridge", env=dict(cli_env, LOOKALIKE_REPORTS_DIR=str(tmp_path)))

    assert result.returncode == 0, result.stderr
    report = tmp_path / "bench-bridge.json"
    assert result.stdout.strip().endswith(f"Written to {report}.")
    figures = json.loads(report.read_text(encoding="utf-8"))
    assert figures.keys() == json.loads(COMMITTED.read_text(encoding="utf-8")).keys()
    assert figures["queries"] == 54 and figures["command"] == "lookalike bench bridge"
