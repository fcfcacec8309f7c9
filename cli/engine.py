"""``lookalike engine``: build, start, stop and inspect the local OpenSearch node."""

from __future__ import annotations

import json
import sys

import click

from cli.common import load_config, reports_errors
from engine.local_node import LocalNode


@click.group()
def engine() -> None:
    """Run the local OpenSearch node (OpenSearch 2.19.1 with k-NN, from Maven Central)."""


@engine.command("start")
@reports_errors
def engine_start() -> None:
    """Start the node in the background and wait until it is healthy."""
    node = LocalNode(load_config().engine)
    already = node.running_pid() is not None
    url = node.start()
    click.echo(f"OpenSearch {'already running' if already else 'started'} at {url} (logs: {node.log_file})")


@engine.command("stop")
@reports_errors
def engine_stop() -> None:
    """Shut the node down cleanly; its data stays for the next start."""
    node = LocalNode(load_config().engine)
    click.echo("OpenSearch stopped." if node.stop() else "OpenSearch was not running.")


@engine.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@reports_errors
def engine_status(as_json: bool) -> None:
    """Say whether the node runs, and its version, health and plugins. Exit 3 if it does not run."""
    status = LocalNode(load_config().engine).status()
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
@reports_errors
def engine_build() -> None:
    """Fetch OpenSearch and its plugins from Maven Central and compile the launcher (once)."""
    node = LocalNode(load_config().engine)
    node.build()
    click.echo(f"Local node built in {node.config.build_dir}.")


@engine.command("logs")
@click.option("-n", "--lines", default=40, show_default=True, type=click.IntRange(min=1), help="How many lines from the end.")
def engine_logs(lines: int) -> None:
    """Print the end of the node's log."""
    click.echo(LocalNode(load_config().engine).log_tail(lines))
