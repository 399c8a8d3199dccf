"""Liveness of the three things the product needs: database, broker, an active model."""

from __future__ import annotations

import hmac
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection
from django.http import HttpRequest
from kombu import Connection

from campaigns.storage import STORE_ERRORS, STORE_UNREACHABLE
from inference.selectors import model_version_active

BROKER_TIMEOUT_S = 2


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


def database_check() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return Check(False, f"{connection.vendor}: {exc}")
    return Check(True, connection.vendor)


def broker_check() -> Check:
    """Open a real connection (and channel) to the configured broker, with a short timeout."""
    url = settings.CELERY_BROKER_URL
    conn = Connection(
        url,
        connect_timeout=BROKER_TIMEOUT_S,
        transport_options={
            **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
            "socket_timeout": BROKER_TIMEOUT_S,
            "socket_connect_timeout": BROKER_TIMEOUT_S,
        },
    )
    try:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_S)
        conn.default_channel  # noqa: B018 - opening a channel is what proves the broker works
    except Exception as exc:  # kombu and its transports raise many types
        return Check(False, f"{conn.as_uri()}: {exc}")
    finally:
        conn.release()
    if conn.transport_cls == "filesystem":
        # The file-system transport "connects" to anything; what matters is its folder.
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in", "."))
        if not (folder.is_dir() and os.access(folder, os.W_OK)):
            return Check(False, f"file-system broker folder {folder} is missing or read-only")
        return Check(True, f"file-system broker at {folder}")
    return Check(True, conn.as_uri())


def model_check() -> Check:
    try:
        model_version = model_version_active()
    except DatabaseError as exc:
        return Check(False, f"cannot read model versions: {exc}")
    if model_version is None:
        return Check(
            False, "no active model version: run `manage.py register_model DIR --activate`"
        )
    unreachable: tuple[type[Exception], ...] = (OSError, *STORE_ERRORS)
    try:
        present = default_storage.exists(model_version.artifact + "model.json")
    except unreachable as exc:
        return Check(False, f"{STORE_UNREACHABLE}: {type(exc).__name__}")
    if not present:
        return Check(False, f"{model_version} has no model.json at {model_version.artifact}")
    return Check(True, f"{model_version.name} {model_version.version}")


def health_details_allowed(request: HttpRequest) -> bool:
    """Staff, or a request bearing HEALTHZ_TOKEN (Authorization: Bearer, or ?token=)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_active and user.is_staff:
        return True
    token = settings.HEALTHZ_TOKEN
    if not token:
        return False
    offered = request.GET.get("token", "")
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith("Bearer "):
        offered = authorization.removeprefix("Bearer ").strip()
    return hmac.compare_digest(offered.encode(), token.encode())


def health_report() -> tuple[bool, dict[str, dict[str, object]]]:
    checks = {"database": database_check(), "broker": broker_check(), "model": model_check()}
    return all(c.ok for c in checks.values()), {k: asdict(c) for k, c in checks.items()}
