"""Property-based tests of the whole API from its own OpenAPI document (schemathesis): for
generated valid and invalid input, no 5xx, and every response matches the documented schema.
A new endpoint is covered as soon as it is in the document."""

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings


def test_every_operation_keeps_its_documented_contract(client: TestClient) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    for operation in schema.get_all_operations():

        @given(case=operation.ok().as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def keeps_its_contract(case: schemathesis.Case) -> None:
            case.call_and_validate()

        keeps_its_contract()
