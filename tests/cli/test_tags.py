"""``lookalike tags predict``: the shop's categories and tags predicted again on demand."""

from __future__ import annotations

from opensearchpy import OpenSearch

from plugin.config import Config
from plugin.models.registry import spec_for_model
from plugin.opensearch import indices
from plugin.opensearch.client import connect
from tests.support.cli import run_cli


def test_predict_stores_the_named_products_predictions_and_leaves_unchanged_ones_unwritten(cli_env: dict[str, str], shop_config: Config) -> None:
    # The shop's ingest stored these predictions already: predicting them again writes nothing.
    before = connect(shop_config).get(index=shop_config.index_alias, id="tablet")

    result = run_cli("tags", "predict", "laptop", "tablet", env=dict(cli_env, LOOKALIKE_INDEX_ALIAS=shop_config.index_alias))

    assert result.returncode == 0, result.stderr
    assert "Predicted the category and tags of 2 products" in result.stdout and "(2 as stored already)" in result.stdout
    after = connect(shop_config).get(index=shop_config.index_alias, id="tablet")
    assert after["_version"] == before["_version"] and after["_source"]["predicted"] == before["_source"]["predicted"]


def test_an_index_without_room_for_predictions_is_one_sentence_naming_the_way_out(cli_env: dict[str, str], config: Config, client: OpenSearch) -> None:
    indices.swap_alias(client, config.index_alias, indices.create_product_index(client, config, spec_for_model(config.model), version=4))

    result = run_cli("tags", "predict", env=cli_env)

    assert result.returncode == 1
    assert "Nothing predicted" in result.stderr and "--new-index" in result.stderr and "Traceback" not in result.stderr
