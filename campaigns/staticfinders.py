"""Serve Plotly's JavaScript from the installed `plotly` package as a project static file.

No CDN and no copy in the repository: `collectstatic` (and the development server through
WhiteNoise) picks up `campaigns/vendor/plotly.min.js` from plotly's own package data, so the
dashboards work offline and the script always matches the installed Python package.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import CheckMessage, Error
from django.core.files.storage import FileSystemStorage

PLOTLY_STATIC_PATH = "campaigns/vendor/plotly.min.js"


def plotly_js_file() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


class PlotlyFinder(BaseFinder):
    def __init__(self, *args: object, **kwargs: object) -> None:
        self.source = plotly_js_file()
        prefix = PLOTLY_STATIC_PATH.rsplit("/", 1)[0]
        self.storage = FileSystemStorage(location=str(self.source.parent))
        # Where collectstatic puts the storage's files (as AppDirectoriesFinder sets it).
        self.storage.prefix = prefix  # type: ignore[attr-defined]

    def check(self, **kwargs: Any) -> list[CheckMessage]:
        if not self.source.is_file():
            return [Error(f"{self.source} not found: is the plotly package installed?")]
        return []

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> Any:
        if path == PLOTLY_STATIC_PATH and self.source.is_file():
            return [str(self.source)] if find_all else str(self.source)
        return [] if find_all else ""

    def list(self, ignore_patterns: Iterable[str] | None) -> Iterator[tuple[str, Any]]:
        if self.source.is_file():
            yield self.source.name, self.storage
