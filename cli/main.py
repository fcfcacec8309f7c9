"""``lookalike``: the product's command line.

Each subcommand is a thin layer over ``plugin`` or ``engine``: it reads the configuration
from the environment, calls one function, and turns a :class:`~plugin.errors.LookalikeError`
into one clear sentence on stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from engine.local_node import EngineStartFailed, LocalNode
from plugin import index_lifecycle
from plugin.client import cluster_health, connect
from plugin.config import Config
from plugin.embedding_spec import OFFLINE_DEFAULT
from plugin.errors import LookalikeError

F = TypeVar("F", bound=Callable[..., Any])


def _reports_errors(command: F) -> F:
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except EngineStartFailed as exc:
            click.echo(f"Error: {exc}", err=True)
            click.echo(exc.log_tail, err=True)
            sys.exit(1)
        except LookalikeError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _config() -> Config:
    try:
        return Config.from_env()
    except LookalikeError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)


@click.group()
@click.version_option(package_name="lookalike")
def main() -> None:
    """Visual product search on OpenSearch: search a catalogue by photo, by text, or both."""


# -- engine ----------------------------------------------------------------------------------


@main.group()
def engine() -> None:
    """Run the local OpenSearch node (OpenSearch 2.19.1 with k-NN, from Maven Central)."""


@engine.command("start")
@_reports_errors
def engine_start() -> None:
    """Start the node in the background and wait until it is healthy."""
    node = LocalNode(_config().engine)
    already = node.running_pid() is not None
    url = node.start()
    click.echo(f"OpenSearch {'already running' if already else 'started'} at {url} (logs: {node.log_file})")


@engine.command("stop")
@_reports_errors
def engine_stop() -> None:
    """Shut the node down cleanly; its data stays for the next start."""
    node = LocalNode(_config().engine)
    click.echo("OpenSearch stopped." if node.stop() else "OpenSearch was not running.")


@engine.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@_reports_errors
def engine_status(as_json: bool) -> None:
    """Say whether the node runs, and its version, health and plugins. Exit 3 if it does not run."""
    status = LocalNode(_config().engine).status()
    if as_json:
        click.echo(json.dumps(status.__dict__ | {"plugins": list(status.plugins)}))
    elif not status.running:
        click.echo(f"OpenSearch is not running (expected at {status.url}).")
    else:
        click.echo(f"OpenSearch {status.version} is running at {status.url} (pid {status.pid}, health {status.health}).")
        click.echo(f"Plugins: {', '.join(status.plugins) or '(none reported)'}")
    if not status.running:
        sys.exit(3)


@engine.command("build")
@_reports_errors
def engine_build() -> None:
    """Fetch OpenSearch and its plugins from Maven Central and compile the launcher (once)."""
    node = LocalNode(_config().engine)
    node.build()
    click.echo(f"Local node built in {node.config.build_dir}.")


@engine.command("logs")
@click.option("-n", "--lines", default=40, show_default=True, type=click.IntRange(min=1), help="How many lines from the end.")
def engine_logs(lines: int) -> None:
    """Print the end of the node's log."""
    click.echo(LocalNode(_config().engine).log_tail(lines))


# -- index -----------------------------------------------------------------------------------


@main.group()
def index() -> None:
    """Create product indices and move the alias between them."""


@index.command("create")
@click.option("--activate", is_flag=True, help="Point the alias at the new index at once.")
@_reports_errors
def index_create(activate: bool) -> None:
    """Create a new, empty product index for the configured embedding model."""
    config = _config()
    client = connect(config)
    cluster_health(client)
    name = index_lifecycle.create_product_index(client, config, OFFLINE_DEFAULT)
    click.echo(f"Created {name}.")
    if activate:
        index_lifecycle.swap_alias(client, config.index_alias, name)
        click.echo(f"Alias {config.index_alias} now points at {name}.")


@index.command("list")
@_reports_errors
def index_list() -> None:
    """List product indices, marking the one behind the alias."""
    config = _config()
    client = connect(config)
    cluster_health(client)
    live = set(index_lifecycle.indices_behind(client, config.index_alias))
    rows = client.cat.indices(index=f"{config.index_alias}-v*", format="json", h="index,docs.count,store.size")
    for row in sorted(rows, key=lambda r: r["index"]):
        marker = "*" if row["index"] in live else " "
        click.echo(f"{marker} {row['index']}  docs={row['docs.count']}  size={row['store.size']}")
    if not rows:
        click.echo(f"No product indices (pattern {config.index_alias}-v*).")


@index.command("swap")
@click.argument("name")
@_reports_errors
def index_swap(name: str) -> None:
    """Point the alias at index NAME, atomically."""
    config = _config()
    client = connect(config)
    cluster_health(client)
    previous = index_lifecycle.swap_alias(client, config.index_alias, name)
    click.echo(f"Alias {config.index_alias} now points at {name} (before: {', '.join(previous) or 'nothing'}).")


# -- demo ------------------------------------------------------------------------------------


@main.command()
@_reports_errors
def demo() -> None:
    """Start the local node, make sure the product index exists, and show the cluster's health."""
    config = _config()
    node = LocalNode(config.engine)
    click.echo("Starting the local OpenSearch node ...")
    url = node.start()
    client = connect(config)
    live = index_lifecycle.ensure_product_index(client, config, OFFLINE_DEFAULT)
    meta = index_lifecycle.index_model(client, live)
    health = cluster_health(client)
    status = node.status()
    click.echo(f"OpenSearch {status.version} at {url}: cluster {health['cluster_name']} is {health['status']}.")
    click.echo(f"Plugins: {', '.join(status.plugins)}")
    click.echo(
        f"Alias {config.index_alias} -> {live} (mapping v{meta.get('mapping_version')}, "
        f"model {meta.get('embedding_model')} v{meta.get('embedding_model_version')}, "
        f"image {meta.get('image_dims')}-d, text {meta.get('text_dims')}-d)."
    )
    click.echo("Stop the node with: .venv/bin/lookalike engine stop")
