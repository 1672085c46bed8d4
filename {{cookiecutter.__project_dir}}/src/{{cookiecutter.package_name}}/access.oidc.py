"""Who may call a route: a caller whose access token grants every scope the route names.

A route names its scopes in its decorator, `dependencies=requires("reports:read")`, and its router
adds `access_responses` to its `responses=`, so the 401, 403 and 503 are documented too. The
token is checked by auth/dependency.py (README: Authentication). A route that needs to know the
caller takes `caller: Annotated[Caller, Security(authorized, scopes=[...])]` instead.
"""

from typing import Any

from fastapi import Security

from {{ cookiecutter.package_name }}.auth.dependency import authorization_responses, authorized

access_responses = authorization_responses


def requires(*scopes: str) -> list[Any]:
    """A route's dependencies: a valid token granting every one of `scopes`."""
    return [Security(authorized, scopes=list(scopes))]
