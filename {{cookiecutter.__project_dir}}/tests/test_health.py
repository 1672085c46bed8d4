import json
import logging

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.observability.logs import configure_logging, request_id


def test_liveness_answers_ok(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readiness_is_ready_when_dependencies_are_usable(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_readiness_is_unavailable_while_a_check_fails(client: TestClient) -> None:
    async def down() -> str:
        return "the queue is down"

    client.app.state.readiness_checks.append(down)  # type: ignore[attr-defined]
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "reason": "the queue is down"}


def test_each_response_carries_a_request_id(client: TestClient) -> None:
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert first != second


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [("abc-123", True), ("not a safe id\n", False)],
)
def test_a_plain_incoming_request_id_is_kept(client: TestClient, sent: str, echoed: bool) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": sent})
    assert (response.headers["X-Request-ID"] == sent) is echoed


def test_log_lines_are_json_with_the_current_request_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info")  # binds the handler to the captured stdout
    token = request_id.set("trace-me")
    try:
        logging.getLogger("test").warning("inside a request")
    finally:
        request_id.reset(token)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("test").exception("outside any request")
    inside, outside = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert inside["request_id"] == "trace-me"
    assert (inside["level"], inside["message"]) == ("warning", "inside a request")
    assert outside["request_id"] is None
    assert "ValueError: boom" in outside["exception"]
