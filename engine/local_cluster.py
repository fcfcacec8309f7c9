"""Several local OpenSearch nodes that form one cluster, as a shop's production cluster would.

Each member is a :class:`~engine.local_node.LocalNode` of the same Maven build with its own
home (data, logs, pid file) under ``<engine home>/cluster-<size>/node-<i>`` and consecutive
ports from the configured HTTP and transport ports. A cluster of one is the single node the
engine home has always held, so ``--nodes 1`` changes nothing for an existing install.
"""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import time
from pathlib import Path
from typing import Any

from engine.errors import EngineError, EngineStartFailed
from engine.local_node import LocalNode, NodeStatus, get_json
from plugin.config import EngineConfig


@dataclasses.dataclass(frozen=True)
class ClusterStatus:
    """The members running here, and the cluster as one of them describes it."""

    size: int
    members: tuple[NodeStatus, ...]
    #: ``_cat/nodes``: each node's name, roles, whether it is the elected cluster manager, heap used.
    nodes: tuple[dict[str, Any], ...] = ()
    health: str | None = None

    @property
    def running(self) -> bool:
        return any(member.running for member in self.members)


class LocalCluster:
    """*size* local nodes forming one cluster (one: the single local node)."""

    def __init__(self, config: EngineConfig, size: int | None = None) -> None:
        self.config = config
        self.size = size or config.nodes
        if self.size == 1:
            self.members = [LocalNode(config)]
        else:
            names = tuple(f"lookalike-{i}" for i in range(self.size))
            cluster = tuple((name, config.transport_port + i) for i, name in enumerate(names))
            self.members = [
                LocalNode(
                    dataclasses.replace(
                        config, home=cluster_home(config, self.size) / f"node-{i}", http_port=config.http_port + i, transport_port=config.transport_port + i
                    ),
                    name=names[i],
                    cluster=cluster,
                )
                for i in range(self.size)
            ]

    @property
    def urls(self) -> list[str]:
        return [member.url for member in self.members]

    @property
    def opensearch_url(self) -> str:
        """The value of ``OPENSEARCH_URL`` that names every member."""
        return ",".join(self.urls)

    def start(self, *, die_with_caller: bool = False) -> list[str]:
        """Start every member not yet running, then wait until the cluster has formed and is yellow or green."""
        if self.size == 1:
            return [self.members[0].start(die_with_caller=die_with_caller)]
        self.members[0].build()
        with contextlib.ExitStack() as locks:
            for member in self.members:
                locks.enter_context(member.lock())
            launched: list[tuple[LocalNode, subprocess.Popen[bytes] | None]] = []
            try:
                for member in self.members:
                    launched.append((member, member.launch(die_with_caller=die_with_caller)))
                for member, process in launched:
                    member.wait_healthy(process)
                self.wait_for_nodes(self.size)
            except (EngineError, OSError):
                # A member that could not start (a port taken, no Java) must not leave the others running.
                for member, process in launched:
                    if process is not None:
                        member.kill()
                        member.pid_file.unlink(missing_ok=True)
                raise
        return self.urls

    def stop(self, timeout: float = 60.0) -> int:
        """Stop every member; how many were running."""
        return sum(member.stop(timeout) for member in self.members)

    def status(self) -> ClusterStatus:
        members = tuple(member.status() for member in self.members)
        answering = next((m for m in members if m.running and m.health is not None), None)
        if answering is None:
            return ClusterStatus(self.size, members)
        try:
            nodes = get_json(f"{answering.url}/_cat/nodes?format=json&h=name,node.role,cluster_manager,heap.percent,http_address&s=name")
        except (OSError, ValueError):
            nodes = []
        return ClusterStatus(self.size, members, tuple(nodes), answering.health)

    def wait_for_nodes(self, count: int, timeout: float | None = None) -> float:
        """Wait until the cluster counts *count* nodes; the seconds it took."""
        started = time.monotonic()
        deadline = started + (timeout or self.config.start_timeout)
        while time.monotonic() < deadline:
            for url in self.urls:
                try:
                    health = get_json(f"{url}/_cluster/health?wait_for_nodes={count}&timeout=2s")
                except (OSError, ValueError):
                    continue
                if not health.get("timed_out") and health.get("number_of_nodes") == count:
                    return time.monotonic() - started
            time.sleep(0.5)
        raise EngineStartFailed(
            f"The local cluster did not gather {count} nodes within {timeout or self.config.start_timeout:.0f} s; "
            f"the end of {self.members[0].log_file} follows.",
            self.members[0].log_tail(),
        )

    def wait_for_status(self, status: str, timeout: float = 300.0) -> float:
        """Wait until some member reports the cluster *status* (``green``, ``yellow``); the seconds it took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            for url in self.urls:
                try:
                    health = get_json(f"{url}/_cluster/health?wait_for_status={status}&timeout=2s", timeout=10)
                except (OSError, ValueError):
                    continue
                if not health.get("timed_out"):
                    return time.monotonic() - started
            time.sleep(0.2)
        raise EngineStartFailed(f"The local cluster did not turn {status} within {timeout:.0f} s; the end of {self.members[0].log_file} follows.", self.members[0].log_tail())


def cluster_home(config: EngineConfig, size: int) -> Path:
    return config.home / f"cluster-{size}"


def running_clusters(config: EngineConfig) -> list[LocalCluster]:
    """Every local cluster under the engine home with a member running (the single node included)."""
    sizes = [1] + sorted(int(p.name.split("-", 1)[1]) for p in config.home.glob("cluster-*") if p.name.split("-", 1)[1].isdigit())
    clusters = [LocalCluster(config, size) for size in sizes]
    return [cluster for cluster in clusters if any(member.running_pid() is not None for member in cluster.members)]

