"""``lookalike eval``: what it checks before measuring anything."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import run_cli


def test_a_judged_report_name_must_start_with_judged(cli_env: dict[str, str], tmp_path: Path) -> None:
    judged = tmp_path / "queries.jsonl"
    judged.write_text('{"query": "tent", "relevant": {"a": 1}}\n')

    result = run_cli("eval", "judged", str(judged), "--name", "mine", env=dict(cli_env, LOOKALIKE_REPORTS_DIR=str(tmp_path)))

    assert result.returncode == 2
    assert "must start with 'judged'" in result.stderr
    assert not list(tmp_path.glob("eval-*"))
