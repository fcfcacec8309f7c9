"""``lookalike worker``: a Celery ingest worker process; ``lookalike beat``: the scheduler of the periodic tasks."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import ensure_fast_malloc


@click.command()
@click.option("--concurrency", "-c", default=1, show_default=True, type=click.IntRange(min=1), help="Worker processes.")
@click.option("--loglevel", default="INFO", show_default=True)
@click.option("--queue", "-Q", default=None, help="Take tasks from this queue and its background queue only (default: the shared ones).")
@click.option(
    "--beat", is_flag=True,
    help="Also run Celery beat, which folds shopper events into recommendations every LOOKALIKE_RECOMMEND_EVERY seconds (one beat per deployment).",
)
def worker(concurrency: int, loglevel: str, queue: str | None, beat: bool) -> None:
    """Start a Celery ingest worker (scale out by running more, on any machine that reaches the broker)."""
    ensure_fast_malloc()
    from ingest.celery_app import DEFAULT_QUEUE, app, background_queue, quiet_broker_loss
    from ingest.tasks import IngestTask

    quiet_broker_loss()

    if concurrency == 1:
        IngestTask.process_context()  # load the model before announcing "ready", not on the first task
        pool = ["--pool=solo"]
    else:
        pool = ["--pool=prefork", f"--concurrency={concurrency}"]  # each process loads it on its first task
    queues = [f"--queues={queue or DEFAULT_QUEUE},{background_queue(queue)}"]
    scheduler = ["--beat", f"--schedule={_schedule_file()}"] if beat else []
    app.worker_main(["worker", f"--loglevel={loglevel}", *pool, *queues, *scheduler, "--without-gossip", "--without-mingle"])


@click.command()
@click.option("--loglevel", default="INFO", show_default=True)
def beat(loglevel: str) -> None:
    """Run Celery beat alone: it sends the periodic tasks (folding shopper events into
    recommendations every LOOKALIKE_RECOMMEND_EVERY seconds) for the workers to run. One per deployment."""
    from ingest.celery_app import app

    app.start(["beat", f"--loglevel={loglevel}", f"--schedule={_schedule_file()}"])


def _schedule_file() -> Path:
    """Where beat keeps when each periodic task last ran: under the data directory, not the working one."""
    from plugin.config import Config

    state = Config.from_env().data_dir
    state.mkdir(parents=True, exist_ok=True)
    return state / "celerybeat-schedule"
