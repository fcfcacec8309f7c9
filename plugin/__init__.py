"""The core of lookalike: configuration, the OpenSearch connection, index lifecycle.

Everything here knows OpenSearch and the models and nothing about HTTP or Celery, so a
shop's own backend or a notebook can import it as well as ``ingest`` and ``api`` do.
"""
