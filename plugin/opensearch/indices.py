"""Product indices: created under versioned names, reached only through an alias.

Readers and writers use the alias (``products`` by default). A new mapping version or a
new embedding model means a new index, filled beside the live one and then made live by
:func:`swap_alias`, a single atomic ``_aliases`` call, so searches never see a half-built
index and never see none. Whatever a user or a run asks to make live goes through
:func:`go_live`, which refuses anything but one of the alias's own product indices with a
mapping this code reads and vectors of the configured model: the quarantine, the thumbnails,
an index of another model or another application's index behind the alias would break
every search.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError, RequestError

import mappings
from plugin.config import Config
from plugin.errors import IndexLifecycleError
from plugin.models.base import EmbeddingSpec
from plugin.opensearch.documents import describe_model, same_model
from plugin.opensearch.synonyms import read_synonyms


def product_index_body(config: Config, spec: EmbeddingSpec, version: int = mappings.CURRENT_PRODUCT_VERSION) -> dict[str, Any]:
    """Return the settings and mappings of a product index for *spec*'s vector sizes."""
    variables = {
        "shards": config.index_shards,
        "replicas": config.index_replicas,
        "model_name": spec.name,
        "model_version": spec.version,
        "image_dims": spec.image_dims,
        "text_dims": spec.text_dims,
        "shared_space": spec.shared_space,
        "synonyms": read_synonyms(config.synonyms_file),
    }
    body = mappings.render(mappings.load("products", version), variables)
    body["settings"]["index"] |= search_settings(config)
    return body


def search_settings(config: Config) -> dict[str, Any]:
    """The product index's dynamic search settings, the same for a new index and the live one."""
    return {"search.concurrent_segment_search.mode": config.segment_search}


def apply_search_settings(client: OpenSearch, config: Config, index: str) -> None:
    """Give an existing product index :func:`search_settings`, so a changed setting needs no re-ingest."""
    try:
        client.indices.put_settings(index=index, body={"index": search_settings(config)})
    except RequestError as exc:
        raise IndexLifecycleError(f"OpenSearch refused the search settings of index {index}: {_reason(exc)}") from exc


def versioned_index_name(alias: str, version: int = mappings.CURRENT_PRODUCT_VERSION, now: dt.datetime | None = None) -> str:
    """``<alias>-v<mapping version>-<UTC time to the microsecond>``: unique, sortable, self-describing."""
    moment = now or dt.datetime.now(dt.timezone.utc)
    return f"{alias}-v{version}-{moment.strftime('%Y%m%d%H%M%S%f')}"


def create_product_index(
    client: OpenSearch,
    config: Config,
    spec: EmbeddingSpec,
    *,
    name: str | None = None,
    version: int = mappings.CURRENT_PRODUCT_VERSION,
) -> str:
    """Create a new, empty product index (not yet behind the alias) and return its name."""
    index = name or versioned_index_name(config.index_alias, version)
    try:
        client.indices.create(index=index, body=product_index_body(config, spec, version))
    except RequestError as exc:
        raise IndexLifecycleError(f"OpenSearch refused to create index {index}: {_reason(exc)}") from exc
    return index


def indices_behind(client: OpenSearch, alias: str) -> list[str]:
    """Return the indices the alias points to (empty if the alias does not exist)."""
    try:
        return sorted(client.indices.get_alias(name=alias))
    except NotFoundError:
        return []


def swap_alias(client: OpenSearch, alias: str, index: str) -> list[str]:
    """Point *alias* at *index* alone, atomically, and return the indices it pointed to before.

    One ``_aliases`` request removes the alias from every other index and adds it to
    *index*; OpenSearch applies the actions together, so no search sees zero or two
    indices. The old indices are kept (for a rollback); delete them when no longer needed.
    """
    if not client.indices.exists(index=index):
        raise IndexLifecycleError(f"cannot point alias {alias} at {index}: no such index")
    previous = indices_behind(client, alias)
    actions: list[dict[str, Any]] = [{"remove": {"index": old, "alias": alias}} for old in previous if old != index]
    actions.append({"add": {"index": index, "alias": alias, "is_write_index": True}})
    try:
        client.indices.update_aliases(body={"actions": actions})
    except RequestError as exc:
        raise IndexLifecycleError(f"OpenSearch refused to move alias {alias} to {index}: {_reason(exc)}") from exc
    return previous


