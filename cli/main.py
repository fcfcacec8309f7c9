"""``lookalike``: the product's command line, one module per command group.

Each subcommand is a thin layer over ``plugin``, ``ingest`` or ``engine``: it reads the
configuration from the environment, calls one function, and turns a
:class:`~plugin.errors.LookalikeError` into one clear sentence on stderr and exit status 1,
never a traceback (:mod:`cli.common`). Heavy libraries (torch, Flask, Celery) are imported
inside the commands that need them, so ``lookalike --help`` stays fast.
"""

from __future__ import annotations

import click

from cli.bench import bench
from cli.broker import broker
from cli.copies import copies
from cli.demo import demo
from cli.detector import detector
from cli.engine import engine
from cli.eval import eval_group
from cli.index import index
from cli.ingest import ingest
from cli.ranking import ranking, tune
from cli.serve import serve
from cli.tags import tags
from cli.watermark import watermark
from cli.worker import beat, worker


@click.group()
@click.version_option(package_name="lookalike")
def main() -> None:
    """Visual product search on OpenSearch: search a catalogue by photo, by text, or both."""


for command in (engine, index, broker, worker, beat, ingest, serve, bench, eval_group, tune, ranking, demo, detector, copies, tags):
    main.add_command(command)
main.add_command(watermark)
