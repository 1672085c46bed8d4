from fastapi.testclient import TestClient


def test_an_item_can_be_created_listed_and_fetched(client: TestClient) -> None:
    created = client.post("/items", json={"name": "first"})
    assert created.status_code == 201
    item = created.json()
    assert item["name"] == "first"

    assert client.get("/items").json() == [item]
    assert client.get(f"/items/{item['id']}").json() == item


def test_listing_pages_through_items(client: TestClient) -> None:
    for name in ("a", "b", "c"):
        client.post("/items", json={"name": name})
    page = client.get("/items", params={"limit": 2, "offset": 1}).json()
    assert [item["name"] for item in page] == ["b", "c"]


def test_a_missing_item_is_404(client: TestClient) -> None:
    response = client.get("/items/999")
    assert response.status_code == 404
    assert response.json() == {"detail": "item 999 not found"}


def test_an_empty_name_is_rejected(client: TestClient) -> None:
    assert client.post("/items", json={"name": ""}).status_code == 422
