"""What views need to know of a request: its user's type, and whether it wants JSON."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest


class AuthenticatedHttpRequest(HttpRequest):
    """The request of a view behind `login_required`: its user is a real account."""

    user: User


def wants_json(request: HttpRequest) -> bool:
    """The client (the pages' scripts, an integration) asked for JSON, errors included."""
    return "application/json" in request.headers.get("Accept", "")


def client_ip(request: HttpRequest) -> str | None:
    """The client's address for login throttling: the connection's own, or with
    TRUSTED_PROXY_COUNT proxies in front, the address the outermost of them saw (the
    X-Forwarded-For entry that many places from the right; entries further left are the
    client's own claims and are not trusted)."""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if proxies > 0 and len(forwarded) >= proxies:
        return forwarded[-proxies]
    address = request.META.get("REMOTE_ADDR")
    return str(address) if address else None
