"""The core of lookalike: configuration, OpenSearch, images, models, search and the catalogue.

Everything here knows OpenSearch and the models and nothing about HTTP or Celery, so a
shop's own backend or a notebook can import it as well as ``ingest`` and ``api`` do::

    from plugin import Config, Query, connect, search

    config = Config.from_env()
    result = search(connect(config), config.index_alias, Query(text="red sneaker", size=5))

Subpackages, each with its public names in its ``__init__``: :mod:`plugin.opensearch`,
:mod:`plugin.images`, :mod:`plugin.models`, :mod:`plugin.search`, :mod:`plugin.catalogue`.
"""

from plugin.catalogue.reader import Product, read_catalogue
from plugin.config import Config
from plugin.errors import LookalikeError
from plugin.opensearch.client import connect
from plugin.search.request import Filters, Query
from plugin.search.service import SearchResult, search

__all__ = ["Config", "Filters", "LookalikeError", "Product", "Query", "SearchResult", "connect", "read_catalogue", "search"]
