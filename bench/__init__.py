"""Benchmarks of the classifier: `python -m bench`."""
