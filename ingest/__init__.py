"""Catalogue ingestion: a catalogue becomes searchable products, or quarantined items with reasons.

``runner`` reads a catalogue and hands batches to Celery ``tasks``; each task runs
``pipeline.process_products`` (fetch, decode, embed only what changed, bulk index) and
records every product's outcome with ``progress``.
"""
