"""``lookalike broker``: a real local Redis started, reported and stopped."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import free_port, run_cli


def test_broker_start_status_and_stop(cli_env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    env = dict(cli_env, LOOKALIKE_REDIS_HOME=str(tmp_path / "redis"), LOOKALIKE_REDIS_PORT=str(port))
    try:
        started = run_cli("broker", "start", env=env)
        assert started.returncode == 0, started.stderr
        assert started.stdout.startswith(f"Redis running at redis://127.0.0.1:{port}")

        running = run_cli("broker", "status", env=env)
        assert running.returncode == 0
        assert running.stdout.strip() == f"Redis is running at redis://127.0.0.1:{port}/0."
    finally:
        stopped = run_cli("broker", "stop", env=env)
    assert stopped.stdout.strip() == "Redis stopped."

    gone = run_cli("broker", "status", env=env)
    assert gone.returncode == 3
    assert gone.stdout.strip() == f"Redis is not running (expected at redis://127.0.0.1:{port}/0)."
