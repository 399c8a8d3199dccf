"""Commands that compose the `inference` library modules: `python -m inference.cli.<name>`."""
