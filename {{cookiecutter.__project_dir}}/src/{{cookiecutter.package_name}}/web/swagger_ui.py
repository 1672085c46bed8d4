"""The API's documentation page, /docs (Swagger UI), served by the service itself.

FastAPI's own page loads Swagger UI from a public CDN: where that is unreachable (an air-gapped
network) or forbidden (a strict Content-Security-Policy) it stays blank. Here the page's script,
stylesheet and icon are the fastapi-offline package's copies, served under /docs/static, as
FastAPI's "Custom Docs UI Static Assets (Self-Hosting)" describes, and the pages carry a
Content-Security-Policy that lets them load nothing from anywhere else.

There is no /redoc: Swagger UI documents and tries the API, and ReDoc would need inline styles
and a logo from Redocly's CDN. DOCS_ENABLED=false leaves the pages and their files out;
/openapi.json stays, as it is the API's contract for its clients and their tools.
"""

import base64
import hashlib
import re

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from {{ cookiecutter.package_name }}.settings import Settings

DOCS_URL = "/docs"
# Where an OAuth2 authorization server sends the browser back to (FastAPI's default).
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
# swagger-ui-bundle.js, swagger-ui.css and favicon.png, from the package's static directory.
STATIC_URL = "/docs/static"
STATIC_FILES = ("fastapi_offline", "static")
# Swagger UI's own configuration: no badge from its online validator (a request to elsewhere).
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}
INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def add_swagger_ui(app: FastAPI, settings: Settings) -> None:
    """Serve /docs, its OAuth2 redirect page and its files, unless the settings turn them off.
    The app is created with docs_url=None and redoc_url=None (FastAPI's pages use the CDN)."""
    if not settings.docs_enabled:
        return
    app.mount(STATIC_URL, StaticFiles(packages=[STATIC_FILES]), name="docs-static")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        # Behind a proxy that serves the app under a path prefix, the URLs start with it.
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_URL}",
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS | (app.swagger_ui_parameters or {}),
        )
        return with_security_policy(page)

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return with_security_policy(get_swagger_ui_oauth2_redirect_html())


def with_security_policy(page: HTMLResponse) -> HTMLResponse:
    """Add a Content-Security-Policy allowing the page only this origin's files, the data: images
    Swagger UI's stylesheet holds, and the page's own inline scripts, each by its hash."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in INLINE_SCRIPT.findall(bytes(page.body))
    )
    page.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self' {hashes}; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    return page
