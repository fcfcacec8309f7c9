"""``lookalike index``: create product indices for the configured model and move the alias."""

from __future__ import annotations

import click

from cli.common import load_config, reports_errors
from plugin.models.registry import spec_for_model
from plugin.opensearch import (
    cluster_health,
    connect,
    create_product_index,
    go_live,
    indices_behind,
)


@click.group()
def index() -> None:
    """Create product indices and move the alias between them."""


@index.command("create")
@click.option("--activate", is_flag=True, help="Point the alias at the new index at once.")
@reports_errors
def index_create(activate: bool) -> None:
    """Create a new, empty product index for the configured embedding model."""
    config = load_config()
    client = connect(config)
    cluster_health(client)
    spec = spec_for_model(config.model)
    name = create_product_index(client, config, spec)
    click.echo(f"Created {name}.")
    if activate:
        go_live(client, config, name, spec)
        click.echo(f"Alias {config.index_alias} now points at {name}.")


@index.command("list")
@reports_errors
def index_list() -> None:
    """List product indices, marking the one behind the alias."""
    config = load_config()
    client = connect(config)
    cluster_health(client)
    live = set(indices_behind(client, config.index_alias))
    rows = client.cat.indices(index=f"{config.index_alias}-v*", format="json", h="index,docs.count,store.size")
    for row in sorted(rows, key=lambda r: r["index"]):
        marker = "*" if row["index"] in live else " "
        click.echo(f"{marker} {row['index']}  docs={row['docs.count']}  size={row['store.size']}")
    if not rows:
        click.echo(f"No product indices (pattern {config.index_alias}-v*).")


@index.command("swap")
@click.argument("name")
@reports_errors
def index_swap(name: str) -> None:
    """Point the alias at index NAME, atomically: one of its product indices, of the configured model."""
    config = load_config()
    client = connect(config)
    cluster_health(client)
    previous = go_live(client, config, name, spec_for_model(config.model))
    click.echo(f"Alias {config.index_alias} now points at {name} (before: {', '.join(previous) or 'nothing'}).")
