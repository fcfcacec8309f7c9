"""``lookalike engine``: build, start, stop and inspect the local OpenSearch node or cluster."""

from __future__ import annotations

import json
import sys

import click

from cli.common import load_config, reports_errors
from engine.local_cluster import ClusterStatus, LocalCluster, running_clusters
from engine.local_node import LocalNode


@click.group()
def engine() -> None:
    """Run the local OpenSearch node or cluster (OpenSearch 2.19.1 with k-NN, from Maven Central)."""


@engine.command("start")
@click.option(
    "--nodes",
    type=click.IntRange(min=1, max=9),
    default=None,
    help="Nodes forming one cluster, on consecutive ports from LOOKALIKE_ENGINE_PORT  [default: $LOOKALIKE_ENGINE_NODES or 1]",
)
@reports_errors
def engine_start(nodes: int | None) -> None:
    """Start the node (or the nodes of a cluster) in the background and wait until it is healthy."""
    config = load_config()
    cluster = LocalCluster(config.engine, nodes)
    already = all(member.running_pid() is not None for member in cluster.members)
    cluster.start()
    state = "already running" if already else "started"
    if cluster.size == 1:
        click.echo(f"OpenSearch {state} at {cluster.urls[0]} (logs: {cluster.members[0].log_file})")
        return
    click.echo(f"OpenSearch cluster of {cluster.size} nodes {state} at {', '.join(cluster.urls)} (logs under {cluster.members[0].home.parent})")
    if config.opensearch_urls != tuple(cluster.urls):
        click.echo(f"Give the API, workers and CLI every node: export OPENSEARCH_URL={cluster.opensearch_url}")


@engine.command("stop")
@reports_errors
def engine_stop() -> None:
    """Shut down every local node (single or clustered) cleanly; their data stays for the next start."""
    config = load_config()
    # Stopping the single node even when none runs clears a pid file a crashed node left.
    stopped = sum(cluster.stop() for cluster in running_clusters(config.engine) or [LocalCluster(config.engine)])
    if not stopped:
        click.echo("OpenSearch was not running.")
    else:
        click.echo("OpenSearch stopped." if stopped == 1 else f"OpenSearch stopped ({stopped} nodes).")


@engine.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@reports_errors
def engine_status(as_json: bool) -> None:
    """Say which local nodes run, the cluster's health, and each node's roles. Exit 3 if none runs."""
    config = load_config()
    clusters = running_clusters(config.engine) or [LocalCluster(config.engine)]
    statuses = [cluster.status() for cluster in clusters]
    if as_json:
        click.echo(json.dumps(_as_json(statuses[0]) if len(statuses) == 1 else [_as_json(s) for s in statuses]))
    for status in [] if as_json else statuses:
        first = status.members[0]
        if not status.running:
            click.echo(f"OpenSearch is not running (expected at {first.url}).")
        elif status.size == 1:
            click.echo(f"OpenSearch {first.version} is running at {first.url} (pid {first.pid}, health {first.health}).")
            click.echo(f"Plugins: {', '.join(first.plugins) or '(none reported)'}")
        else:
            _describe_cluster(status)
    if not any(status.running for status in statuses):
        sys.exit(3)


def _describe_cluster(status: ClusterStatus) -> None:
    answering = next(m for m in status.members if m.running)
    click.echo(f"OpenSearch {answering.version} cluster of {status.size} nodes, health {status.health or 'unknown'}.")
    for member in status.members:
        click.echo(f"  {member.url}: " + (f"running (pid {member.pid})" if member.running else "not running"))
    for node in status.nodes:
        manager = " (elected cluster manager)" if node.get("cluster_manager") == "*" else ""
        click.echo(f"  node {node.get('name')}: roles {_roles(node.get('node.role', ''))}{manager}, heap {node.get('heap.percent')}% used")
    click.echo(f"Plugins: {', '.join(answering.plugins) or '(none reported)'}")


def _as_json(status: ClusterStatus) -> dict[str, object]:
    members = [m.__dict__ | {"plugins": list(m.plugins)} for m in status.members]
    first = members[0] | {"running": status.running}
    # The single node's fields stay at the top level, as before clusters existed.
    return first | {"size": status.size, "health": status.health, "members": members, "nodes": list(status.nodes)}


#: ``_cat/nodes`` abbreviates roles to letters.
ROLE_LETTERS = {"d": "data", "i": "ingest", "m": "cluster_manager", "r": "remote_cluster_client", "s": "search"}


def _roles(letters: str) -> str:
    return ", ".join(ROLE_LETTERS.get(letter, letter) for letter in letters) or "none"


@engine.command("build")
@reports_errors
def engine_build() -> None:
    """Fetch OpenSearch and its plugins from Maven Central and compile the launcher (once)."""
    node = LocalNode(load_config().engine)
    node.build()
    click.echo(f"Local node built in {node.config.build_dir}.")


@engine.command("logs")
@click.option("-n", "--lines", default=40, show_default=True, type=click.IntRange(min=1), help="How many lines from the end.")
@click.option("--node", "member", default=0, show_default=True, type=click.IntRange(min=0), help="Which node of a running cluster.")
def engine_logs(lines: int, member: int) -> None:
    """Print the end of a node's log."""
    config = load_config()
    clusters = running_clusters(config.engine) or [LocalCluster(config.engine)]
    members = clusters[-1].members
    click.echo(members[min(member, len(members) - 1)].log_tail(lines))
