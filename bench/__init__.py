"""Benchmarks: commands of the product (``lookalike bench ...``) that compare against a baseline
measured in the same run and write their figures to ``reports/``."""
