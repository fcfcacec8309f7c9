"""``lookalike demo``: the local node, the demo catalogue ingested, and one product found by photo."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click
from opensearchpy import OpenSearch

from cli.common import done_line, load_config, progress_bar, reports_errors
from engine.local_node import LocalNode
from plugin.config import Config
from plugin.errors import ModelMismatch
from plugin.opensearch import cluster_health, connect, indices_behind


@click.command()
@reports_errors
def demo() -> None:
    """Start the local node, ingest the demo catalogue (Vendure's 54 products), and find a product by photo."""
    from ingest import run_catalogue
    from sample_data.vendure import prepare_vendure

    config = load_config()
    node = LocalNode(config.engine)
    click.echo("Starting the local OpenSearch node ...")
    url = node.start()
    catalogue = prepare_vendure(config.data_dir)
    images = catalogue.parent / "images"
    config = dataclasses.replace(config, fetch=dataclasses.replace(config.fetch, local_roots=(*config.fetch.local_roots, images)))
    client = connect(config)
    health = cluster_health(client)
    click.echo(f"OpenSearch {node.status().version} at {url}: cluster {health['cluster_name']} is {health['status']}.")
    click.echo(f"Ingesting the demo catalogue {catalogue} in this process (--eager) ...")
    try:
        with progress_bar(hint_stalls=False) as show:
            summary = run_catalogue(client, config, catalogue, eager=True, progress=show)
    except ModelMismatch as exc:
        # An index left by an earlier version of the model: the demo re-embeds into a new one.
        click.echo(f"{exc}\nRe-embedding the demo catalogue into a new index ...")
        with progress_bar(hint_stalls=False) as show:
            summary = run_catalogue(client, config, catalogue, eager=True, progress=show, new_index=True)
    click.echo(done_line(summary))
    live = indices_behind(client, config.index_alias)[0]
    click.echo(f"Alias {config.index_alias} -> {live}, {client.count(index=config.index_alias)['count']} products.")
    _demo_photo_lookup(client, config, catalogue)
    click.echo("Stop the node with: .venv/bin/lookalike engine stop")


def _demo_photo_lookup(client: OpenSearch, config: Config, catalogue: Path) -> None:
    """Blur, crop and darken one catalogue photo, and look it up as the API would, by the photo alone."""
    from PIL import ImageEnhance, ImageFilter

    from plugin.images.decode import decode_image
    from plugin.models.registry import load_backend
    from plugin.search import Query, QueryEmbedder, search

    first = json.loads(catalogue.read_text(encoding="utf-8").splitlines()[7])
    photo = decode_image(Path(first["images"][0]).read_bytes())
    width, height = photo.size
    degraded = photo.crop((width // 10, height // 10, width * 9 // 10, height * 9 // 10)).filter(ImageFilter.GaussianBlur(3))
    degraded = ImageEnhance.Brightness(degraded).enhance(0.6)
    embedder = QueryEmbedder(load_backend(config.model, config.torch_threads), views=config.query_views)
    query = Query(image_vector=embedder.image(degraded), weights={"image": 1.0}, size=3, explain=True)
    result = search(client, config.index_alias, query)
    click.echo(f"A blurred, cropped, darkened photo of {first['title']!r} finds:")
    for rank, hit in enumerate(result.hits, start=1):
        # The k-NN similarity, not the fused rank score: it says how close the photo came.
        click.echo(f"  {rank}. {hit['title']}  (score {hit['explain']['signals']['image']['score']:.3f})")
