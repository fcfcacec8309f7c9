"""After a run, a real worker predicts categories and tags for what the run changed and its neighbours."""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch

from ingest import runner
from plugin.config import Config
from sample_data.vendure import prepare_vendure
from tests.support.catalogues import UNTAGGED, tagged_shop_rows, write_catalogue
from tests.support.workers import Worker


def test_a_worker_predicts_the_runs_new_products_once_the_run_is_done(
    worker: Worker, worker_env: dict[str, str], worker_client: OpenSearch, worker_config: Config, tmp_path: Path
) -> None:
    images = Path(worker_env["LOOKALIKE_IMAGE_ROOTS"])
    rows = []
    for row in tagged_shop_rows(prepare_vendure(worker_config.data_dir)):
        copied = [shutil.copy(path, images / Path(path).name) for path in row["images"]]
        rows.append(row | {"images": [str(path) for path in copied]})

    # The broker the module's worker listens on.
    config = dataclasses.replace(worker_config, ingest=dataclasses.replace(worker_config.ingest, broker_url=worker_env["CELERY_BROKER_URL"]))

    summary = runner.run_catalogue(worker_client, config, write_catalogue(tmp_path / "c.jsonl", rows), timeout=300)
    untagged = _wait_for_prediction(worker_client, worker_config, UNTAGGED)

    assert summary["indexed"] == len(rows)
    assert untagged is not None, Path(worker.log).read_text()[-3000:]
    assert untagged["predicted_category"] == "Sports & Outdoor > Footwear"
    assert "lookalike.predict_tags" in Path(worker.log).read_text()


def _wait_for_prediction(client: OpenSearch, config: Config, product_id: str, seconds: float = 60) -> dict[str, Any] | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        source: dict[str, Any] = client.get(index=config.index_alias, id=product_id)["_source"]
        if "predicted" in source:
            return source
        time.sleep(0.5)
    return None
