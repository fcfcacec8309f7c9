"""The Celery application of the ingest workers (``lookalike worker``, ``celery -A ingest.celery_app``).

Tasks are acknowledged only after they finish (``acks_late``) and are idempotent, so a
worker killed mid-batch loses nothing: Redis hands the unacknowledged task to the next
worker after ``visibility_timeout`` and the batch runs again, producing the same documents.

The visibility timeout (300 s by default) should be longer than any task runs, or Redis
hands a task still running to a second worker. The demo catalogue's 54 products, one task,
took 4.2 s on two busy cores; a full task of 128 products is about 10 s plus its image
fetches, 8 at a time, each cut off at its deadline (20 s): only a task whose every image hangs
to the deadline comes near 300 s, and then it merely runs twice (tasks are idempotent). A
killed worker's task comes back 300 to 400 s later (kombu looks every 100 s). Only the broker
needs the setting: results are ignored, so there is no result backend whose transport would.
"""

from __future__ import annotations

import logging

import redis
from celery import Celery
from kombu.exceptions import OperationalError

from plugin.config import Config


#: The queue tasks go to when no other is named.
DEFAULT_QUEUE = "celery"


def background_queue(queue: str | None) -> str:
    """The queue of the background work (predictions) that goes with *queue*.

    A worker takes from both, and the broker hands them out in turn, so a run's ingest tasks
    never wait behind more than one background task: predictions after one run do not delay the
    next run's products.
    """
    return f"{queue or DEFAULT_QUEUE}.background"


def make_app(config: Config) -> Celery:
    app = Celery("lookalike", broker=config.ingest.broker_url, include=["ingest.tasks"])
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # A task is seconds of CPU, so a reserved task would wait idle while other workers
        # could run it; the model's next batch is prepared inside the task (ingest.pipeline).
        worker_prefetch_multiplier=1,
        task_ignore_result=True,  # outcomes go to the run tracker, per product
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": config.ingest.visibility_timeout},
        # A task running when the broker goes away finishes and is acknowledged once it is
        # back (the unacknowledged copy lives in Redis, not in the connection); said
        # explicitly, it also spares the log Celery's warning about the default changing.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        # Run by Celery beat (``lookalike worker --beat``): one beat per deployment.
        beat_schedule={"update-related": {"task": "lookalike.update_related", "schedule": config.recommend.every_s}},
    )
    return app


#: Errors of a broker that went away, which the worker's consumer survives by reconnecting.
BROKER_LOST = (OSError, redis.ConnectionError, redis.TimeoutError, OperationalError)


class OneLineBrokerLoss(logging.Filter):
    """Turn the consumer's report of a lost broker connection, logged with its traceback, into one line.

    Losing the broker is an expected event that the worker survives: a traceback would hide
    the unexpected errors, which keep theirs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, BROKER_LOST):
            record.msg, record.args = "Lost the broker (%s); reconnecting ...", (exc,)
            record.exc_info = record.exc_text = None
        return True


def quiet_broker_loss() -> None:
    """Log a lost broker in this worker process as one line (:class:`OneLineBrokerLoss`).

    Celery also warns, in eight lines on every loss, that the default of
    ``worker_cancel_long_running_tasks_on_connection_loss`` will change; :func:`make_app`
    sets it, so the warning says nothing here.
    """
    logging.getLogger("celery.worker.consumer.consumer").addFilter(OneLineBrokerLoss())
    # The worker logs warnings (logging.captureWarnings) after its own filters, which show them always.
    logging.getLogger("py.warnings").addFilter(lambda record: "worker_cancel_long_running_tasks_on_connection_loss" not in record.getMessage())


app = make_app(Config.from_env())
