"""``lookalike ingest``: a catalogue into the index through the workers, and its quarantine."""

from __future__ import annotations

from pathlib import Path

import click
from opensearchpy import OpenSearch

from cli.common import done_line, load_config, printable, progress_bar, reports_errors
from plugin.config import Config
from plugin.opensearch import cluster_health, connect


@click.command()
@click.argument("catalogue", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--eager", is_flag=True, help="Run the tasks in this process, without a broker or workers.")
@click.option("--failures", is_flag=True, help="List quarantined rows, images and products, and exit.")
@click.option("--retry-failed", is_flag=True, help="Ingest the quarantined products again.")
@click.option("--timeout", type=float, default=None, help="Give up waiting after this many seconds.")
@click.option(
    "--new-index",
    is_flag=True,
    help="Embed everything into a new index (a new model or mapping) and move the alias to it when complete.",
)
@reports_errors
def ingest(catalogue: Path | None, eager: bool, failures: bool, retry_failed: bool, timeout: float | None, new_index: bool) -> None:
    """Ingest CATALOGUE (JSONL or CSV): every product becomes searchable or is quarantined with its reason."""
    from ingest import retry_failed as retry_quarantined
    from ingest import run_catalogue

    config = load_config()
    client = connect(config)
    cluster_health(client)
    if failures:
        _print_failures(client, config)
        return
    if retry_failed == (catalogue is not None):
        raise click.UsageError("give a CATALOGUE, or --retry-failed, or --failures")
    if new_index and catalogue is None:
        raise click.UsageError("--new-index needs the full CATALOGUE")
    with progress_bar(hint_stalls=not eager, broker=config.ingest.broker_url) as show:
        if catalogue is None:
            summary = retry_quarantined(client, config, eager=eager, progress=show, timeout=timeout)
        else:
            summary = run_catalogue(client, config, catalogue, eager=eager, progress=show, timeout=timeout, new_index=new_index)
    click.echo(done_line(summary))
    click.echo(f"Model calls: {summary.get('images_embedded', 0)} images, {summary.get('texts_embedded', 0)} texts embedded.")
    if new_index:
        click.echo(f"Alias {config.index_alias} now points at {summary['new_index']}; the previous index is kept (lookalike index list).")
    if summary.get("quarantined"):
        click.echo("See why with: lookalike ingest --failures")


def _print_failures(client: OpenSearch, config: Config) -> None:
    from plugin.opensearch.quarantine import list_records

    records = list_records(client, config)
    if not records:
        click.echo("The quarantine is empty.")
        return
    for record in records:
        # Ids, URLs and messages come from the catalogue and remote servers: shown, never obeyed.
        where = f"line {record['line']}" if record.get("kind") == "row" else f"product {printable(record.get('product_id'), one_line=True)}"
        source = f" {printable(record['source'], one_line=True)}" if record.get("source") else ""
        click.echo(f"{record['kind']:<8} {record['reason']:<16} {where}{source}: {printable(record['message'], one_line=True)}")
    click.echo(f"{len(records)} quarantined; retry products with: lookalike ingest --retry-failed")
