"""``lookalike serve``: the search API under waitress, with the limits of :mod:`api.server`; HTTPS
when ``LOOKALIKE_TLS_CERT`` and ``LOOKALIKE_TLS_KEY`` name a certificate and its key."""

from __future__ import annotations

import errno
import socket

import click

from cli.common import answer_ctrl_c, ensure_fast_malloc, load_config, reports_errors
from engine.errors import PortInUse


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=None, type=click.IntRange(1, 64), help="request threads  [default: two per core]")
@reports_errors
def serve(host: str, port: int, threads: int | None) -> None:
    """Serve the search API (POST /search, GET /products/<id>[/similar], /thumbnails/<fp>, /health)."""
    ensure_fast_malloc()  # a photo query embeds several regions of the photo in one batch
    answer_ctrl_c()
    from api.server import serve as serve_api  # Flask loads only for this command
    from api.server import tls_context

    config = load_config()
    # A certificate that will not load, like a taken port, ends the command before the model loads.
    tls = tls_context(config.serve.tls_cert, config.serve.tls_key) if config.serve.tls_cert and config.serve.tls_key else None
    sock = bind_port(host, port, f"serve on another port with `lookalike serve --port {port + 1}`")
    scheme = "https" if tls else "http"
    click.echo(f"lookalike API on {scheme}://{host}:{port} (OpenSearch {config.opensearch_url}, alias {config.index_alias})")
    serve_api(config, sock, threads, tls)


def bind_port(host: str, port: int, instead: str) -> socket.socket:
    """The API's socket on *host*:*port*, bound now: a port in use ends the command at once with
    one sentence (:class:`PortInUse`), ending in *instead*, before anything slow starts."""
    from api.server import listening_socket

    try:
        return listening_socket(host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(f"Port {port} on {host} is already in use (another `make demo` or `lookalike serve`?); {instead}.") from None
        raise click.ClickException(f"cannot listen on {host} port {port}: {exc.strerror or exc}") from None
