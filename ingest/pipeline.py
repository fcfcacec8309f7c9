"""Products in batches, each in four steps: collect images, embed what changed, build documents, write.

This module holds the ingest logic and knows nothing of Celery, so the worker tasks and the
in-process ``--eager`` mode run exactly the same code.

The steps of consecutive batches overlap, so that the model is seldom idle: while one batch
is embedded, the next one's images are fetched, decoded, hashed and thumbnailed, and the
previous one's documents are written. ONNX Runtime, PyTorch, Pillow, hashing and socket I/O
all release the GIL, so these threads share the cores rather than queue for the interpreter.

Change awareness: each image's bytes and the product's embedded text are fingerprinted
(SHA-256). A product whose image fingerprints, text fingerprint and model match what is
indexed keeps its vectors, so a price, stock or tag edit rewrites the document without a
model call; an unchanged product is not written at all.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

import imagehash
from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import TransportError
from PIL import Image

import mappings
from plugin.catalogue.reader import Product
from plugin.config import Config
from plugin.errors import ConfigError, CorruptImage, EngineBusy, SourceError
from plugin.images.decode import decode_image
from plugin.images.fetch import FetchedImage, fetch_image
from plugin.images.gallery import OBJECT_AT_MOST, box_area, gallery_views
from plugin.images.provenance import read_provenance
from plugin.images.thumbnails import make_thumbnail, thumbnail_action
from plugin.models.base import EmbeddingBackend, EmbeddingSpec
from plugin.models.detector import Detector
from plugin.models.registry import detector_for
from plugin.opensearch.documents import (
    PREDICTED_FIELDS,
    image_entry,
    product_document,
    same_model,
    sha256,
    view_entry,
    without_rights,
)
from plugin.opensearch.indices import check_room_for_views, index_model, indices_behind
from plugin.opensearch.quarantine import QuarantineRecord, clear_products, write_records
from plugin.search.regions import salient, working_copy

log = logging.getLogger(__name__)

#: Parallel image downloads per batch; fetching is network-bound, decoding releases the GIL.
FETCH_THREADS = 8

INDEXED, UPDATED, UNCHANGED, DELETED, QUARANTINED = "indexed", "updated", "unchanged", "deleted", "quarantined"

#: Answers of a cluster (or of the proxy in front of it) that is overloaded or short of a node
#: (503: a shard whose primary is being moved to another node), rather than refusing.
BUSY_STATUSES = frozenset({429, 502, 503, 504})


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
    #: The decoded picture's width and height, which its document keeps after the pixels are gone.
    size: tuple[int, int] = (0, 0)
    #: The indexed entries (the photo's, then its gallery views') for the same bytes, model and
    #: views, whose vectors can be reused.
    reused: list[dict[str, Any]] | None = None
    #: The gallery views to embed beside the photo, each with its name.
    views: list[tuple[str, Image.Image]] = dataclasses.field(default_factory=list)
    #: The gallery views the photo's entry says were made of it (none when making them failed).
    view_names: tuple[str, ...] = ()
    error: SourceError | None = None
    phash: str = ""
    thumbnail: tuple[bytes, int, int] | None = None
    #: The image's licence, credit and source URL from its catalogue row.
    rights: dict[str, str] = dataclasses.field(default_factory=dict)
    #: Its Content Credentials (``Provenance.to_document()``), when the file carries a manifest.
    provenance: dict[str, Any] | None = None


@dataclasses.dataclass
class _Batch:
    """One batch on its way through the steps, and what has become of its products so far."""

    catalogue: str
    attempt: int
    last_attempt: bool
    target: str
    #: The indexed documents of the batch's products, by product id.
    existing: dict[str, dict[str, Any]]
    images: dict[str, list[_Image]] = dataclasses.field(default_factory=dict)
    #: The products that go on to be embedded and written.
    ready: list[Product] = dataclasses.field(default_factory=list)
    records: list[QuarantineRecord] = dataclasses.field(default_factory=list)
    result: BatchResult = dataclasses.field(default_factory=BatchResult)


@dataclasses.dataclass
class _Vectors:
    """What the model made for a batch: vectors of new images, and the texts' vectors and fingerprints."""

    embedded: list[_Image]
    images: dict[int, tuple[Any, list[str]]]
    #: Each new image's gallery views' vectors, with their names.
    views: dict[int, list[tuple[str, Any]]]
    texts: dict[str, Any]
    text_fingerprints: dict[str, str]


def text_for_embedding(product: Product) -> str:
    """What the text vector describes: the words a shopper might type for this product."""
    parts = [product.title, product.brand or "", " > ".join(product.category), product.description]
    return ". ".join(part for part in parts if part)[:2000]


