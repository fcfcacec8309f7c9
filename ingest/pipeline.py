"""One batch of products: fetch and check images, embed only what changed, bulk index.

This module holds the ingest logic and knows nothing of Celery, so the worker tasks and the
in-process ``--eager`` mode run exactly the same code.

Change awareness: each image's bytes and the product's embedded text are fingerprinted
(SHA-256). A product whose image fingerprints, text fingerprint and model match what is
indexed keeps its vectors, so a price, stock or tag edit rewrites the document without a
model call; an unchanged product is not written at all.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import imagehash
from opensearchpy import OpenSearch, helpers
from PIL import Image

from plugin.catalogue.reader import Product
from plugin.config import Config
from plugin.models.base import EmbeddingBackend, EmbeddingSpec
from plugin.opensearch.documents import image_entry, product_document, same_model, sha256
from plugin.errors import CorruptImage, SourceError
from plugin.images.fetch import fetch_image
from plugin.images.decode import decode_image
from plugin.catalogue.quarantine import QuarantineRecord, clear_products, write_records
from plugin.images.thumbnails import make_thumbnail, thumbnail_action

log = logging.getLogger(__name__)

#: Parallel image downloads per batch; fetching is network-bound, decoding releases the GIL.
FETCH_THREADS = 8

INDEXED, UPDATED, UNCHANGED, DELETED, QUARANTINED = "indexed", "updated", "unchanged", "deleted", "quarantined"


@dataclasses.dataclass
class BatchResult:
    outcomes: dict[str, str] = dataclasses.field(default_factory=dict)
    #: Products to try again later (a transient image fault), as JSON-ready dicts.
    retry: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    images_embedded: int = 0
    texts_embedded: int = 0


@dataclasses.dataclass
class _Image:
    source: str
    position: int
    fingerprint: str = ""
    decoded: Image.Image | None = None
    #: The indexed entry for the same bytes and model, whose vector can be reused.
    reused: dict[str, Any] | None = None
    error: SourceError | None = None
    phash: str = ""
    thumbnail: tuple[bytes, int, int] | None = None


def text_for_embedding(product: Product) -> str:
    """What the text vector describes: the words a shopper might type for this product."""
    parts = [product.title, product.brand or "", " > ".join(product.category), product.description]
    return ". ".join(part for part in parts if part)[:2000]


def process_products(
    client: OpenSearch,
    config: Config,
    backend: EmbeddingBackend,
    products: list[Product],
    *,
    catalogue: str,
    attempt: int = 1,
    target: str | None = None,
) -> BatchResult:
    """Ingest *products* into *target* (the alias by default, or an index being built for a new
    model); return each product's outcome and what to retry."""
    target = target or config.index_alias
    result = BatchResult()
    existing = _existing_documents(client, target, [p.id for p in products])
    spec = backend.spec
    images = _collect_images(products, existing, spec, config)
    last_attempt = attempt >= config.ingest.max_attempts

    ready: list[Product] = []
    records: list[QuarantineRecord] = []
    for product in products:
        failed = [img for img in images[product.id] if img.error is not None]
        if any(img.error.retryable for img in failed) and not last_attempt:  # type: ignore[union-attr]
            result.retry.append(product.model_dump(mode="json"))
            continue
        if len(failed) == len(images[product.id]):  # nothing to show: the product is not indexed
            records.append(_record("product", failed[0], product, catalogue, attempt))
            result.outcomes[product.id] = QUARANTINED
            continue
        records.extend(_record("image", img, product, catalogue, attempt) for img in failed)
        ready.append(product)

    # One forward pass for every new or changed image of the batch.
    to_embed = [img for p in ready for img in images[p.id] if img.error is None and img.reused is None]
    vectors, labels = backend.embed_and_label([img.decoded for img in to_embed]) if to_embed else ([], [])  # type: ignore[misc]
    fresh = {id(img): (vectors[i], labels[i]) for i, img in enumerate(to_embed)}
    result.images_embedded = len(to_embed)

    texts = {p.id: text_for_embedding(p) for p in ready}
    # The model's identity is part of the text's fingerprint: a new model re-embeds every text.
    text_fingerprints = {pid: sha256(f"{(spec.name, spec.version)}|{text}") for pid, text in texts.items()}
    stale_text = [p.id for p in ready if _reusable_text(existing.get(p.id), text_fingerprints[p.id], spec) is None]
    text_vectors = dict(zip(stale_text, backend.embed_texts([texts[pid] for pid in stale_text]))) if stale_text else {}
    result.texts_embedded = len(stale_text)

    actions: list[dict[str, Any]] = []
    for product in ready:
        previous = existing.get(product.id)
        text_vector = text_vectors.get(product.id)
        if text_vector is None:
            text_vector = _reusable_text(previous, text_fingerprints[product.id], spec)
        document = product_document(product, _entries(images[product.id], fresh), text_vector, text_fingerprints[product.id], spec)
        if previous is not None and previous.get("fingerprint") == document["fingerprint"]:
            result.outcomes[product.id] = UNCHANGED
            continue
        document["updated_at"] = dt.datetime.now(dt.timezone.utc).isoformat()
        actions.append({"_op_type": "index", "_index": target, "_id": product.id, "_source": document})
        result.outcomes[product.id] = UPDATED if previous is not None else INDEXED
    for img in to_embed:
        if img.thumbnail is not None:
            actions.append(thumbnail_action(config.thumbnail_index, img.fingerprint, *img.thumbnail))

    if actions:
        # No refresh per batch: waiting for one would cap a worker at a batch per refresh
        # interval. The runner refreshes once when the whole run is done.
        _, errors = helpers.bulk(client, actions, raise_on_error=False)
        for error in errors:
            item = next(iter(error.values()))
            if item.get("_index", "") == config.thumbnail_index:
                # A thumbnail that failed to store costs only the thumbnail, and is said in the log.
                log.warning("thumbnail %s not stored: %s", item.get("_id"), item.get("error"))
                continue
            pid = item["_id"]
            product = next(p for p in ready if p.id == pid)
            if item.get("status") == 429 and not last_attempt:  # the cluster is busy: try again later
                del result.outcomes[pid]
                result.retry.append(product.model_dump(mode="json"))
                continue
            result.outcomes[pid] = QUARANTINED
            records.append(
                QuarantineRecord(
                    kind="product", reason="index_rejected", message=json.dumps(item.get("error"))[:2000],
                    catalogue=catalogue, product_id=pid, attempts=attempt, product=product.model_dump(mode="json"),
                )
            )
    clear_products(client, config, [pid for pid, outcome in result.outcomes.items() if outcome != QUARANTINED])
    write_records(client, config, records)
    return result


