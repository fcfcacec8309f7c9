"""What every command shares: a product error is one sentence on stderr and exit 1, never a traceback."""

from __future__ import annotations

from tests.support.cli import run_cli


def test_an_unreachable_cluster_is_one_clear_error(cli_env: dict[str, str]) -> None:
    env = dict(cli_env, OPENSEARCH_URL="http://127.0.0.1:9", OPENSEARCH_TIMEOUT="2")

    result = run_cli("index", "list", env=env)

    assert result.returncode == 1
    assert result.stderr.startswith("Error: OpenSearch at http://127.0.0.1:9 cannot be reached")
    assert "Traceback" not in result.stderr


def test_a_bad_setting_is_one_clear_error(cli_env: dict[str, str]) -> None:
    result = run_cli("index", "list", env=dict(cli_env, LOOKALIKE_REDIS_PORT="not-a-port"))

    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and "LOOKALIKE_REDIS_PORT" in result.stderr
    assert "Traceback" not in result.stderr