@contextlib.contextmanager
def busy_as_engine_busy() -> Iterator[None]:
    """Raise :class:`EngineBusy` for the cluster's "too busy" answers, so that a task can retry on the class."""
    try:
        yield
    except TransportError as exc:
        # ConnectionError is a TransportError too, with no status: it passes through as it is.
        if exc.status_code in BUSY_STATUSES:
            raise EngineBusy(f"OpenSearch is busy (HTTP {exc.status_code}): {exc.error}") from exc
        raise


def process_products(
    client: OpenSearch,
    config: Config,
    backend: EmbeddingBackend,
    products: list[Product],
    *,
    catalogue: str,
    attempt: int = 1,
    target: str | None = None,
    on_written: Callable[[BatchResult], None] | None = None,
) -> BatchResult:
    """Ingest *products* into *target* (the alias by default, or an index being built for a new
    model) in batches of ``config.ingest.batch_size``; return each product's outcome and what to retry.

    *on_written* is called with each batch's result as soon as its documents are written (from
    another thread), so that progress shows before the last batch is done. When a step fails,
    the batches already written stay written and the error is raised once every step in flight
    has finished: nothing of this call goes on behind its caller's back.
    """
    if not products:
        return BatchResult()
    size = config.ingest.batch_size
    chunks = [products[start : start + size] for start in range(0, len(products), size)]
    target = target or config.index_alias
    detector = _gallery_detector(client, config, target)
    steps = _Steps(client, config, backend, catalogue, attempt, target, on_written, detector, _room_for_rights(client, target))
    results: list[BatchResult] = []
    # Shut down in reverse: the writer and the preparer finish before the fetchers they use.
    with (
        ThreadPoolExecutor(FETCH_THREADS, thread_name_prefix="ingest-fetch") as fetchers,
        ThreadPoolExecutor(1, thread_name_prefix="ingest-prepare") as preparer,
        ThreadPoolExecutor(1, thread_name_prefix="ingest-write") as writer,
    ):
        prepared = preparer.submit(steps.prepare, chunks[0], fetchers)
        written: Future[BatchResult] | None = None
        for following in [*chunks[1:], None]:
            batch = prepared.result()
            if following is not None:  # one batch ahead: memory stays bounded whatever the task's size
                prepared = preparer.submit(steps.prepare, following, fetchers)
            vectors = embed(backend, batch)
            if written is not None:
                # One write in flight: a slow cluster holds the model back rather than piling up batches.
                results.append(written.result())
            written = writer.submit(steps.finish, batch, vectors)
        assert written is not None
        results.append(written.result())
    return _merged(results)


def delete_products(client: OpenSearch, config: Config, product_ids: list[str], target: str | None = None) -> dict[str, str]:
    """Remove products by id; a product that was not indexed counts as deleted all the same."""
    with busy_as_engine_busy():
        actions = ({"_op_type": "delete", "_index": target or config.index_alias, "_id": pid} for pid in product_ids)
        helpers.bulk(client, actions, raise_on_error=False)
        clear_products(client, config, product_ids)
    return {pid: DELETED for pid in product_ids}


# -- the steps -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Steps:
    """The steps of one :func:`process_products` call around the model: before it and after it."""

    client: OpenSearch
    config: Config
    backend: EmbeddingBackend
    catalogue: str
    attempt: int
    target: str
    on_written: Callable[[BatchResult], None] | None
    #: Finds the product in each photo for the ``object`` gallery view; None when not asked for.
    detector: Detector | None = None
    #: Whether the target's mapping holds images' rights and provenance (version 4 on).
    rights: bool = True

    def prepare(self, products: list[Product], fetchers: Executor) -> _Batch:
        """What is indexed of *products*, their images collected, and each product's way on."""
        with busy_as_engine_busy():
            batch = _Batch(
                catalogue=self.catalogue,
                attempt=self.attempt,
                last_attempt=self.attempt >= self.config.ingest.max_attempts,
                target=self.target,
                existing=_existing_documents(self.client, self.target, [p.id for p in products]),
            )
        batch.images = collect_images(products, batch.existing, self.backend.spec, self.config, fetchers, self.detector)
        _sort_out(batch, products)
        return batch

    def finish(self, batch: _Batch, vectors: _Vectors) -> BatchResult:
        with busy_as_engine_busy():
            actions = build_documents(batch, vectors, self.backend.spec, self.config.thumbnail_index, self.rights)
            write(self.client, self.config, batch, actions)
        if self.on_written is not None:
            self.on_written(batch.result)
        return batch.result


