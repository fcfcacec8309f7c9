"""``lookalike index`` and ``lookalike demo`` against the run's node, as a user would type them."""

from __future__ import annotations

from pathlib import Path

from opensearchpy import OpenSearch

from engine.local_node import LocalNode
from plugin.opensearch import indices as index_lifecycle
from plugin.config import Config
from tests.support.cli import free_port, run_cli


def test_index_create_activate_list_and_swap(client: OpenSearch, config: Config, cli_env: dict[str, str]) -> None:
    created = run_cli("index", "create", "--activate", env=cli_env)
    assert created.returncode == 0, created.stderr
    first = index_lifecycle.indices_behind(client, config.index_alias)[0]
    assert f"Alias {config.index_alias} now points at {first}." in created.stdout

    second_run = run_cli("index", "create", env=cli_env)
    second = second_run.stdout.split()[1].rstrip(".")
    listing = run_cli("index", "list", env=cli_env)
    assert f"* {first}  docs=0" in listing.stdout
    assert f"  {second}  docs=0" in listing.stdout

    swapped = run_cli("index", "swap", second, env=cli_env)
    assert swapped.returncode == 0, swapped.stderr
    assert index_lifecycle.indices_behind(client, config.index_alias) == [second]


def test_index_swap_to_an_unknown_index_is_one_clear_error(config: Config, cli_env: dict[str, str]) -> None:
    result = run_cli("index", "swap", f"{config.index_alias}-v1-nope", env=cli_env)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: cannot point alias {config.index_alias} at {config.index_alias}-v1-nope: no such index"
    )


def test_an_unreachable_cluster_is_one_clear_error(cli_env: dict[str, str]) -> None:
    env = dict(cli_env, OPENSEARCH_URL="http://127.0.0.1:9", OPENSEARCH_TIMEOUT="2")

    result = run_cli("index", "list", env=env)

    assert result.returncode == 1
    assert result.stderr.startswith("Error: OpenSearch at http://127.0.0.1:9 cannot be reached")
    assert "Traceback" not in result.stderr


def test_demo_leaves_a_live_product_index_and_reports_health(
    running_local_node: LocalNode, client: OpenSearch, config: Config, cli_env: dict[str, str]
) -> None:
    result = run_cli("demo", env=cli_env)

    assert result.returncode == 0, result.stderr
    live = index_lifecycle.indices_behind(client, config.index_alias)
    assert len(live) == 1
    assert f"Alias {config.index_alias} -> {live[0]}" in result.stdout
    assert "OpenSearch 2.19.1" in result.stdout and "cluster lookalike is green" in result.stdout


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
