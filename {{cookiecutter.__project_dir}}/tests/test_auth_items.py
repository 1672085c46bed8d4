"""The example resource's scopes: reading needs items:read, creating needs items:write, and a
refused request changes nothing."""

import pytest
from fastapi.testclient import TestClient

from scripts.dev_issuer import Issuer


def as_granted(client: TestClient, issuer: Issuer, *scopes: str) -> TestClient:
    client.headers["Authorization"] = f"Bearer {issuer.mint(scopes)}"
    return client


@pytest.mark.parametrize(
    ("method", "path", "body", "required"),
    [
        ("GET", "/items", None, "items:read"),
        ("GET", "/items/1", None, "items:read"),
        ("POST", "/items", {"name": "x"}, "items:write"),
    ],
)
def test_each_route_needs_its_scope(
    client: TestClient,
    issuer: Issuer,
    method: str,
    path: str,
    body: dict[str, str] | None,
    required: str,
) -> None:
    other = {"items:read", "items:write"} - {required}
    response = as_granted(client, issuer, *other).request(method, path, json=body)
    assert response.status_code == 403
    assert f'scope="{required}"' in response.headers["WWW-Authenticate"]
    del client.headers["Authorization"]
    assert client.request(method, path, json=body).status_code == 401


def test_a_refused_create_stores_nothing(client: TestClient, issuer: Issuer) -> None:
    refused = as_granted(client, issuer, "items:read").post("/items", json={"name": "x"})
    assert refused.status_code == 403
    assert client.get("/items").json() == []
