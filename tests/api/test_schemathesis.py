"""Property-based requests from the OpenAPI document (schemathesis), as the director, to
the real stack: whatever the input, the API answers without a server error.

Schemathesis's pytest plug-in does not run under pytest 9, so each operation is one
parametrised test driving hypothesis with the operation's own strategy.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from .test_auth import app_document

# The SSE stream never ends by design (tests/api/test_live.py covers it).
ENDLESS = {"/api/live/events"}
OPERATIONS = sorted(
    (method.upper(), path) for path, item in app_document()["paths"].items()
    for method, op in item.items()
    if isinstance(op, dict) and "operationId" in op and path not in ENDLESS)


@pytest.fixture(scope="module")
def api_schema(stack):
    return schemathesis.openapi.from_url(stack.url + "/schema/openapi.json")


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_input_makes_a_server_error(api_schema, token, method, path):
    operation = api_schema[path][method]
    headers = {"Authorization": f"Bearer {token}"}

    @given(case=operation.as_strategy())
    @settings(max_examples=10, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        response = case.call(headers=headers)
        case.validate_response(response, checks=[not_a_server_error], headers=headers)

    check()
