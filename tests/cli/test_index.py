"""``lookalike index`` against the run's node, as a user would type it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from plugin.config import Config
from plugin.models.registry import spec_for_model
from plugin.opensearch import indices
from plugin.opensearch.quarantine import ensure_quarantine
from tests.support.cli import run_cli
from tests.support.models import TINY_SPEC


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


def quarantine(client: OpenSearch, config: Config) -> str:
    ensure_quarantine(client, config)
    return config.quarantine_index


def thumbnails(client: OpenSearch, config: Config) -> str:
    indices.ensure_index(client, config, config.thumbnail_index, "thumbnails")
    return config.thumbnail_index


def ranking(client: OpenSearch, config: Config) -> str:
    indices.ensure_index(client, config, config.ranking_index, "ranking")
    return config.ranking_index


def another_models(client: OpenSearch, config: Config) -> str:
    return indices.create_product_index(client, config, TINY_SPEC)


def an_old_mappings(client: OpenSearch, config: Config) -> str:
    return indices.create_product_index(client, config, spec_for_model(config.model), version=1)


def a_foreign_one_named_like_ours(client: OpenSearch, config: Config) -> str:
    name = f"{config.index_alias}-v2-20260101000000000000"
    client.indices.create(index=name, body={"mappings": {"properties": {"title": {"type": "text"}}}})
    return name


def a_foreign_one(client: OpenSearch, config: Config) -> str:
    name = f"{config.index_alias}-legacy-shop"
    client.indices.create(index=name)
    return name


@pytest.mark.parametrize(
    ("target", "why"),
    [
        (quarantine, "it is not one of its product indices (named {alias}-v<mapping version>-<time>; see lookalike index list)."),
        (thumbnails, "it is not one of its product indices"),
        (ranking, "it is not one of its product indices"),
        (a_foreign_one, "it is not one of its product indices"),
        (a_foreign_one_named_like_ours, "it was not created from lookalike's product mapping."),
        (another_models, "it holds vectors of tiny-test-model v7 and the configured model is efficientnet-lite0"),
        (an_old_mappings, "its mapping is v1 and this version of lookalike searches v2, v3, v4, v5; re-ingest the catalogue with lookalike ingest --new-index."),
    ],
)
def test_the_alias_moves_only_onto_a_product_index_of_the_configured_model(
    client: OpenSearch, config: Config, cli_env: dict[str, str], target: Callable[[OpenSearch, Config], str], why: str
) -> None:
    live = indices.ensure_product_index(client, config, spec_for_model(config.model))
    name = target(client, config)

    result = run_cli("index", "swap", name, env=cli_env)

    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: Refused to point alias {config.index_alias} at {name}: {why.format(alias=config.index_alias)}")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert indices.indices_behind(client, config.index_alias) == [live]  # searches go on against the live index

