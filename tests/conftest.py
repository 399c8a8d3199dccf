import os

import pytest

# Fixtures of the ingest tests (a registered tiny model, photos with faces, worker processes).
pytest_plugins = ["tests.ingest_support"]


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
