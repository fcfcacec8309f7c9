"""``lookalike detector``: build the object detector once, and try it on a photo."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cli.common import load_config, reports_errors


@click.group()
def detector() -> None:
    """The object detector that finds products inside a shopper's photo (CenterNet, ONNX)."""


@detector.command("build")
@reports_errors
def detector_build() -> None:
    """Convert the detector from its npm package into ONNX, once (cached for every checkout)."""
    from plugin.models.detector_build import build_detector

    config = load_config()
    if config.detect.model_file is not None:
        click.echo(f"LOOKALIKE_DETECTOR_FILE names {config.detect.model_file}; nothing to build.")
        return
    path = build_detector(config.detect.cache_dir, config.detect.size, progress=click.echo)
    click.echo(f"Detector ready: {path}")


@detector.command("run")
@click.argument("photo", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@reports_errors
def detector_run(photo: Path) -> None:
    """Print the boxes the detector finds in PHOTO, as JSON (fractions of the width and height)."""
    from plugin.errors import DatasetMissing
    from plugin.images.decode import decode_image
    from plugin.models.registry import detector_for

    config = load_config()
    found = detector_for(config)
    if found is None:
        raise DatasetMissing("no detector has been built; run `lookalike detector build`")
    image = decode_image(photo.read_bytes(), config.decode, source=str(photo))
    boxes = found.detect(image)
    click.echo(json.dumps([{"box": box.coords(), "score": round(box.score, 3), "label": box.label} for box in boxes], indent=2))
