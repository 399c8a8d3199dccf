"""Per-token request rate (API_RATE_LIMIT, e.g. 600/minute); a browser session counts per
user. Counted in Django's cache: per web process unless CACHES points at a shared one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from api.models import ApiToken

if TYPE_CHECKING:  # rest_framework.views imports this module through its settings
    from rest_framework.request import Request
    from rest_framework.views import APIView


class ApiTokenRateThrottle(SimpleRateThrottle):
    scope = "api"

    def get_rate(self) -> str | None:
        # Read on every request, so a changed setting applies without a restart of the class.
        return settings.API_RATE_LIMIT or None

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}
