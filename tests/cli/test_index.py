"""``lookalike index`` against the run's node, as a user would type it."""

from __future__ import annotations

from pathlib import Path

from opensearchpy import OpenSearch

from plugin.config import Config
from plugin.opensearch import indices
from tests.support.cli import run_cli


def test_index_create_activate_list_and_swap(client: OpenSearch, config: Config, cli_env: dict[str, str]) -> None:
    created = run_cli("index", "create", "--activate", env=cli_env)
    assert created.returncode == 0, created.stderr
    first = indices.indices_behind(client, config.index_alias)[0]
    assert f"Alias {config.index_alias} now points at {first}." in created.stdout

    second_run = run_cli("index", "create", env=cli_env)
    second = second_run.stdout.split()[1].rstrip(".")
    listing = run_cli("index", "list", env=cli_env)
    assert f"* {first}  docs=0" in listing.stdout
    assert f"  {second}  docs=0" in listing.stdout

    swapped = run_cli("index", "swap", second, env=cli_env)
    assert swapped.returncode == 0, swapped.stderr
    assert indices.indices_behind(client, config.index_alias) == [second]


def test_index_create_sizes_the_vectors_for_the_configured_model(
    client: OpenSearch, config: Config, cli_env: dict[str, str], tiny_clip: Path
) -> None:
    result = run_cli("index", "create", env=dict(cli_env, LOOKALIKE_MODEL=f"clip:{tiny_clip}"))

    assert result.returncode == 0, result.stderr
    name = result.stdout.split()[1].rstrip(".")
    mapping = client.indices.get_mapping(index=name)[name]["mappings"]
    assert mapping["properties"]["images"]["properties"]["vector"]["dimension"] == 16
    assert mapping["properties"]["text_vector"]["dimension"] == 16
    assert mapping["_meta"]["embedding_model"] == f"clip:{tiny_clip}"
    assert int(mapping["_meta"]["image_dims"]) == int(mapping["_meta"]["text_dims"]) == 16


def test_index_swap_to_an_unknown_index_is_one_clear_error(config: Config, cli_env: dict[str, str]) -> None:
    result = run_cli("index", "swap", f"{config.index_alias}-v1-nope", env=cli_env)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: cannot point alias {config.index_alias} at {config.index_alias}-v1-nope: no such index"
    )
