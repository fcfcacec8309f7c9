"""The one place that turns a :class:`~plugin.config.Config` into an OpenSearch client."""

from __future__ import annotations

from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import ConnectionTimeout, TransportError

from plugin.config import Config
from plugin.errors import EngineUnavailable


def connect(config: Config) -> OpenSearch:
    """Return a client for the configured cluster (the local node or a real cluster).

    Creating the client does not contact the cluster; :func:`cluster_health` does.
    """
    auth = None
    if config.opensearch_user is not None:
        auth = (config.opensearch_user, config.opensearch_password or "")
    return OpenSearch(
        hosts=[config.opensearch_url],
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