def go_live(client: OpenSearch, config: Config, index: str, spec: EmbeddingSpec) -> list[str]:
    """Point the configured alias at *index*, after :func:`check_can_go_live`; return the indices it left."""
    check_can_go_live(client, config, index, spec)
    return swap_alias(client, config.index_alias, index)


def check_can_go_live(client: OpenSearch, config: Config, index: str, spec: EmbeddingSpec) -> None:
    """Raise :class:`IndexLifecycleError` (one sentence) unless *index* can serve searches behind the alias.

    It must exist, bear one of the alias's versioned product index names, carry the product
    mapping's ``_meta`` with a version in :data:`mappings.LIVE_PRODUCT_VERSIONS`, and hold
    vectors of *spec*'s model.
    """
    alias = config.index_alias
    if not client.indices.exists(index=index):
        raise IndexLifecycleError(f"cannot point alias {alias} at {index}: no such index")
    refused = f"Refused to point alias {alias} at {index}"
    if not re.fullmatch(rf"{re.escape(alias)}-v\d+-\d{{20}}", index):
        raise IndexLifecycleError(
            f"{refused}: it is not one of its product indices (named {alias}-v<mapping version>-<time>; see lookalike index list)."
        )
    meta = index_model(client, index)
    if meta.get("mapping") != "products":
        raise IndexLifecycleError(f"{refused}: it was not created from lookalike's product mapping.")
    version = meta.get("mapping_version")
    if version not in mappings.LIVE_PRODUCT_VERSIONS:
        readable = ", ".join(f"v{v}" for v in sorted(mappings.LIVE_PRODUCT_VERSIONS))
        raise IndexLifecycleError(
            f"{refused}: its mapping is v{version} and this version of lookalike searches {readable}; "
            "re-ingest the catalogue with lookalike ingest --new-index."
        )
    if not same_model(meta, spec):
        raise IndexLifecycleError(
            f"{refused}: it holds vectors of {describe_model(meta)} and the configured model is {spec.name} v{spec.version}."
        )


def check_room_for_views(client: OpenSearch, config: Config, index: str) -> None:
    """Raise :class:`IndexLifecycleError` when gallery views are configured and *index*'s mapping cannot hold them."""
    if not config.gallery_views:
        return
    version = index_model(client, index).get("mapping_version", 0)
    if version < mappings.GALLERY_VIEWS_VERSION:
        raise IndexLifecycleError(
            f"LOOKALIKE_GALLERY_VIEWS asks for gallery views, and index {index} has mapping v{version}, which has no room "
            "for them; re-ingest the catalogue with lookalike ingest --new-index (or leave LOOKALIKE_GALLERY_VIEWS empty)."
        )


def ensure_product_index(client: OpenSearch, config: Config, spec: EmbeddingSpec) -> str:
    """Return the index behind the configured alias, creating one and the alias if there is none.

    Idempotent: a second call returns the same index, and gives it the configured
    :func:`search_settings`. It does not check that the live
    index matches *spec*; :func:`index_model` tells which model an index was built for.
    """
    live = indices_behind(client, config.index_alias)
    if live:
        apply_search_settings(client, config, live[0])
        return live[0]
    index = create_product_index(client, config, spec)
    swap_alias(client, config.index_alias, index)
    return index


def index_model(client: OpenSearch, index: str) -> dict[str, Any]:
    """Return the ``_meta`` an index was created with (mapping version, model, vector sizes)."""
    mapping = client.indices.get_mapping(index=index)
    return mapping[index]["mappings"].get("_meta", {})


def _reason(exc: RequestError) -> str:
    info = exc.info if isinstance(exc.info, dict) else {}
    error = info.get("error", {})
    if isinstance(error, dict):
        return str(error.get("reason", exc.error))
    return str(error or exc.error)


def ensure_index(client: OpenSearch, config: Config, index: str, template: str, version: int = 1) -> None:
    """Create a plain (non-aliased) index such as the quarantine or thumbnails from its template, once."""
    if client.indices.exists(index=index):
        return
    body = mappings.render(mappings.load(template, version), {"replicas": config.index_replicas})
    try:
        client.indices.create(index=index, body=body)
    except RequestError as exc:
        if "resource_already_exists_exception" not in str(exc):  # another worker made it first
            raise IndexLifecycleError(f"OpenSearch refused to create index {index}: {_reason(exc)}") from exc
