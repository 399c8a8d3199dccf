"""Per-token request rate (API_RATE_LIMIT, e.g. 600/minute); a browser session counts per
user. Counted in Django's cache (fer_site/settings.py: Redis when the broker is Redis), with an
atomic increment per clock window, so every web process counts against the one limit."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings
from redis.exceptions import RedisError
from rest_framework.throttling import SimpleRateThrottle

from api.models import ApiToken

if TYPE_CHECKING:  # rest_framework.views imports this module through its settings
    from rest_framework.request import Request
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)


class ApiTokenRateThrottle(SimpleRateThrottle):
    """At most `num_requests` in each window of `duration` seconds of the clock (a fixed
    window: one INCR, atomic across processes, where DRF's list of times was read and
    written back by each process, so concurrent processes lost each other's requests)."""

    scope = "api"

    def get_rate(self) -> str | None:
        # Read on every request, so a changed setting applies without a restart of the class.
        return settings.API_RATE_LIMIT or None

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if isinstance(request.auth, ApiToken):
            # The prefix too: ids start again in another database on a shared Redis.
            ident = f"token-{request.auth.pk}-{request.auth.prefix}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request: Request, view: APIView) -> bool:
        limit, duration = self.parse_rate(self.rate)
        key = self.get_cache_key(request, view)
        if limit is None or duration is None or key is None:
            return True
        self.now = self.timer()
        window = int(self.now // duration)
        self.window_end = float((window + 1) * duration)
        counter = f"{key}:{window}"
        try:
            self.cache.add(counter, 0, timeout=duration + 1)
            try:
                count = self.cache.incr(counter)
            except ValueError:  # expired between the two calls
                self.cache.add(counter, 1, timeout=duration + 1)
                count = 1
        except (RedisError, OSError) as exc:
            # The API stays up while the cache is down; it is only not counted meanwhile.
            logger.warning("API request not counted, the cache failed: %s", exc)
            return True
        return bool(count <= limit)

    def wait(self) -> float:
        return max(1.0, self.window_end - self.now)
