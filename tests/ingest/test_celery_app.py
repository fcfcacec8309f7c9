"""The Celery app of the workers: tasks acknowledged late, so a worker killed mid-batch loses nothing."""

from __future__ import annotations

import dataclasses
import subprocess
import time

import pytest
from opensearchpy import OpenSearch

from ingest import prepare_indices
from ingest.celery_app import make_app
from plugin.config import Config
from tests.support.catalogues import write_catalogue
from tests.support.cli import LOOKALIKE
from tests.support.images import product_photo
from tests.support.ingest import images_root, summary_counts
from tests.support.workers import Worker


def test_the_app_acknowledges_tasks_late_and_takes_one_at_a_time(base_config: Config) -> None:
    config = dataclasses.replace(base_config, ingest=dataclasses.replace(base_config.ingest, broker_url="redis://127.0.0.1:1/4", visibility_timeout=17))

    app = make_app(config)

    assert app.conf.broker_url == "redis://127.0.0.1:1/4"
    assert (app.conf.task_acks_late, app.conf.task_reject_on_worker_lost, app.conf.worker_prefetch_multiplier) == (True, True, 1)
    assert app.conf.broker_transport_options == {"visibility_timeout": 17}
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
    worker.start()  # the task it held comes back after the broker's visibility timeout

    stdout, stderr = running.communicate(timeout=400)

    assert running.returncode == 0, stderr
    counts = summary_counts(stdout)
    # A product the killed worker had indexed before dying is found unchanged when its batch runs again.
    assert counts["indexed"] + counts["unchanged"] == 48 and counts["quarantined"] == 0, stdout
    worker_client.indices.refresh(index=alias)
    hits = worker_client.search(index=alias, body={"size": 100, "_source": ["product_id"], "query": {"prefix": {"product_id": "k-"}}})
    ids = [hit["_source"]["product_id"] for hit in hits["hits"]["hits"]]
    assert sorted(ids) == [row["id"] for row in rows]  # every product, each once
