"""Commands that compose the `ml` library modules: `python -m ml.cli.<name>`."""
