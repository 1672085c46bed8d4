"""The built default image's docs page (/docs, Swagger UI) in a real browser that reaches
nothing but 127.0.0.1, as on an air-gapped network: Debian's Chromium, headless, every other
host unresolvable and no proxy. FastAPI's own page, whose files come from a CDN, renders no
operation there; this one renders every operation of the OpenAPI document, asks only the service
for anything, breaks no rule of its Content-Security-Policy, and "Try it out" calls the service;
with auth=oidc, the Authorize dialog takes a token and the call it refused then succeeds.

Playwright drives the browser (`executable_path`: Debian's Chromium; Playwright's own browser
download is never used): its locators wait for what Swagger UI renders, and it reports every
request the page makes and every console message (a CSP violation is one). Screenshots go to
test-artifacts/docs_browser/ in the checkout (ignored by git).
"""

import json
import os
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Error, Locator, Page, expect, sync_playwright

from harness.commands import TEMPLATE
from harness.docker import (
    Container,
    Image,
    container_starter,
    migrated_database,
    wait_for_healthz,
    wait_for_readyz,
)
from tests.params import image_keys_with, image_params

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",  # as root, in a container or CI runner without user namespaces
    "--disable-gpu",
    "--no-first-run",
    # No update checks, component downloads or sync: the browser asks nothing of its own.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Every host name fails to resolve but loopback, and no proxy resolves names instead.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--no-proxy-server",
]
ARTIFACTS = TEMPLATE / "test-artifacts" / "docs_browser"
CDN_FILE = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"  # FastAPI's default
HEALTHZ = "#operations-health-healthz_healthz_get"  # Swagger UI's id of GET /healthz
ME = "#operations-auth-me_me_get"  # of GET /me (auth=oidc)
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

# The default combination (PostgreSQL).
pytestmark = [
    pytest.mark.docker,
    pytest.mark.parametrize(
        "image", image_params(image_keys_with("postgresql")[:1]), indirect=True
    ),
]


@dataclass
class Browsing:
    """A page in a fresh browser, and what it did: every URL it requested, every request that
    failed, every console message (CSP violations are errors there)."""

    page: Page
    requested: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("request", lambda request: self.requested.append(request.url))
        self.page.on("requestfailed", lambda request: self.failed.append(request.url))
        self.page.on("console", lambda message: self.console.append(message.text))


@pytest.fixture(scope="module")
def served(image: Image, new_database: Callable[[], str]) -> Iterator[Container]:
    """The image on a migrated database, with its default settings (limits included)."""
    options = migrated_database(image, new_database(), None)
    start, remove_all = container_starter()
    container = start(image, **options)
    assert wait_for_healthz(container) is not None, container.logs()
    assert wait_for_readyz(container) == 200, container.logs()  # auth=oidc: the issuer's keys
    yield container
    remove_all()


@pytest.fixture
def browsing(tmp_path: Path) -> Iterator[Browsing]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: apt-get install chromium, or set CHROMIUM to its path",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tmp_path / "profile", executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield Browsing(context.new_page())
        context.close()


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / name, full_page=True)


def documented_operations(container: Container) -> int:
    with urllib.request.urlopen(container.url + "/openapi.json", timeout=5) as response:
        paths = json.load(response)["paths"]
    return sum(1 for item in paths.values() for method in item if method in HTTP_METHODS)


def test_this_browser_reaches_the_service_and_no_other_host(
    served: Container, browsing: Browsing
) -> None:
    """The premise: what FastAPI's own docs page loads can't be had here."""
    response = browsing.page.goto(served.url + "/healthz")
    assert response is not None and response.status == 200
    with pytest.raises(Error, match="ERR_NAME_NOT_RESOLVED"):
        browsing.page.goto(CDN_FILE)


def test_the_docs_page_renders_every_operation_from_the_service_alone(
    served: Container, browsing: Browsing
) -> None:
    page = browsing.page
    page.goto(served.url + "/docs")
    operations = documented_operations(served)
    expect(page.locator(".opblock")).to_have_count(operations)
    page.wait_for_load_state("networkidle")
    screenshot(page, "docs.png")
    assert operations >= 5  # the probes and the example resource's three
    assert all(url.startswith(served.url + "/") for url in browsing.requested), browsing.requested
    assert {"/docs/static/swagger-ui-bundle.js", "/openapi.json"} <= {
        url.removeprefix(served.url) for url in browsing.requested
    }
    assert browsing.failed == []
    assert browsing.console == []  # no script error, no Content-Security-Policy violation
    # The policy is enforced, and its violations reach the console: a script the page didn't
    # bring is refused.
    with pytest.raises(Error, match="Content Security Policy"):
        page.add_script_tag(content="window.injected = true")
    assert any("Content Security Policy" in message for message in browsing.console)


def try_it_out(page: Page, operation_id: str) -> Locator:
    """Expands an operation, clicks "Try it out" and "Execute"; returns the operation."""
    operation = page.locator(operation_id)
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    return operation


def answered(operation: Locator) -> Locator:
    """The status of the answer Swagger UI shows under an executed operation."""
    return operation.locator(".live-responses-table tbody .response-col_status")


def test_try_it_out_on_healthz_shows_the_services_answer(
    served: Container, browsing: Browsing
) -> None:
    page = browsing.page
    page.goto(served.url + "/docs")
    operation = try_it_out(page, HEALTHZ)
    expect(answered(operation)).to_have_text("200")
    expect(operation.locator(".live-responses-table tbody")).to_contain_text('"status": "ok"')
    screenshot(page, "docs-try-it-out.png")
    assert browsing.failed == []
    assert browsing.console == []


def test_authorize_takes_a_token_and_the_authorized_call_succeeds(
    served: Container, browsing: Browsing
) -> None:
    """auth=oidc: GET /me is refused without a token; the Authorize dialog takes one (the
    bearer scheme the service declares) and the same call then answers 200 with its subject."""
    page = browsing.page
    page.goto(served.url + "/docs")
    operation = try_it_out(page, ME)
    expect(answered(operation)).to_have_text("401")
    page.locator(".auth-wrapper").get_by_role("button", name="Authorize").click()
    dialog = page.locator(".dialog-ux")
    dialog.locator("input").fill(served.headers["Authorization"].removeprefix("Bearer "))
    dialog.get_by_role("button", name="Apply credentials").click()
    expect(dialog).to_contain_text("Authorized")
    dialog.get_by_role("button", name="Close", exact=True).click()
    operation.get_by_role("button", name="Execute").click()
    expect(answered(operation)).to_have_text("200")
    expect(operation.locator(".live-responses-table tbody")).to_contain_text('"subject"')
    screenshot(page, "docs-authorized.png")
    assert browsing.failed == []
    # The browser's note of the refused call, and nothing else.
    assert browsing.console == [
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    ]
