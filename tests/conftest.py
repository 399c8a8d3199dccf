import os
from collections.abc import Callable

import pytest

from tests.service_support import SERVICE_MISSING
from tests.shared_data import DATA_MISSING

# Fixtures of the ingest tests (a registered tiny model, photos with faces, worker processes).
pytest_plugins = ["tests.browser_support", "tests.ingest_support"]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """Give this run its own test database, so runs in the same tree do not drop each other's.

    The database is a real file or server database either way: a Celery worker process
    started by a test must see the rows the test commits.
    """
    from django.conf import settings

    db = settings.DATABASES["default"]
    test = db.setdefault("TEST", {})
    suffix = str(os.getpid())
    if db["ENGINE"] == "django.db.backends.sqlite3":
        base = test.get("NAME") or str(settings.VAR_DIR / "test-db.sqlite3")
        test["NAME"] = base.removesuffix(".sqlite3") + f"-{suffix}.sqlite3"
    else:
        test["NAME"] = f"{test.get('NAME') or 'test_' + db['NAME']}_{suffix}"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Tests log users in often; the production hasher is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Uploads, photos and artifacts of a test go to its own folder, not var/media."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def report_figure(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Write a measured figure (a recovery time, a rate) to the run's output, uncaptured."""
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")

    def report(line: str) -> None:
        if reporter is None or capture is None:
            return
        with capture.global_and_fixture_disabled():
            reporter.ensure_newline()
            reporter.write_line(f"[figure] {request.node.name}: {line}")

    return report


_missing_data_skips: list[str] = []
_missing_service_skips: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Remember every test skipped because shared data (see tests/shared_data) or a service
    it drives (see tests/service_support) was missing."""
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2])
        if DATA_MISSING in reason:
            _missing_data_skips.append(f"{report.nodeid}: {reason}")
        if SERVICE_MISSING in reason:
            _missing_service_skips.append(f"{report.nodeid}: {reason}")


def _fail_for_skips(session: pytest.Session, why: str, skips: list[str]) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_line(why, red=True)
        for line in skips:
            reporter.write_line(f"  {line}", red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With FER_DATA_DIR set (as CI sets it), a test skipped for missing data fails the run;
    with CI=true, so does a test skipped for a missing service (Chromium, a local Redis)."""
    if os.environ.get("FER_DATA_DIR") and _missing_data_skips:
        _fail_for_skips(
            session,
            f"FER_DATA_DIR={os.environ['FER_DATA_DIR']} is set, but these tests skipped "
            "for missing data:",
            _missing_data_skips,
        )
    if os.environ.get("CI", "").lower() in ("true", "1") and _missing_service_skips:
        _fail_for_skips(
            session,
            "CI is set, but these tests skipped for a missing service:",
            _missing_service_skips,
        )