def delete_products(client: OpenSearch, config: Config, product_ids: list[str], target: str | None = None) -> dict[str, str]:
    """Remove products by id; a product that was not indexed counts as deleted all the same."""
    actions = ({"_op_type": "delete", "_index": target or config.index_alias, "_id": pid} for pid in product_ids)
    helpers.bulk(client, actions, raise_on_error=False)
    clear_products(client, config, product_ids)
    return {pid: DELETED for pid in product_ids}


# -- steps -----------------------------------------------------------------------------------


def _existing_documents(client: OpenSearch, index: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    response = client.mget(index=index, body={"ids": ids}, _source_excludes=["description"])
    return {doc["_id"]: doc["_source"] for doc in response["docs"] if doc.get("found")}


def _collect_images(
    products: list[Product], existing: dict[str, dict[str, Any]], spec: EmbeddingSpec, config: Config
) -> dict[str, list[_Image]]:
    """Fetch and check every image of the batch in parallel, decoding only those not already embedded."""
    reusable: dict[str, dict[str, dict[str, Any]]] = {}
    for product in products:
        previous = existing.get(product.id)
        if previous and same_model(previous, spec):
            reusable[product.id] = {e["fingerprint"]: e for e in previous.get("images", []) if e.get("vector")}
    images = {p.id: [_Image(source=source, position=i) for i, source in enumerate(p.images)] for p in products}

    def work(job: tuple[str, _Image]) -> None:
        product_id, img = job
        try:
            fetched = fetch_image(img.source, config.fetch)
            img.fingerprint = sha256(fetched.data)
            img.reused = reusable.get(product_id, {}).get(img.fingerprint)
            if img.reused is None:
                img.decoded = decode_image(fetched.data, config.decode, source=img.source)
                img.phash = str(imagehash.phash(img.decoded))
                img.thumbnail = make_thumbnail(img.decoded)
        except SourceError as exc:
            img.error = exc
        except Exception as exc:  # noqa: BLE001 - a hostile file must cost only its own image
            img.error = CorruptImage(f"{img.source} cannot be processed: {type(exc).__name__}: {exc}", source=img.source)
            img.decoded = None

    jobs = [(pid, img) for pid, entries in images.items() for img in entries]
    with ThreadPoolExecutor(max_workers=max(1, min(FETCH_THREADS, len(jobs)))) as pool:
        list(pool.map(work, jobs))
    return images


def _reusable_text(previous: dict[str, Any] | None, fingerprint: str, spec: EmbeddingSpec) -> Any:
    if previous is None or previous.get("text_fingerprint") != fingerprint or "text_vector" not in previous:
        return None
    if not same_model(previous, spec):
        return None
    return previous["text_vector"]


def _entries(images: list[_Image], fresh: dict[int, tuple[Any, list[str]]]) -> list[dict[str, Any]]:
    """The ``images`` of a product's document: reused entries as they were, new ones with their vectors."""
    entries = []
    for img in images:
        if img.error is not None:
            continue
        if img.reused is not None:
            entries.append(dict(img.reused, url=img.source, position=img.position))
            continue
        vector, labels = fresh[id(img)]
        assert img.decoded is not None
        entries.append(image_entry(img.source, img.position, img.fingerprint, img.phash, img.decoded.size, labels, vector))
    return entries


def _record(kind: str, img: _Image, product: Product, catalogue: str, attempt: int) -> QuarantineRecord:
    error = img.error
    assert error is not None
    return QuarantineRecord(
        kind=kind,
        reason=error.reason,
        message=str(error),
        catalogue=catalogue,
        product_id=product.id,
        source=img.source,
        retryable=error.retryable,
        attempts=attempt,
        product=product.model_dump(mode="json"),
    )