def collect_images(
    products: list[Product],
    existing: dict[str, dict[str, Any]],
    spec: EmbeddingSpec,
    config: Config,
    pool: Executor | None = None,
    detector: Detector | None = None,
) -> dict[str, list[_Image]]:
    """Fetch and check every image of the batch in parallel (in *pool*, or in threads of its own),
    decoding only those not already embedded with the configured gallery views."""
    reusable: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for product in products:
        previous = existing.get(product.id)
        if previous and same_model(previous, spec):
            reusable[product.id] = _reusable_entries(previous.get("images", []), config.gallery_views)
    images = {p.id: [_Image(source=source, position=i, rights=p.image_rights(i)) for i, source in enumerate(p.images)] for p in products}
    anchors = config.c2pa_trust_anchors.read_text(encoding="utf-8") if config.c2pa_trust_anchors else None

    def work(job: tuple[str, _Image]) -> None:
        product_id, img = job
        try:
            fetched = fetch_image(img.source, config.fetch)
            img.fingerprint = sha256(fetched.data)
            img.reused = reusable.get(product_id, {}).get(img.fingerprint)
            if img.reused is None:
                img.decoded = decode_image(fetched.data, config.decode, source=img.source)
                img.size = img.decoded.size
                img.phash = str(imagehash.phash(img.decoded))
                img.thumbnail = make_thumbnail(img.decoded)
                img.provenance = _provenance(fetched, anchors)
                if config.gallery_views:
                    img.views, img.view_names = _views_or_none(img, config.gallery_views, detector)
        except SourceError as exc:
            img.error = exc
        except Exception as exc:  # noqa: BLE001 - a hostile file must cost only its own image
            img.error = CorruptImage(f"{img.source} cannot be processed: {type(exc).__name__}: {exc}", source=img.source)
            img.decoded = None

    jobs = [(pid, img) for pid, entries in images.items() for img in entries]
    if pool is not None:
        list(pool.map(work, jobs))
    else:
        with ThreadPoolExecutor(max_workers=max(1, min(FETCH_THREADS, len(jobs)))) as own:
            list(own.map(work, jobs))
    return images


def embed(backend: EmbeddingBackend, batch: _Batch) -> _Vectors:
    """One forward pass for every new or changed image of the batch, and one for the texts that changed."""
    spec = backend.spec
    to_embed = [img for p in batch.ready for img in batch.images[p.id] if img.error is None and img.reused is None]
    vectors, labels = backend.embed_and_label([img.decoded for img in to_embed]) if to_embed else ([], [])  # type: ignore[misc]
    views = [(img, name, picture) for img in to_embed for name, picture in img.views]
    view_vectors = backend.embed_images([picture for _, _, picture in views]) if views else []
    made: dict[int, list[tuple[str, Any]]] = {}
    for (img, name, _), vector in zip(views, view_vectors):
        made.setdefault(id(img), []).append((name, vector))
    for img in to_embed:
        # Hashed and thumbnailed already: let the pixels go while the batch waits for its write,
        # so that three batches in flight hold the pixels of two.
        img.decoded = None
        img.views = []
    batch.result.images_embedded = len(to_embed)

    texts = {p.id: text_for_embedding(p) for p in batch.ready}
    # The model's identity is part of the text's fingerprint: a new model re-embeds every text.
    text_fingerprints = {pid: sha256(f"{(spec.name, spec.version)}|{text}") for pid, text in texts.items()}
    stale_text = [p.id for p in batch.ready if _reusable_text(batch.existing.get(p.id), text_fingerprints[p.id], spec) is None]
    text_vectors = dict(zip(stale_text, backend.embed_texts([texts[pid] for pid in stale_text]))) if stale_text else {}
    batch.result.texts_embedded = len(stale_text)
    return _Vectors(
        embedded=to_embed,
        images={id(img): (vectors[i], labels[i]) for i, img in enumerate(to_embed)},
        views=made,
        texts=text_vectors,
        text_fingerprints=text_fingerprints,
    )


