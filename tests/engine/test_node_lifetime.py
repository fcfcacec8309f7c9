"""A node started for a test run dies with the run, even a killed one; ``lookalike engine start``'s node does not."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.local_node import LocalNode, is_alive
from plugin.config import EngineConfig

#: Starts a node on the given home and ports, prints its pid once it is healthy, then waits to be killed.
STARTER = """
import sys, time
from pathlib import Path
from engine.local_node import LocalNode
from plugin.config import EngineConfig

home, http_port, transport_port, die_with_caller = sys.argv[1:]
config = EngineConfig(home=Path(home), http_port=int(http_port), transport_port=int(transport_port), heap="512m")
node = LocalNode(config)
node.start(die_with_caller=die_with_caller == "1")
print(node.running_pid(), flush=True)
time.sleep(3600)
"""

#: What the node's shutdown hook logs, which only SIGTERM runs, never SIGKILL. (Its later lines,
#: "stopped" and "closed", never reach the log: Log4j's own shutdown hook closes it first.)
CLEAN_SHUTDOWN = re.compile(r"\[o\.o\.n\.Node\s*\] \[lookalike-local\] stopping \.\.\.$", re.MULTILINE)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_node_in_a_starter(home: Path, die_with_caller: bool) -> tuple[subprocess.Popen[str], LocalNode, int]:
    """Start a node from a Python process of its own; return that process, the node and its pid once healthy."""
    node = LocalNode(EngineConfig(home=home, http_port=free_port(), transport_port=free_port(), heap="512m"))
    errors_file = home.parent / "starter.err"
    with open(errors_file, "w") as errors:
        starter = subprocess.Popen(
            [
                sys.executable, "-c", STARTER,
                str(home), str(node.config.http_port), str(node.config.transport_port), str(int(die_with_caller)),
            ],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
    assert starter.stdout is not None
    line = starter.stdout.readline()  # the node's own start timeout bounds this wait
    if not line.strip().isdigit():
        starter.kill()
        starter.wait()
        pytest.fail(f"The starter did not start a node:\n{errors_file.read_text()}\n{node.log_tail()}")
    return starter, node, int(line)


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while is_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="die_with_caller relies on Linux's PR_SET_PDEATHSIG")
def test_a_node_started_to_die_with_its_caller_stops_cleanly_when_the_caller_is_killed(tmp_path: Path) -> None:
    starter, node, pid = start_node_in_a_starter(tmp_path / "engine", die_with_caller=True)
    try:
        starter.kill()  # SIGKILL: no fixture teardown, no atexit, as when a test run is killed
        starter.wait()

        assert gone_within(pid, 60), f"The node (pid {pid}) outlived the process that started it."
        assert CLEAN_SHUTDOWN.search(node.log_tail()), node.log_tail()
    finally:
        node.stop()


@pytest.mark.slow
def test_a_node_started_as_lookalike_engine_start_does_outlives_its_caller(tmp_path: Path) -> None:
    starter, node, pid = start_node_in_a_starter(tmp_path / "engine", die_with_caller=False)
    try:
        starter.kill()
        starter.wait()
        time.sleep(5)

        assert node.running_pid() == pid
        assert node.status().health in ("green", "yellow")
    finally:
        was_running = node.stop()
    assert was_running
    assert not is_alive(pid)
