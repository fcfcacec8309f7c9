"""``lookalike serve``: the search API under waitress."""

from __future__ import annotations

import click

from cli.common import load_config, reports_errors


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=None, type=click.IntRange(1, 64), help="request threads  [default: two per core]")
@reports_errors
def serve(host: str, port: int, threads: int | None) -> None:
    """Serve the search API (POST /search, GET /products/<id>[/similar], /thumbnails/<fp>, /health)."""
    from api.app import (
        serve as serve_api,  # Flask and the model load only for this command
    )

    config = load_config()
    click.echo(f"lookalike API on http://{host}:{port} (OpenSearch {config.opensearch_url}, alias {config.index_alias})")
    serve_api(config, host, port, threads)
