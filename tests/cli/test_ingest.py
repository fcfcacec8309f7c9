"""``lookalike ingest``: its usage errors and a missing broker, as a user meets them."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import free_port, run_cli


def test_ingest_without_a_broker_is_one_clear_error(cli_env: dict[str, str], tmp_path: Path) -> None:
    catalogue = tmp_path / "c.jsonl"
    catalogue.write_text('{"id": "a", "title": "A", "images": ["https://shop.example/a.jpg"]}\n')
    env = dict(cli_env, CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0")

    result = run_cli("ingest", str(catalogue), env=env)

    assert result.returncode == 1
    assert result.stderr.startswith("Error: The broker at redis://127.0.0.1:")
    assert "lookalike broker start" in result.stderr and "Traceback" not in result.stderr


def test_ingest_needs_a_catalogue_or_an_option(cli_env: dict[str, str]) -> None:
    result = run_cli("ingest", env=cli_env)

    assert result.returncode == 2
    assert "give a CATALOGUE, or --retry-failed, or --failures" in result.stderr
