"""Benchmarks of the pipeline and the classifier: `python -m benchmarks.<name>`."""
