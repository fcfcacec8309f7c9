"""The admin views under ``/admin``: one blueprint, the ingest monitor it reads runs from, and their data.

``views`` holds the routes, ``data`` what they show about the index and the catalogue,
``ingest_monitor`` the runs and the quarantine retry, ``reports`` the benchmark reports.
"""

from api.admin.ingest_monitor import IngestMonitor
from api.admin.views import bp

__all__ = ["IngestMonitor", "bp"]
