"""The one way a test skips when a service it drives is missing: Chromium for the browser
tests, a local Redis for the fault and rate-limit tests.

The reason starts with `SERVICE_MISSING`. With CI set to true (CI services set it, and so
does .ci/run) the root conftest fails the run when such a skip happened, as it does for
missing shared data: CI must run these tests, not skip them silently.
"""

from __future__ import annotations

from typing import NoReturn

import pytest

SERVICE_MISSING = "service missing:"


def service_missing(reason: str) -> NoReturn:
    """Skip the test for a missing service (a failure in CI)."""
    pytest.skip(f"{SERVICE_MISSING} {reason}")
