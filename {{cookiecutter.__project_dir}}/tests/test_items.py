from datetime import datetime

import pytest
from fastapi.testclient import TestClient


def test_an_item_can_be_created_listed_and_fetched(client: TestClient) -> None:
    created = client.post("/items", json={"name": "first"})
    assert created.status_code == 201
    item = created.json()
    assert item["name"] == "first"

    assert client.get("/items").json() == [item]
    assert client.get(f"/items/{item['id']}").json() == item


def test_timestamps_carry_their_timezone(client: TestClient) -> None:
    created_at = client.post("/items", json={"name": "dated"}).json()["created_at"]
    assert datetime.fromisoformat(created_at).utcoffset() is not None


def test_listing_pages_through_items(client: TestClient) -> None:
    for name in ("a", "b", "c"):
        client.post("/items", json={"name": name})
    page = client.get("/items", params={"limit": 2, "offset": 1}).json()
    assert [item["name"] for item in page] == ["b", "c"]


def test_a_missing_item_is_404(client: TestClient) -> None:
    response = client.get("/items/999")
    assert response.status_code == 404
    assert response.json() == {"detail": "item 999 not found"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/items", {"name": ""}),
        ("POST", "/items", {"name": "x" * 201}),
        ("POST", "/items", {"name": "nul\x00byte"}),  # PostgreSQL text can't hold it
        ("GET", f"/items/{2**31}", None),  # beyond the database's INTEGER
        ("GET", "/items/0", None),
        ("GET", f"/items?offset={2**63}", None),
        ("GET", "/items?limit=101", None),
    ],
)
def test_input_the_database_cannot_hold_is_a_422(
    client: TestClient, method: str, path: str, body: dict[str, str] | None
) -> None:
    response = client.request(method, path, json=body)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_malformed_json_is_a_422_with_a_json_body(client: TestClient) -> None:
    response = client.post(
        "/items", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_a_body_that_is_not_utf8_is_a_documented_400(client: TestClient) -> None:
    response = client.post(
        "/items", content=b'"\xe9"', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "There was an error parsing the body"}
    documented = client.get("/openapi.json").json()["paths"]["/items"]["post"]["responses"]
    assert "400" in documented


def test_a_wrong_method_is_a_405_listing_every_allowed_method(client: TestClient) -> None:
    response = client.request("OPTIONS", "/items")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json() == {"detail": "Method Not Allowed"}
