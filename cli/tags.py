"""``lookalike tags``: the shop's categories and tags predicted for its products."""

from __future__ import annotations

import time

import click

from cli.common import load_config, reports_errors
from plugin.opensearch import cluster_health, connect


@click.group("tags")
def tags() -> None:
    """Categories and tags predicted from the products the shop has tagged."""


@tags.command("predict")
@click.argument("product_ids", nargs=-1)
@reports_errors
def predict(product_ids: tuple[str, ...]) -> None:
    """Predict and store the category and tags of PRODUCT_IDS, or of every product when none are
    named (after a change to the shop's vocabulary, say). Each ingest run does this for the
    products it changed and their neighbours by itself."""
    from plugin.models.registry import (
        backend_for,  # the model loads only for this command
    )
    from plugin.tagging.store import store_predictions

    config = load_config()
    client = connect(config)
    cluster_health(client)
    started = time.monotonic()
    result = store_predictions(client, config.index_alias, backend_for(config), list(product_ids) or None)
    if result.skipped:
        raise click.ClickException(f"Nothing predicted: {result.skipped}.")
    click.echo(
        f"Predicted the category and tags of {result.predicted + result.unchanged} products in {time.monotonic() - started:.1f} s"
        f" ({result.unchanged} as stored already)."
    )
