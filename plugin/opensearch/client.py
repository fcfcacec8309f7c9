"""The one place that turns a :class:`~plugin.config.Config` into an OpenSearch client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import ConnectionTimeout, TransportError

from plugin.config import Config
from plugin.errors import (
    EngineBusy,
    EngineUnavailable,
    IndexMissing,
    LookalikeError,
    SearchFailed,
)

#: The cluster's answers that mean "not now" rather than "not this request": no shard to answer
#: (a node starting or recovering answers 503 "all shards failed"), or a proxy in front of it
#: failing. 429 (a circuit breaker, a full search queue) is :class:`EngineBusy`.
UNAVAILABLE_STATUSES = frozenset({502, 503, 504})
#: What a cluster answers for a moment after it loses a node, until it notices: the same read
#: succeeds again once the shard copies on the other nodes take over.
NODE_LOST_ERRORS = ("node_not_connected_exception", "node_disconnected_exception", "node_closed_exception", "connect_transport_exception")
POOL_SIZE = 32


def connect(config: Config) -> OpenSearch:
    """Return a client for the configured cluster (the local node or a real cluster).

    With several node URLs, requests go round robin over them; a node that cannot be reached,
    times out or answers 502-504 is taken out of rotation for ``dead_timeout`` seconds and the
    request is sent to the next one, up to ``max_retries`` times, so a lost node costs a retry,
    not an error. With one URL a timeout is not retried. Every request lookalike sends may be repeated safely: searches read, and
    writes name their document's id.

    Creating the client does not contact the cluster; :func:`cluster_health` does.
    """
    auth = None
    if config.opensearch_user is not None:
        auth = (config.opensearch_user, config.opensearch_password or "")
    return OpenSearch(
        hosts=list(config.opensearch_urls),
        max_retries=config.max_retries,
        # A timeout is worth another try only on another node: on the same one it multiplies the wait.
        retry_on_timeout=len(config.opensearch_urls) > 1,
        dead_timeout=config.dead_timeout,
        # Connections kept open per node: the API's threads share one client.
        pool_maxsize=POOL_SIZE,
        http_auth=auth,
        verify_certs=config.verify_certs,
        ssl_show_warn=config.verify_certs,
        ca_certs=config.ca_certs,
        timeout=config.request_timeout,
        http_compress=config.http_compress,
    )


def cluster_health(client: OpenSearch) -> dict[str, Any]:
    """Return ``_cluster/health``, raising :class:`EngineUnavailable` if the cluster cannot be reached."""
    try:
        return client.cluster.health()
    except (OpenSearchConnectionError, ConnectionTimeout) as exc:
        raise EngineUnavailable(f"OpenSearch at {_hosts(client)} cannot be reached: {exc.error}") from exc
    except TransportError as exc:
        if exc.status_code in (401, 403):
            raise EngineUnavailable(
                f"OpenSearch at {_hosts(client)} refused the credentials (HTTP {exc.status_code}); "
                "check OPENSEARCH_USER and OPENSEARCH_PASSWORD."
            ) from exc
        raise EngineUnavailable(f"OpenSearch at {_hosts(client)} answered HTTP {exc.status_code}: {exc.error}") from exc


def _hosts(client: OpenSearch) -> str:
    hosts = client.transport.hosts or []
    return ", ".join(f"{h.get('scheme', 'http')}://{h['host']}:{h.get('port', 9200)}" for h in hosts)


def engine_error(exc: TransportError) -> LookalikeError | None:
    """The product error a failed call to the cluster stands for, or None when it is a fault of the request sent.

    Connection failures, timeouts and the cluster's "not now" answers are engine states that
    pass (:class:`EngineUnavailable`, :class:`EngineBusy`); a missing index is
    :class:`IndexMissing`. Anything else (a 400 to a query lookalike built, say) is a bug to
    see, so it is not disguised as an engine state.
    """
    if isinstance(exc, (OpenSearchConnectionError, ConnectionTimeout)):
        return EngineUnavailable(f"OpenSearch cannot be reached: {exc.error}")
    error = exc.info.get("error") if isinstance(exc.info, Mapping) else None
    found = answer_error(exc.status_code, error if error is not None else exc.error)
    return None if type(found) is SearchFailed else found


def lost_a_node(exc: Exception) -> bool:
    """Whether *exc* is the cluster answering that a node it counted on has gone (worth one more try)."""
    text = str(exc.info) if isinstance(exc, TransportError) else str(exc) if isinstance(exc, LookalikeError) else ""
    return any(kind in text for kind in NODE_LOST_ERRORS)


def answer_error(status: Any, error: Any) -> LookalikeError:
    """The product error for one failed answer of the cluster: its HTTP *status* and its ``error`` (object or text).

    For raised errors, and for the items of an ``_msearch``, which fail one by one inside a 200.
    """
    kind = error.get("type", "") if isinstance(error, Mapping) else str(error)
    if status == 429:
        return EngineBusy(f"OpenSearch is overloaded (HTTP 429, {kind}): {error}")
    if status in UNAVAILABLE_STATUSES:
        return EngineUnavailable(f"OpenSearch cannot answer now (HTTP {status}, {kind}): {error}")
    if status in (401, 403):
        return EngineUnavailable(f"OpenSearch refused the credentials (HTTP {status}); check OPENSEARCH_USER and OPENSEARCH_PASSWORD.")
    if status == 404 and kind == "index_not_found_exception":
        return IndexMissing(f"the index does not exist: {error}")
    return SearchFailed(f"OpenSearch answered HTTP {status}: {error}")
