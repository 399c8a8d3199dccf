"""Schemathesis hooks for tests/api/test_schema_fuzz.py (loaded through SCHEMATHESIS_HOOKS).

They tell the fuzzer what the schema cannot say: a date range whose end is before its start
is refused (400, a cross-field rule), and the ids of real objects (FUZZ_IDS, JSON), so that
besides random ids (404) the operations also run on rows that exist.
"""

from __future__ import annotations

import json
import os
from typing import Any

import schemathesis
from hypothesis import strategies as st

_IDS: dict[str, list[int]] = json.loads(os.environ.get("FUZZ_IDS", "{}"))
# The collection an operation's {id} names, by the path's first segment after /api/v1/.
_RESOURCE = {
    "campaigns": "campaign",
    "ads": "ad",
    "batches": "batch",
    "model-versions": "model_version",
}


def _ordered(data: Any, first: str, last: str) -> Any:
    """`data` with its `first` and `last` dates swapped when the range runs backwards."""
    if not isinstance(data, dict):
        return data
    low, high = data.get(first), data.get(last)
    if isinstance(low, str) and isinstance(high, str) and high < low:
        return {**data, first: high, last: low}
    return data


@schemathesis.hook
def map_query(context: Any, query: Any) -> Any:
    return _ordered(query, "date_from", "date_to")


@schemathesis.hook
def map_body(context: Any, body: Any) -> Any:
    return _ordered(body, "starts_on", "ends_on")


@schemathesis.hook
def flatmap_path_parameters(context: Any, path_parameters: Any) -> Any:
    path = context.operation.path if context.operation is not None else ""
    parts = path.removeprefix("/api/v1/").split("/")
    real = _IDS.get(_RESOURCE.get(parts[0], ""), [])
    if not isinstance(path_parameters, dict) or not isinstance(path_parameters.get("id"), int):
        return st.just(path_parameters)
    return st.sampled_from([path_parameters] + [{**path_parameters, "id": pk} for pk in real])
