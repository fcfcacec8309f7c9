"""``lookalike watermark``: read back the invisible mark the API hides in the thumbnails it serves."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cli.common import load_config, printable, reports_errors

#: Exit status of a file that does not carry the shop's mark (1 stays for errors, as everywhere).
NOT_MARKED = 3


@click.group("watermark")
def watermark() -> None:
    """The invisible watermark that LOOKALIKE_WATERMARK puts in every thumbnail the API serves."""


@watermark.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--shop", default=None, help="The shop id to look for.  [default: $LOOKALIKE_WATERMARK]")
@reports_errors
def check(file: Path, shop: str | None) -> None:
    """Does FILE carry SHOP's watermark? Exit 0 when it does, 3 when it does not, 1 when FILE is no image."""
    shop = shop or load_config().watermark
    if not shop:
        raise click.UsageError("name the shop with --shop ID or LOOKALIKE_WATERMARK")
    from plugin.images.watermark import MIN_BLOCKS, THRESHOLD, read_bytes

    name = printable(file, one_line=True)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"{name} cannot be read: {exc.strerror}") from exc
    reading = read_bytes(data, shop, source=name)
    shop_name = printable(shop, one_line=True)
    if reading.carries:
        click.echo(f"{name}: carries the watermark of shop {shop_name} (score {reading.score:.1f}, threshold {THRESHOLD:g}).")
        return
    if reading.blocks < MIN_BLOCKS:
        click.echo(f"{name}: no watermark of shop {shop_name}: too small or too blank to hold one ({reading.blocks} usable blocks).")
    else:
        click.echo(f"{name}: no watermark of shop {shop_name} (score {reading.score:.1f}, below the threshold of {THRESHOLD:g}).")
    sys.exit(NOT_MARKED)
