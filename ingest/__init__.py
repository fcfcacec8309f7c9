"""Catalogue ingestion with Celery workers (catalogue -> fetch -> embed -> bulk index). Arrives with its own issue."""
