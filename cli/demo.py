"""``lookalike demo``: the local node, the demo catalogue ingested, one product found by photo, the search page served."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import socket
from pathlib import Path

import click
from opensearchpy import OpenSearch

import mappings
from cli.common import (
    answer_ctrl_c,
    done_line,
    load_config,
    printable,
    progress_bar,
    reports_errors,
)
from cli.serve import bind_port
from engine.local_cluster import LocalCluster
from plugin.config import Config
from plugin.errors import ModelMismatch
from plugin.opensearch import cluster_health, connect, indices_behind
from plugin.opensearch.indices import index_model

#: Where the demo keeps the admin key it made for this machine, under the data directory.
ADMIN_KEY_FILE = "demo-admin-key"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the search page is served on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port of the search page.")
@click.option("--no-serve", is_flag=True, help="Stop after the photo lookup instead of serving the search page.")
@reports_errors
def demo(host: str, port: int, no_serve: bool) -> None:
    """Start the local node, ingest the demo catalogue (Vendure's 54 products), find a product by photo,
    and serve the search page and the admin views until Ctrl-C."""
    answer_ctrl_c()
    from ingest import run_catalogue
    from sample_data.vendure import prepare_vendure

    config = load_config()
    # The port is taken now, before minutes of set-up, not after; early visitors wait for the page.
    sock = None if no_serve else bind_port(host, port, f"serve the demo on another port with `make demo DEMO_PORT={port + 1}` or `lookalike demo --port {port + 1}`")
    cluster = LocalCluster(config.engine)  # LOOKALIKE_ENGINE_NODES local nodes, one by default
    click.echo("Starting the local OpenSearch node ..." if cluster.size == 1 else f"Starting {cluster.size} local OpenSearch nodes ...")
    url = ", ".join(cluster.start())
    catalogue = prepare_vendure(config.data_dir)
    images = catalogue.parent / "images"
    config = dataclasses.replace(config, fetch=dataclasses.replace(config.fetch, local_roots=(*config.fetch.local_roots, images)))
    client = connect(config)
    health = cluster_health(client)
    click.echo(f"OpenSearch {cluster.members[0].status().version} at {url}: cluster {health['cluster_name']} is {health['status']}.")
    click.echo(f"Ingesting the demo catalogue {catalogue} in this process (--eager) ...")
    previous = indices_behind(client, config.index_alias)
    # An index from a mapping this version no longer searches lacks what searches rely on (category
    # words, synonyms), and one older than gallery views cannot hold them when asked for: the demo rebuilds it.
    version = index_model(client, previous[0]).get("mapping_version", 0) if previous else mappings.CURRENT_PRODUCT_VERSION
    stale = version not in mappings.LIVE_PRODUCT_VERSIONS or (bool(config.gallery_views) and version < mappings.GALLERY_VIEWS_VERSION)
    if stale:
        click.echo(f"{previous[0]} was made from an older mapping; re-ingesting into a new index ...")
    try:
        with progress_bar(hint_stalls=False) as show:
            summary = run_catalogue(client, config, catalogue, eager=True, progress=show, new_index=stale)
    except ModelMismatch as exc:
        # An index left by an earlier version of the model: the demo re-embeds into a new one.
        click.echo(f"{exc}\nRe-embedding the demo catalogue into a new index ...")
        with progress_bar(hint_stalls=False) as show:
            summary = run_catalogue(client, config, catalogue, eager=True, progress=show, new_index=True)
    click.echo(done_line(summary))
    live = indices_behind(client, config.index_alias)[0]
    click.echo(f"Alias {config.index_alias} -> {live}, {client.count(index=config.index_alias)['count']} products.")
    _demo_photo_lookup(client, config, catalogue)
    if sock is None:
        click.echo("Stop the node with: .venv/bin/lookalike engine stop")
        return
    if config.admin_key:
        key_line = "the key in LOOKALIKE_ADMIN_KEY"
    else:
        config = dataclasses.replace(config, admin_key=demo_admin_key(config.data_dir))
        key_line = f"admin key {config.admin_key}, made for this machine and kept in {config.data_dir / ADMIN_KEY_FILE}"
    _serve(config, sock, f"http://{host}:{port}", key_line)


def _serve(config: Config, sock: socket.socket, base: str, key_line: str) -> None:
    """The search page and the admin views on *sock*, until Ctrl-C, with the limits ``lookalike serve`` has."""
    from api.server import build_server

    server = build_server(config, sock)
    click.echo(f"\nThe search page is live: {base}/")
    click.echo(f"Admin views: {base}/admin/  ({key_line})")
    click.echo(f"The API: {base}/search, documented at {base}/openapi.json")
    click.echo("Ctrl-C stops the API; the node keeps running with its data (stop it with: .venv/bin/lookalike engine stop).")
    try:
        server.run()  # waitress returns from here on Ctrl-C
    except KeyboardInterrupt:
        pass  # a Ctrl-C that lands outside waitress's own loop
    finally:
        server.close()
    click.echo("\nThe API stopped. The node still runs with the demo catalogue; `make demo` serves it again in seconds.")


def demo_admin_key(data_dir: Path) -> str:
    """This machine's demo admin key: made once at random, kept readable by its owner only."""
    path = data_dir / ADMIN_KEY_FILE
    if path.is_file() and path.read_text(encoding="utf-8").strip():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(18)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


def _demo_photo_lookup(client: OpenSearch, config: Config, catalogue: Path) -> None:
    """Blur, crop and darken one catalogue photo, and look it up as the API would, by the photo alone."""
    from PIL import ImageEnhance, ImageFilter

    from plugin.images.decode import decode_image
    from plugin.models.registry import backend_for
    from plugin.search import Query, QueryEmbedder, search

    first = json.loads(catalogue.read_text(encoding="utf-8").splitlines()[7])
    photo = decode_image(Path(first["images"][0]).read_bytes())
    width, height = photo.size
    degraded = photo.crop((width // 10, height // 10, width * 9 // 10, height * 9 // 10)).filter(ImageFilter.GaussianBlur(3))
    degraded = ImageEnhance.Brightness(degraded).enhance(0.6)
    embedder = QueryEmbedder(backend_for(config), views=config.query_views)
    query = Query(image_vector=embedder.image(degraded), weights={"image": 1.0}, size=3, explain=True)
    result = search(client, config.index_alias, query)
    click.echo(f"A blurred, cropped, darkened photo of {first['title']!r} finds:")
    for rank, hit in enumerate(result.hits, start=1):
        # The k-NN similarity, not the fused rank score: it says how close the photo came.
        click.echo(f"  {rank}. {printable(hit['title'], one_line=True)}  (score {hit['explain']['signals']['image']['score']:.3f})")
