"""``lookalike engine``: the local node starts, reports itself, refuses clearly, stops, and keeps its data."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from opensearchpy import helpers

from engine.local_node import LocalNode, PortInUse
from plugin.config import Config
from plugin.opensearch.client import connect
from tests.support.cli import free_port, local_engine_config, run_cli


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for a node of the test's own, on free ports, never the user's or the session's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOKALIKE_", "OPENSEARCH_"))}
    env.update(
        LOOKALIKE_ENGINE_HOME=str(home),
        LOOKALIKE_ENGINE_PORT=str(free_port()),
        LOOKALIKE_ENGINE_TRANSPORT_PORT=str(free_port()),
        LOOKALIKE_ENGINE_START_TIMEOUT="90",
    )
    env.update(extra)
    return env


def test_status_reports_version_and_plugins(running_local_node: LocalNode) -> None:
    status = running_local_node.status()

    assert status.running
    assert status.version == "2.19.1"
    assert status.health in ("green", "yellow")
    for plugin in ("KNNPlugin", "PainlessPlugin", "CommonAnalysisPlugin", "Netty4Plugin", "MapperExtrasPlugin"):
        assert any(name.endswith(plugin) for name in status.plugins), plugin


def test_status_command_describes_the_running_node(running_local_node: LocalNode, cli_env: dict[str, str]) -> None:
    result = run_cli("engine", "status", env=cli_env)

    assert result.returncode == 0, result.stderr
    assert f"OpenSearch 2.19.1 is running at {running_local_node.url}" in result.stdout
    assert "org.opensearch.knn.plugin.KNNPlugin" in result.stdout


def test_status_command_exits_3_when_no_node_runs(tmp_path: Path) -> None:
    result = run_cli("engine", "status", env=isolated_env(tmp_path))

    assert result.returncode == 3
    assert "OpenSearch is not running" in result.stdout


def test_starting_a_running_node_again_is_a_no_op(running_local_node: LocalNode) -> None:
    pid = running_local_node.running_pid()

    assert running_local_node.start() == running_local_node.url
    assert running_local_node.running_pid() == pid


def test_start_on_a_taken_port_says_so_in_one_sentence(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]

        with pytest.raises(PortInUse, match=f"Port {port} .* already in use"):
            LocalNode(local_engine_config(tmp_path, http_port=port)).start()

        result = run_cli("engine", "start", env=isolated_env(tmp_path, LOOKALIKE_ENGINE_PORT=str(port)))

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: Port {port} (the node's HTTP port) is already in use by another process; "
        "stop it or choose another port with LOOKALIKE_ENGINE_PORT."
    )


def test_start_without_java_says_so_in_one_sentence(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    env.pop("JAVA_HOME", None)
    env["PATH"] = str(Path(sys.executable).parent)  # the venv's scripts, and no java

    result = run_cli("engine", "start", env=env)

    assert result.returncode == 1
    assert result.stderr.startswith("Error: Java 17 or newer is needed to run the local OpenSearch node")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_start_with_a_java_home_that_has_no_java_says_so(tmp_path: Path) -> None:
    result = run_cli("engine", "start", env=isolated_env(tmp_path, JAVA_HOME=str(tmp_path)))

    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: JAVA_HOME is {tmp_path}, which has no bin/java; point it at a Java 17+ install."


@pytest.mark.slow
def test_a_node_that_fails_to_start_prints_the_tail_of_its_log(tmp_path: Path) -> None:
    env = isolated_env(tmp_path, LOOKALIKE_ENGINE_SETTINGS="no.such.setting=1")

    result = run_cli("engine", "start", env=env)

    assert result.returncode == 1
    assert result.stderr.startswith("Error: The OpenSearch node exited with code")
    assert "unknown setting [no.such.setting]" in result.stderr  # from the node's own log
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "node.pid").exists()


@pytest.mark.slow
def test_start_stop_and_data_survive_a_restart(running_local_node: LocalNode, config: Config, cli_env: dict[str, str]) -> None:
    client = connect(config)
    index = f"{config.index_alias}-restart"
    client.indices.create(index=index, body={"settings": {"number_of_replicas": 0}})
    helpers.bulk(client, ({"_index": index, "_id": str(i), "_source": {"n": i}} for i in range(100)), refresh=True)
    old_pid = running_local_node.running_pid()

    # Stopped from another process while this one, its parent, still runs: as a user does.
    stopped = run_cli("engine", "stop", env=cli_env)
    assert stopped.returncode == 0 and stopped.stdout.strip() == "OpenSearch stopped."
    assert running_local_node.running_pid() is None
    assert not running_local_node.status().running
    running_local_node.start()

    assert running_local_node.running_pid() not in (None, old_pid)
    client.cluster.health(index=index, wait_for_status="green", request_timeout=60)
    assert client.count(index=index)["count"] == 100
    assert client.get(index=index, id="42")["_source"] == {"n": 42}
    client.indices.delete(index=index)


def test_stop_when_nothing_runs_says_so(tmp_path: Path) -> None:
    result = run_cli("engine", "stop", env=isolated_env(tmp_path))

    assert result.returncode == 0
    assert result.stdout.strip() == "OpenSearch was not running."


@pytest.mark.slow
def test_two_starts_at_once_launch_one_node(tmp_path: Path) -> None:
    node = LocalNode(local_engine_config(tmp_path))
    urls: list[str] = []
    threads = [threading.Thread(target=lambda: urls.append(node.start())) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        pids = [int(line.split()[0]) for line in subprocess.run(
            ["pgrep", "-f", "--", f"-Epath.home={tmp_path}"], capture_output=True, text=True
        ).stdout.split()]
        assert urls == [node.url, node.url]
        assert pids == [node.running_pid()]
    finally:
        node.stop()
