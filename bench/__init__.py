"""Benchmarks: commands of the product (``lookalike bench ...``) that compare against a baseline
measured in the same run and write their figures to the reports directory (``LOOKALIKE_REPORTS_DIR``)."""
