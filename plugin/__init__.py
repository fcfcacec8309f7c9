"""The core of lookalike: configuration, OpenSearch, images, models, search and the catalogue.

Everything here knows OpenSearch and the models and nothing about HTTP or Celery, so a
shop's own backend or a notebook can import it as well as ``ingest`` and ``api`` do::

    from plugin import Config, Query, connect
    from plugin.search import search

    config = Config.from_env()
    result = search(connect(config), config.index_alias, Query(text="red sneaker", size=5))

Subpackages, each with its public names in its ``__init__``: :mod:`plugin.opensearch`,
:mod:`plugin.images`, :mod:`plugin.models`, :mod:`plugin.search`, :mod:`plugin.catalogue`.
``search`` itself is :mod:`plugin.search`'s, since the subpackage holds that name here.
"""

from plugin.exports import lazy_exports

_EXPORTS = {
    "Config": "plugin.config",
    "Filters": "plugin.search.request",
    "LookalikeError": "plugin.errors",
    "Product": "plugin.catalogue.reader",
    "Query": "plugin.search.request",
    "SearchResult": "plugin.search.service",
    "connect": "plugin.opensearch.client",
    "read_catalogue": "plugin.catalogue.reader",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
