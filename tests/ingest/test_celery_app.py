"""The Celery app of the workers: tasks acknowledged late, so a worker killed mid-batch loses nothing."""

from __future__ import annotations

import dataclasses
import subprocess
import time
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from engine.local_redis import LocalRedis
from ingest import prepare_indices
from ingest.celery_app import make_app
from plugin.config import Config
from plugin.opensearch.quarantine import list_records
from tests.support.catalogues import write_catalogue
from tests.support.cli import LOOKALIKE
from tests.support.images import jpeg_bytes, product_photo
from tests.support.ingest import HeldImages, images_root, summary_counts
from tests.support.workers import Worker


def test_the_app_acknowledges_tasks_late_and_takes_one_at_a_time(base_config: Config) -> None:
    config = dataclasses.replace(base_config, ingest=dataclasses.replace(base_config.ingest, broker_url="redis://127.0.0.1:1/4", visibility_timeout=17))

    app = make_app(config)

    assert app.conf.broker_url == "redis://127.0.0.1:1/4"
    assert (app.conf.task_acks_late, app.conf.task_reject_on_worker_lost, app.conf.worker_prefetch_multiplier) == (True, True, 1)
    assert app.conf.broker_transport_options == {"visibility_timeout": 17}
    assert app.conf.worker_cancel_long_running_tasks_on_connection_loss is False  # a running task finishes across a broker loss
    assert (app.conf.task_serializer, app.conf.accept_content, app.conf.task_always_eager) == ("json", ["json"], False)
    app.loader.import_default_modules()
    assert {"lookalike.ingest_products", "lookalike.delete_products"} <= set(app.tasks)


@pytest.mark.slow
def test_a_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing(
    worker: Worker, worker_env: dict[str, str], worker_client: OpenSearch, worker_config: Config
) -> None:
    root = images_root(worker_env)
    rows = [
        {"id": f"k-{i:03d}", "title": f"Item {i}", "price": i, "images": [str(product_photo(root / f"k-{i}.jpg", seed=1000 + i, size=(640, 480)))]}
        for i in range(48)
    ]
    catalogue = write_catalogue(root / "kill.jsonl", rows)
    alias = worker_config.index_alias
    prepare_indices(worker_client, worker_config)  # the alias exists before the run, so it can be watched at once

    running = subprocess.Popen(
        [LOOKALIKE, "ingest", str(catalogue), "--timeout", "300"], env=worker_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    indexed = 0
    while time.monotonic() < deadline:
        worker_client.indices.refresh(index=alias)
        indexed = worker_client.count(index=alias, body={"query": {"prefix": {"product_id": "k-"}}})["count"]
        if indexed >= 4:
            break
        time.sleep(0.1)
    assert 4 <= indexed < 48, "the worker must be killed in the middle of the run"
    worker.kill()
    # The task it held comes back once unacknowledged for the visibility timeout: a worker takes it back as it starts.
    time.sleep(int(worker_env["LOOKALIKE_BROKER_VISIBILITY_TIMEOUT"]) + 1)
    worker.start()

    stdout, stderr = running.communicate(timeout=400)

    assert running.returncode == 0, stderr
    counts = summary_counts(stdout)
    # A product the killed worker had indexed before dying is found unchanged when its batch runs again.
    assert counts["indexed"] + counts["unchanged"] == 48 and counts["quarantined"] == 0, stdout
    worker_client.indices.refresh(index=alias)
    hits = worker_client.search(index=alias, body={"size": 100, "_source": ["product_id"], "query": {"prefix": {"product_id": "k-"}}})
    ids = [hit["_source"]["product_id"] for hit in hits["hits"]["hits"]]
    assert sorted(ids) == [row["id"] for row in rows]  # every product, each once


@pytest.mark.slow
def test_a_task_that_kills_its_worker_every_time_is_quarantined_after_max_deliveries_and_the_run_finishes(
    worker_env: dict[str, str], worker_client: OpenSearch, worker_config: Config, redis_server: LocalRedis, tmp_path: Path
) -> None:
    # A broker database of its own, so that only the workers started here take the task.
    env = dict(worker_env, CELERY_BROKER_URL=redis_server.url[:-1] + "2", LOOKALIKE_FETCH_ALLOW_PRIVATE="true")
    prepare_indices(worker_client, worker_config)
    log = tmp_path / "worker.log"
    with HeldImages(jpeg_bytes((96, 96)), hold=600) as images:  # holds the worker inside the task until it is killed
        rows = [{"id": f"poison-{n}", "title": f"Poison {n}", "images": [images.url(f"poison-{n}.jpg")]} for n in range(2)]
        catalogue = write_catalogue(tmp_path / "poison.jsonl", rows)
        worker = Worker(env, log)
        worker.start()
        # A --timeout far below the time the three deliveries take: the command waits for a task that may come back.
        running = subprocess.Popen(
            [LOOKALIKE, "ingest", str(catalogue), "--timeout", "10"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for delivery in range(1, 4):
            images.wait_for_requests(2 * delivery, timeout=120)  # this delivery's worker is fetching the task's images
            worker.kill()
            # A worker takes back, as it starts, the tasks unacknowledged for longer than the visibility timeout.
            time.sleep(int(env["LOOKALIKE_BROKER_VISIBILITY_TIMEOUT"]) + 1)
            worker = Worker(env, log)
            worker.start()
        try:
            stdout, stderr = running.communicate(timeout=240)
        finally:
            worker.stop()

        assert running.returncode == 0, stderr
        assert summary_counts(stdout)["quarantined"] == 2, stdout
        assert len(images.requests) == 2 * 3  # the fourth delivery ran nothing
    records = {r["product_id"]: r for r in list_records(worker_client, worker_config)}
    assert set(records) == {"poison-0", "poison-1"}
    for record in records.values():
        assert record["reason"] == "poison_task"
        assert record["message"] == "its task killed the worker 3 times, so it is not run again (at most 3 deliveries)"
        assert record["product"]["id"] == record["product_id"]  # kept, for --retry-failed
    assert "Traceback" not in log.read_text()
