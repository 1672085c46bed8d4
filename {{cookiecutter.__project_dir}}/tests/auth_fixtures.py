"""The tests' OpenID provider, and a token for every test client (a pytest plugin: conftest.py).

The provider is scripts/dev_issuer.py on 127.0.0.1, its keys made when the tests start: the
service checks its tokens as it would a real provider's, through the same settings and code. The
tests of the other parts call protected routes as a client granted every scope would: each
TestClient, and schemathesis (tests/test_api.py), sends such a token unless given headers of its
own. tests/test_auth*.py check tokens themselves.
"""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient

from scripts.dev_issuer import Issuer

AUDIENCE = "test-audience"
ALL_SCOPES = ("items:read", "items:write")


@pytest.fixture(scope="session")
def issuer() -> Iterator[Issuer]:
    """Shared by every test: never rotated or stopped (tests that do start their own)."""
    with Issuer(AUDIENCE) as issuer:
        yield issuer


@pytest.fixture(scope="session", autouse=True)
def auth_environment(issuer: Issuer) -> Iterator[None]:
    """AUTH_ISSUER and AUTH_AUDIENCE in the environment for the whole session: Settings() reads
    them, and so does a server a test starts before any test's own fixtures (test_limits.py)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTH_ISSUER", issuer.url)
        patch.setenv("AUTH_AUDIENCE", AUDIENCE)
        yield


@schemathesis.auth(refresh_interval=None, retry_on=[])
class BearerToken:
    token = ""

    def get(self, case: schemathesis.Case, context: Any) -> str:
        return self.token

    def set(self, case: schemathesis.Case, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture(autouse=True)
def authorized_clients(issuer: Issuer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A token with every scope in every TestClient's default headers; returns the token."""
    token = issuer.mint(ALL_SCOPES, lifetime=3600)
    init = TestClient.__init__

    def with_token(self: TestClient, *args: Any, headers: Any = None, **kwargs: Any) -> None:
        default = {"Authorization": f"Bearer {token}"}
        init(self, *args, headers=default if headers is None else headers, **kwargs)

    monkeypatch.setattr(TestClient, "__init__", with_token)
    monkeypatch.setattr(BearerToken, "token", token)
    return token
