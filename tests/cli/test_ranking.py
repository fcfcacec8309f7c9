"""``lookalike tune`` and ``lookalike ranking``: fit, show and roll back the shop's ranking settings."""

from __future__ import annotations

import json
from pathlib import Path

from opensearchpy import OpenSearch

from plugin.config import Config
from plugin.opensearch.client import connect
from tests.support.cli import run_cli


def test_tune_saves_nothing_when_the_held_out_queries_cannot_improve(cli_env: dict[str, str], shop_config: Config, tmp_path: Path) -> None:
    # The demo shop's product names already come first with the defaults: nothing to gain.
    judged = tmp_path / "judged.jsonl"
    rows = [{"query": title, "text": title, "relevant": {pid: 1}} for pid, title in
            (("laptop", "Laptop"), ("tent", "Tent"), ("road-bike", "Road Bike"), ("orchid", "Orchid"))]
    judged.write_text("".join(json.dumps(row) + "\n" for row in rows))

    result = run_cli("tune", str(judged), env=dict(cli_env, LOOKALIKE_INDEX_ALIAS=shop_config.index_alias))

    assert result.returncode == 0, result.stderr
    assert "ndcg_at_10 fitted on 2 queries: 1.0000 -> 1.0000" in result.stdout
    assert "ndcg_at_10 held out 2 queries: 1.0000 -> 1.0000" in result.stdout
    assert "did not improve: nothing saved" in result.stderr
    assert not connect(shop_config).indices.exists(index=shop_config.ranking_index)


def test_a_rollback_saves_a_new_version_that_show_lists(cli_env: dict[str, str], config: Config, client: OpenSearch) -> None:
    assert "Live: the built-in defaults" in run_cli("ranking", "show", env=cli_env).stdout

    rolled = run_cli("ranking", "rollback", "0", env=cli_env)
    shown = run_cli("ranking", "show", env=cli_env)
    missing = run_cli("ranking", "rollback", "5", env=cli_env)

    assert rolled.returncode == 0 and "saved as version 1" in rolled.stdout
    assert "Live: version 1" in shown.stdout and '"fusion": "adaptive"' in shown.stdout
    assert "lookalike ranking rollback 0" in shown.stdout
    assert missing.returncode == 1 and "no ranking version 5" in missing.stderr
