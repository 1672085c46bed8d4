"""The docs page (/docs, Swagger UI) needs nothing but the service: its files come from here, a
Content-Security-Policy forbids anything else, and DOCS_ENABLED=false turns it all off."""

import base64
import hashlib
import re

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.settings import Settings

# Every URL the page names: its files' src and href attributes, the document Swagger UI loads.
PAGE_URLS = re.compile(r"""(?:src|href)="([^"]*)"|url: '([^']*)'""")
INLINE_SCRIPTS = re.compile(r"<script>(.*?)</script>", re.DOTALL)
PAGES = ["/docs", "/docs/oauth2-redirect"]


def urls_on(page: str) -> list[str]:
    return [src or url for src, url in PAGE_URLS.findall(page)]


def test_the_docs_page_names_only_this_services_urls(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    urls = urls_on(response.text)
    assert "/openapi.json" in urls
    assert len(urls) == 4, urls  # the script, the stylesheet, the icon and the document
    assert all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert '"validatorUrl": null' in response.text  # no badge fetched from swagger.io


def test_the_docs_files_are_served(client: TestClient) -> None:
    files = [url for url in urls_on(client.get("/docs").text) if url != "/openapi.json"]
    types = {client.get(url).headers["content-type"].split(";")[0] for url in files}
    assert types == {"text/javascript", "text/css", "image/png"}
    response = client.get(files[0])
    assert response.status_code == 200
    assert len(response.content) > 100_000  # the whole bundle


@pytest.mark.parametrize("path", PAGES)
def test_the_docs_pages_allow_nothing_from_elsewhere(client: TestClient, path: str) -> None:
    response = client.get(path)
    directives = response.headers["content-security-policy"].split(";")
    policy = dict(directive.strip().split(" ", 1) for directive in directives)
    assert policy["default-src"] == "'self'"
    assert policy["img-src"] == "'self' data:"  # Swagger UI's stylesheet holds its icons
    assert policy["frame-ancestors"] == "'none'"
    # Each inline script is allowed by its hash, and only it: no 'unsafe-inline'.
    scripts = INLINE_SCRIPTS.findall(response.text)
    hashes = {
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in scripts
    }
    assert scripts
    assert set(policy["script-src"].split()) == {"'self'", *hashes}


def test_the_docs_follow_a_path_prefix_set_by_a_proxy(settings: Settings) -> None:
    client = TestClient(create_app(settings), root_path="/billing")
    urls = urls_on(client.get("/docs").text)
    assert all(url.startswith("/billing/") for url in urls), urls


def test_docs_disabled_leaves_no_page_and_no_files(settings: Settings) -> None:
    client = TestClient(create_app(settings.model_copy(update={"docs_enabled": False})))
    for path in [*PAGES, "/docs/static/swagger-ui-bundle.js", "/redoc"]:
        assert client.get(path).status_code == 404, path
    # The API's contract stays, for its clients and their tools.
    assert client.get("/openapi.json").status_code == 200