def build_documents(batch: _Batch, vectors: _Vectors, spec: EmbeddingSpec, thumbnail_index: str, rights: bool = True) -> list[dict[str, Any]]:
    """The bulk actions of the batch: each new or changed product's document, and the new thumbnails.

    Without *rights* (a target whose mapping predates them), images' rights and provenance are left out.
    """
    actions: list[dict[str, Any]] = []
    for product in batch.ready:
        previous = batch.existing.get(product.id)
        fingerprint = vectors.text_fingerprints[product.id]
        text_vector = vectors.texts.get(product.id)
        if text_vector is None:
            text_vector = _reusable_text(previous, fingerprint, spec)
        entries = _entries(batch.images[product.id], vectors)
        if not rights:
            entries = [without_rights(entry) for entry in entries]
        document = product_document(product, entries, text_vector, fingerprint, spec)
        if previous is not None and previous.get("fingerprint") == document["fingerprint"]:
            batch.result.outcomes[product.id] = UNCHANGED
            continue
        document["updated_at"] = dt.datetime.now(dt.timezone.utc).isoformat()
        # Predictions are made after the run (plugin.tagging.store): until they are, the product keeps its last ones.
        document.update({field: previous[field] for field in PREDICTED_FIELDS if previous and field in previous})
        actions.append({"_op_type": "index", "_index": batch.target, "_id": product.id, "_source": document})
        batch.result.outcomes[product.id] = UPDATED if previous is not None else INDEXED
    for img in vectors.embedded:
        if img.thumbnail is not None:
            actions.append(thumbnail_action(thumbnail_index, img.fingerprint, *img.thumbnail))
    return actions


def write(client: OpenSearch, config: Config, batch: _Batch, actions: list[dict[str, Any]]) -> None:
    """Index the documents, then settle the quarantine: clear what succeeded, record what failed."""
    if actions:
        # No refresh per batch: waiting for one would cap a worker at a batch per refresh
        # interval. The runner refreshes once when the whole run is done.
        _, errors = helpers.bulk(client, actions, raise_on_error=False)
        for error in errors:
            _settle_rejected(config, batch, next(iter(error.values())))
    outcomes = batch.result.outcomes
    clear_products(client, config, [pid for pid, outcome in outcomes.items() if outcome != QUARANTINED])
    write_records(client, config, batch.records)


# -- helpers ---------------------------------------------------------------------------------


def _merged(results: list[BatchResult]) -> BatchResult:
    merged = BatchResult()
    for result in results:
        merged.outcomes.update(result.outcomes)
        merged.retry.extend(result.retry)
        merged.images_embedded += result.images_embedded
        merged.texts_embedded += result.texts_embedded
    return merged


