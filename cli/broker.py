"""``lookalike broker``: the local Redis that carries tasks to the ingest workers."""

from __future__ import annotations

import sys

import click

from cli.common import load_config, reports_errors
from engine.local_redis import LocalRedis


@click.group()
def broker() -> None:
    """Run the local Redis that carries tasks to the ingest workers."""


def _local_redis() -> LocalRedis:
    config = load_config()
    return LocalRedis(config.ingest.redis_home, config.ingest.redis_port)


@broker.command("start")
@reports_errors
def broker_start() -> None:
    """Start Redis in the background (idempotent)."""
    redis = _local_redis()
    click.echo(f"Redis running at {redis.start()} (files in {redis.home})")


@broker.command("stop")
@reports_errors
def broker_stop() -> None:
    """Stop the local Redis."""
    click.echo("Redis stopped." if _local_redis().stop() else "Redis was not running.")


@broker.command("status")
@reports_errors
def broker_status() -> None:
    """Say whether the local Redis runs. Exit 3 if it does not."""
    redis = _local_redis()
    if redis.is_running():
        click.echo(f"Redis is running at {redis.url}.")
    else:
        click.echo(f"Redis is not running (expected at {redis.url}).")
        sys.exit(3)
