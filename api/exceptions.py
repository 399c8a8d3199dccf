"""Every API error is JSON: `{"detail": "<a plain sentence>", "errors": {...}}` (`errors`
only for invalid fields, each with its reasons)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousOperation, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    """The request is well formed but the data's state refuses it (a name already taken, an
    upload still being analysed, no active model)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the data."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The upload is too large."
    default_code = "too_large"


def invalid(exc: DjangoValidationError) -> exceptions.ValidationError:
    """A service's refusal of the input, as a 400 naming the fields."""
    return exceptions.ValidationError(as_serializer_error(exc))


def _sentence(errors: Any, field: str = "") -> list[str]:
    if isinstance(errors, dict):
        return [line for key, value in errors.items() for line in _sentence(value, str(key))]
    if isinstance(errors, list):
        return [line for value in errors for line in _sentence(value, field)]
    text = str(errors)
    return [text if field in ("", "non_field_errors", "detail") else f"{field}: {text}"]


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, DjangoValidationError):
        exc = invalid(exc)
    elif isinstance(exc, TooManyFilesSent):
        exc = exceptions.ParseError(
            f"More than {settings.DATA_UPLOAD_MAX_NUMBER_FILES:,} files in one upload; put "
            "them in a ZIP archive and upload that instead."
        )
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError(f"The request could not be read: {exc}")
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("API error", exc_info=exc)
        return Response(
            {"detail": "Server error; it has been logged."},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    data = response.data
    if isinstance(data, dict) and set(data) == {"detail"}:
        response.data = {"detail": str(data["detail"])}
    else:
        lines = _sentence(data)
        response.data = {
            "detail": " ".join(lines) or "Invalid input.",
            "errors": data if isinstance(data, dict) else {"non_field_errors": data},
        }
    return response