def _existing_documents(client: OpenSearch, index: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    response = client.mget(index=index, body={"ids": ids}, _source_excludes=["description"])
    return {doc["_id"]: doc["_source"] for doc in response["docs"] if doc.get("found")}


def _sort_out(batch: _Batch, products: list[Product]) -> None:
    """Decide each product's way on from its images: on to indexing, back for a retry, or to the quarantine."""
    for product in products:
        images = batch.images[product.id]
        failed = [img for img in images if img.error is not None]
        if any(img.error.retryable for img in failed) and not batch.last_attempt:  # type: ignore[union-attr]
            batch.result.retry.append(product.model_dump(mode="json"))
            continue
        if len(failed) == len(images):  # nothing to show: the product is not indexed
            batch.records.append(_record("product", failed[0], product, batch))
            batch.result.outcomes[product.id] = QUARANTINED
            continue
        batch.records.extend(_record("image", img, product, batch) for img in failed)
        batch.ready.append(product)


def _settle_rejected(config: Config, batch: _Batch, item: dict[str, Any]) -> None:
    """Decide what a write the cluster refused costs: a thumbnail, a retry later, or the product's quarantine."""
    if item.get("_index", "") == config.thumbnail_index:
        # A thumbnail that failed to store costs only the thumbnail, and is said in the log.
        log.warning("thumbnail %s not stored: %s", item.get("_id"), item.get("error"))
        return
    pid = item["_id"]
    product = next(p for p in batch.ready if p.id == pid)
    if item.get("status") in BUSY_STATUSES and not batch.last_attempt:  # the cluster is busy or short of a node: try again later
        del batch.result.outcomes[pid]
        batch.result.retry.append(product.model_dump(mode="json"))
        return
    batch.result.outcomes[pid] = QUARANTINED
    batch.records.append(
        QuarantineRecord(
            kind="product", reason="index_rejected", message=json.dumps(item.get("error"))[:2000],
            catalogue=batch.catalogue, product_id=pid, attempts=batch.attempt, product=product.model_dump(mode="json"),
        )
    )


def _reusable_text(previous: dict[str, Any] | None, fingerprint: str, spec: EmbeddingSpec) -> Any:
    if previous is None or previous.get("text_fingerprint") != fingerprint or "text_vector" not in previous:
        return None
    if not same_model(previous, spec):
        return None
    return previous["text_vector"]


def _entries(images: list[_Image], fresh: _Vectors) -> list[dict[str, Any]]:
    """The ``images`` of a product's document, each photo followed by its gallery views: reused
    entries as they were, new ones with their vectors."""
    entries = []
    for img in images:
        if img.error is not None:
            continue
        if img.reused is not None:
            # The same bytes: the vectors and the provenance stand, the row's rights may have changed.
            photo, *views = img.reused
            entries.append(dict(without_rights(photo, keep_provenance=True), url=img.source, position=img.position, **img.rights))
            entries.extend(dict(entry, url=img.source, position=img.position) for entry in views)
            continue
        vector, labels = fresh.images[id(img)]
        photo = image_entry(
            img.source, img.position, img.fingerprint, img.phash, img.size, labels, vector, img.view_names, img.rights, img.provenance
        )
        entries.append(photo)
        entries.extend(view_entry(photo, name, view_vector) for name, view_vector in fresh.views.get(id(img), []))
    return entries


def _reusable_entries(images: list[dict[str, Any]], views: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    """The indexed photos made with at least the gallery views *views*, by fingerprint, each with
    the entries of those views: views dropped cost no model call, views added re-embed the photo."""
    found: dict[str, list[dict[str, Any]]] = {}
    for entry in images:
        if entry.get("vector") and "view" not in entry and set(views) <= set(entry.get("gallery_views", ())):
            photo = {key: value for key, value in entry.items() if key != "gallery_views"}
            found[entry["fingerprint"]] = [photo | ({"gallery_views": list(views)} if views else {})]
    kept: set[tuple[str, str]] = set()
    for entry in images:
        key = (entry.get("fingerprint", ""), entry.get("view", ""))
        # The same bytes twice in a product store their views twice: take each view once.
        if entry.get("view") in views and key[0] in found and key not in kept:
            kept.add(key)
            found[key[0]].append(entry)
    return found


def _views_or_none(
    img: _Image, names: tuple[str, ...], detector: Detector | None
) -> tuple[list[tuple[str, Image.Image]], tuple[str, ...]]:
    """The photo's gallery views and their names; none when making them fails, which costs the views, not the photo.

    The photo's entry then lists no views, so the next ingest tries them again.
    """
    assert img.decoded is not None
    try:
        return _views_of(img.decoded, names, detector), names
    except Exception as exc:  # noqa: BLE001 - the detector or a transform failing must not quarantine a good photo
        log.warning("gallery views of %s not made: %s: %s", img.source, type(exc).__name__, exc)
        return [], ()


def _views_of(photo: Image.Image, names: tuple[str, ...], detector: Detector | None) -> list[tuple[str, Image.Image]]:
    """The gallery views *names* of a catalogue photo, from a copy small enough to turn and cut quickly."""
    working = working_copy(photo)
    box = None
    if detector is not None:
        # The most salient box that leaves part of the photo out; one around the whole frame says nothing.
        found = [(b.left, b.top, b.right, b.bottom) for b in salient(detector.detect(working), 3)]
        box = next((b for b in found if box_area(b) <= OBJECT_AT_MOST), None)
    return gallery_views(working, names, box)


def _provenance(fetched: FetchedImage, anchors: str | None) -> dict[str, Any] | None:
    """The image's Content Credentials for its document (``trusted`` when its signer chains to
    one of *anchors*); None without a manifest."""
    found = read_provenance(fetched.data, fetched.media_type, trust_anchors=anchors)
    return found.to_document() if found is not None else None


def _room_for_rights(client: OpenSearch, target: str) -> bool:
    """Whether every index of *target* has a mapping that holds images' rights and provenance."""
    versions = [index_model(client, index).get("mapping_version", 0) for index in indices_behind(client, target) or [target]]
    return all(version >= mappings.IMAGE_RIGHTS_VERSION for version in versions)


def _gallery_detector(client: OpenSearch, config: Config, target: str) -> Detector | None:
    """Check that *target* can hold the configured gallery views; the detector the ``object`` view needs."""
    if not config.gallery_views:
        return None
    for index in indices_behind(client, target) or [target]:
        check_room_for_views(client, config, index)
    if "object" not in config.gallery_views:
        return None
    detector = detector_for(config)
    if detector is None:
        raise ConfigError("the gallery view object needs the object detector: run lookalike detector build (or make detector) first")
    return detector


def _record(kind: str, img: _Image, product: Product, batch: _Batch) -> QuarantineRecord:
    error = img.error
    assert error is not None
    return QuarantineRecord(
        kind=kind,
        reason=error.reason,
        message=str(error),
        catalogue=batch.catalogue,
        product_id=product.id,
        source=img.source,
        retryable=error.retryable,
        attempts=batch.attempt,
        product=product.model_dump(mode="json"),
    )
