"""Measured search quality: named evaluations, their data sets, metrics, reports and the CI gate."""
