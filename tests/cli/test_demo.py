"""``lookalike demo`` against the run's node, and its photo lookup through the product's own search."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

import mappings
from cli.demo import ADMIN_KEY_FILE, _demo_photo_lookup, demo_admin_key
from engine.local_node import LocalNode
from plugin.config import Config
from plugin.models.registry import spec_for_model
from plugin.opensearch import connect, indices
from sample_data.vendure import prepare_vendure
from tests.support.cli import run_cli


def test_demo_leaves_a_live_product_index_and_reports_health(
    running_local_node: LocalNode, client: OpenSearch, config: Config, cli_env: dict[str, str]
) -> None:
    # An index an earlier release made, from mapping version 1: the demo rebuilds it on the current mapping.
    old = indices.create_product_index(client, config, spec_for_model(config.model), version=1)
    indices.swap_alias(client, config.index_alias, old)

    result = run_cli("demo", "--no-serve", env=cli_env)

    assert result.returncode == 0, result.stderr
    assert f"{old} was made from an older mapping; re-ingesting into a new index" in result.stdout
    live = indices.indices_behind(client, config.index_alias)
    assert len(live) == 1 and live[0] != old
    assert indices.index_model(client, live[0])["mapping_version"] == mappings.CURRENT_PRODUCT_VERSION
    assert f"Alias {config.index_alias} -> {live[0]}" in result.stdout
    assert "OpenSearch 2.19.1" in result.stdout and "cluster lookalike is green" in result.stdout


def test_the_demo_finds_its_degraded_photo_first(shop_config: Config, capsys: pytest.CaptureFixture[str]) -> None:
    catalogue = prepare_vendure(shop_config.data_dir)
    title = json.loads(catalogue.read_text(encoding="utf-8").splitlines()[7])["title"]

    _demo_photo_lookup(connect(shop_config), shop_config, catalogue)

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"A blurred, cropped, darkened photo of {title!r} finds:"
    assert len(lines) == 4
    assert lines[1].startswith(f"  1. {title}  (score 0.")


def test_the_demo_admin_key_is_made_once_per_machine_and_kept_private(tmp_path: Path) -> None:
    first = demo_admin_key(tmp_path / "a")

    assert demo_admin_key(tmp_path / "a") == first  # the second demo shows the same key
    assert demo_admin_key(tmp_path / "b") != first  # never a fixed key
    assert len(first) >= 24
    assert stat.S_IMODE((tmp_path / "a" / ADMIN_KEY_FILE).stat().st_mode) == 0o600
