"""``lookalike worker``: a Celery ingest worker process."""

from __future__ import annotations

import click

from cli.common import ensure_fast_malloc


@click.command()
@click.option("--concurrency", "-c", default=1, show_default=True, type=click.IntRange(min=1), help="Worker processes.")
@click.option("--loglevel", default="INFO", show_default=True)
@click.option("--queue", "-Q", default=None, help="Take tasks from this queue only (default: the shared one).")
@click.option(
    "--beat", is_flag=True,
    help="Also run Celery beat, which folds shopper events into recommendations every LOOKALIKE_RECOMMEND_EVERY seconds (one beat per deployment).",
)
def worker(concurrency: int, loglevel: str, queue: str | None, beat: bool) -> None:
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
    scheduler = []
    if beat:
        from plugin.config import Config

        state = Config.from_env().data_dir
        state.mkdir(parents=True, exist_ok=True)
        scheduler = ["--beat", f"--schedule={state / 'celerybeat-schedule'}"]
    app.worker_main(["worker", f"--loglevel={loglevel}", *pool, *queues, *scheduler, "--without-gossip", "--without-mingle"])
