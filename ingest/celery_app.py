"""The Celery application of the ingest workers (``lookalike worker``, ``celery -A ingest.celery_app``).

Tasks are acknowledged only after they finish (``acks_late``) and are idempotent, so a
worker killed mid-batch loses nothing: Redis hands the unacknowledged task to the next
worker after ``visibility_timeout`` and the batch runs again, producing the same documents.
"""

from __future__ import annotations

from celery import Celery

from plugin.config import Config


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
        worker_hijack_root_logger=False,
    )
    return app


app = make_app(Config.from_env())
