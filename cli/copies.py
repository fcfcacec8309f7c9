"""``lookalike copies``: which catalogue photos of different products are copies of one another."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import click

from cli.common import load_config, reports_errors
from plugin.copies.evidence import CopyRule
from plugin.copies.finder import load_keypoints
from plugin.copies.scan import (
    NEIGHBOURS,
    copy_groups,
    load_catalogue_images,
    scan_catalogue,
)
from plugin.opensearch import cluster_health, connect


@click.command("copies")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, writable=True, path_type=Path), help="Also write every group, pair and its evidence to this JSON file.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=0), help="Groups printed.")
@click.option(
    "--neighbours",
    default=NEIGHBOURS,
    show_default=True,
    type=click.IntRange(min=0),
    help="Nearest photos of other products whose keypoints each photo's are matched with, to find crops (0: none, fastest).",
)
@reports_errors
def copies(json_out: Path | None, limit: int, neighbours: int) -> None:
    """Scan the whole catalogue for photos of different products that are copies of one another
    (cropped, resized, recompressed, recoloured, flipped, captioned), by perceptual hash, image
    vector and matching keypoints, and print each group with its products, sellers and evidence."""
    config = load_config()
    client = connect(config)
    cluster_health(client)
    rule = CopyRule()
    images = load_catalogue_images(client, config.index_alias)
    pairs = scan_catalogue(images, rule, functools.partial(load_keypoints, client, config.thumbnail_index, mirrored=True), neighbours)
    groups = copy_groups(pairs)
    click.echo(f"{len(images.photos)} photos scanned: {len(pairs)} pairs of photos of different products look copied, in {len(groups)} groups.")
    for number, group in enumerate(groups[:limit], start=1):
        sellers = f"; sellers {', '.join(group['sellers'])}" if group["sellers"] else ""
        click.echo(f"{number}. products {', '.join(group['products'])}{sellers}")
        for pair in group["pairs"]:
            first, second = pair["photos"]
            click.echo(f"   {first['product_id']} {first['url']}  <->  {second['product_id']} {second['url']}: {pair['reason']}")
    if len(groups) > limit:
        click.echo(f"... and {len(groups) - limit} more groups (--limit, or --json for all).")
    if json_out is not None:
        json_out.write_text(json.dumps({"rule": rule.__dict__, "photos": len(images.photos), "groups": groups}, indent=1), encoding="utf-8")
        click.echo(f"Written to {json_out}.")
