"""OpenAPI schema additions: the errors every operation can answer, and what the API refuses
in the strings and files it reads, in one place."""

from __future__ import annotations

from typing import Any

_ERROR_REF = {"$ref": "#/components/schemas/Error"}

_COMMON: dict[str, tuple[str, dict[str, str]]] = {
    "400": ("Invalid input; `errors` names each field and its reasons.", {}),
    "401": (
        "No token, or an invalid or revoked one (or its user left its team).",
        {"WWW-Authenticate": "How to authenticate: Bearer."},
    ),
    "403": ("A browser session's form post without its CSRF token.", {}),
    "406": ("The Accept header asks for a type this operation does not answer.", {}),
    "429": (
        "Too many requests for this token (API_RATE_LIMIT).",
        {"Retry-After": "Seconds until the next request is accepted."},
    ),
}
_WITH_BODY: dict[str, tuple[str, dict[str, str]]] = {
    "415": ("The body's Content-Type is not one this operation reads.", {}),
}


def _response(description: str, headers: dict[str, str]) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ERROR_REF}},
    }
    if headers:
        response["headers"] = {
            name: {"description": text, "required": True, "schema": {"type": "string"}}
            for name, text in headers.items()
        }
    return response


# PostgreSQL refuses NUL in text, so the API refuses it in every string it reads (400).
NO_NUL = "^[^\\u0000]*$"


def _no_nul(schema: Any) -> None:
    """Say in every string a request may send that it holds no NUL; a string with a pattern
    of its own says so in that pattern (api.serializers, api.filters)."""
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "string" and not schema.keys() & {"format", "enum", "pattern"}:
        schema["pattern"] = NO_NUL
    for key in ("items", "additionalProperties"):
        _no_nul(schema.get(key))
    for child in (schema.get("properties") or {}).values():
        _no_nul(child)


def request_strings(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: what the API refuses in strings and files, said in
    the schema, so that a request the schema calls valid is not refused with a 400 (a NUL in
    any string; an empty archive)."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict):
                for parameter in operation.get("parameters", []):
                    _no_nul(parameter.get("schema"))
    for name, schema in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request"):
            _no_nul(schema)
    archive = (
        result.get("components", {})
        .get("schemas", {})
        .get("ArchiveUploadRequest", {})
        .get("properties", {})
        .get("archive")
    )
    if isinstance(archive, dict):
        archive["minLength"] = 1  # an empty file is refused: "... is empty."
    return result


def error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every API operation documents the errors any
    request can meet (bad input, authentication, throttling, negotiation; 415 with a body,
    404 for a list's bad cursor)."""
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            common = dict(_COMMON)
            if method in ("post", "put", "patch"):
                common |= _WITH_BODY
            if any(p.get("name") == "cursor" for p in operation.get("parameters", [])):
                common["404"] = ("A cursor that this list did not give, or no such object.", {})
            for code, (description, headers) in common.items():
                operation["responses"].setdefault(code, _response(description, headers))
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(
        "Error",
        {
            "type": "object",
            "properties": {"detail": {"type": "string"}},
            "required": ["detail"],
        },
    )
    return result
