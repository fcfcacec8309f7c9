"""Recommendations and personal ranking from what shoppers do (``POST /events``).

* :mod:`plugin.recommend.cooccurrence` folds new events into per-product co-occurrence counts
  and decayed popularity, incrementally (the periodic Celery task ``ingest.tasks.update_related``).
* :mod:`plugin.recommend.taste` reads a shopper's recent products as their taste, and the
  products' popularity from events: what the ``personal`` and ``popular`` ranking profiles use.
* :mod:`plugin.recommend.related` answers "shoppers also viewed" for a product or a shopper,
  blending co-occurrence with visual similarity for products without history.
"""
