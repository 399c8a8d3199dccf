"""Every app of the project ships: the image copies its folder and the package lists it, so
an app added to INSTALLED_APPS cannot be left out of `pip install .` or the Docker image."""

from __future__ import annotations

import tomllib
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def _project_apps() -> list[str]:
    """The INSTALLED_APPS that are folders of this repository (not third-party packages)."""
    names = {app.split(".")[0] for app in settings.INSTALLED_APPS}
    return sorted(name for name in names if (ROOT / name / "__init__.py").is_file())


def test_the_project_apps_are_found():
    assert {"campaigns", "analytics", "api", "inference"} <= set(_project_apps())


def test_the_docker_image_copies_every_app():
    dockerfile = (ROOT / "Dockerfile").read_text()
    missing = [app for app in _project_apps() if f"COPY {app} ./{app}" not in dockerfile]
    assert not missing, f"Dockerfile copies no folder for {missing}"


def test_the_package_includes_every_app():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    included = project["tool"]["setuptools"]["packages"]["find"]["include"]
    missing = [app for app in _project_apps() if f"{app}*" not in included]
    assert not missing, f"pyproject.toml's packages leave out {missing}"
