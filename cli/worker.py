"""``lookalike worker``: a Celery ingest worker process."""

from __future__ import annotations

import click

from cli.common import ensure_fast_malloc


@click.command()
@click.option("--concurrency", "-c", default=1, show_default=True, type=click.IntRange(min=1), help="Worker processes.")
@click.option("--loglevel", default="INFO", show_default=True)
@click.option("--queue", "-Q", default=None, help="Take tasks from this queue only (default: the shared one).")
def worker(concurrency: int, loglevel: str, queue: str | None) -> None:
    """Start a Celery ingest worker (scale out by running more, on any machine that reaches the broker)."""
    ensure_fast_malloc()
    from ingest.celery_app import app, quiet_broker_loss
    from ingest.tasks import IngestTask

    quiet_broker_loss()

    if concurrency == 1:
        IngestTask.process_context()  # load the model before announcing "ready", not on the first task
        pool = ["--pool=solo"]
    else:
        pool = ["--pool=prefork", f"--concurrency={concurrency}"]  # each process loads it on its first task
    queues = [f"--queues={queue}"] if queue else []
    app.worker_main(["worker", f"--loglevel={loglevel}", *pool, *queues, "--without-gossip", "--without-mingle"])
