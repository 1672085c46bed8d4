"""Every error is JSON: a wrong method names the allowed ones, an unhandled exception is a 500."""

from fastapi import FastAPI
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.settings import Settings


def test_a_wrong_method_is_a_405_naming_the_allowed_ones(client: TestClient) -> None:
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.json() == {"detail": "Method Not Allowed"}


def test_an_unhandled_exception_is_a_json_500(settings: Settings) -> None:
    app: FastAPI = create_app(settings)

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/broken")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
