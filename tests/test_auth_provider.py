"""The default image (auth=oidc) against an OpenID Connect provider nobody here wrote:
oauth2-mock-server from npm (pinned with its lock in harness/provider, installed there by
`npm ci`; .ci/run does it), run with Node on 127.0.0.1. Its client-credentials tokens are
accepted and name the client; one without the route's scope is refused; a key rotated at the
provider is followed by the running container; the provider stopping changes nothing for tokens
already issued; before the provider ever answered, the service is not ready and answers 503.

Needs a Docker engine (deselect with -m "not docker"), node and npm (Debian: apt-get install
nodejs npm).
"""

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest

from harness.commands import TEMPLATE, free_port
from harness.docker import (
    Container,
    Image,
    StartContainer,
    http_response,
    migrated_database,
    wait_for_healthz,
    wait_for_readyz,
)
from harness.oidc import AUDIENCE, Issuer
from tests.params import image_keys_with, image_params

PROVIDER = TEMPLATE / "harness" / "provider"
# The default combination.
pytestmark = [
    pytest.mark.docker,
    pytest.mark.parametrize(
        "image", image_params(image_keys_with("postgresql")[:1]), indirect=True
    ),
]


class Provider:
    """harness/provider/provider.js in a process of its own: oauth2-mock-server on a port."""

    def __init__(self, port: int) -> None:
        self.port, self.url = port, f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> str:
        """Starts it; returns the kid of its signing key."""
        node = shutil.which("node")
        if node is None or not (PROVIDER / "node_modules").is_dir():
            pytest.fail(
                f"the test provider needs node and `npm ci --prefix {PROVIDER}` "
                "(Debian: apt-get install nodejs npm; .ci/run does both)",
                pytrace=False,
            )
        self.process = subprocess.Popen(
            [node, "provider.js", str(self.port)], cwd=PROVIDER, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        started = self.said()
        assert started["issuer"] == self.url, started
        return str(started["kid"])

    def said(self) -> dict[str, Any]:
        assert self.process is not None and self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"the provider ended: exit {self.process.wait(timeout=10)}"
        return dict(json.loads(line))

    def token(self, scope: str, client: str = "billing") -> str:
        """A client-credentials grant at its token endpoint (the audience as Auth0 takes it)."""
        form = {"grant_type": "client_credentials", "client_id": client, "scope": scope,
                "aud": AUDIENCE}  # fmt: skip
        request = urllib.request.Request(
            f"{self.url}/token", data=urllib.parse.urlencode(form).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(json.loads(response.read())["access_token"])

    def rotate(self) -> str:
        """A new signing key at the provider; returns its kid."""
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write("rotate\n")
        self.process.stdin.flush()
        return str(self.said()["kid"])

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()  # it stops its server and exits
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def provider() -> Iterator[Provider]:
    """The provider, not started yet (on a port of its own)."""
    stopped = Provider(free_port())
    yield stopped
    stopped.stop()


@pytest.fixture
def service(
    image: Image, start: StartContainer, new_database: Callable[[], str], provider: Provider
) -> Callable[[], Container]:
    """Starts a container of the image trusting the provider, on a migrated database; answering
    /healthz. No refresh cooldown: a token signed with a key the service hasn't seen yet fetches
    the key set at once (the cooldown's own tests are the generated project's)."""
    options = migrated_database(image, new_database(), None)

    def serve() -> Container:
        trust = {"AUTH_ISSUER": provider.url, "AUTH_AUDIENCE": AUDIENCE,
                 "AUTH_KEYS_REFRESH_COOLDOWN": "0"}  # fmt: skip
        container = start(image, environment={**options["environment"], **trust})
        assert wait_for_healthz(container) is not None, container.logs()
        return container

    return serve


def call(container: Container, method: str, path: str, token: str) -> tuple[int, Any, Any]:
    body = {"name": "from the provider's client"} if method == "POST" else None
    headers = {"Authorization": f"Bearer {token}"}
    return http_response(container, method, path, body, headers=headers)


def test_a_client_credentials_token_is_accepted_and_one_without_the_scope_refused(
    provider: Provider, service: Callable[[], Container]
) -> None:
    provider.start()
    container = service()
    assert wait_for_readyz(container) == 200, container.logs()[-3000:]
    reader = provider.token("items:read")
    assert call(container, "GET", "/items", reader)[0] == 200, container.logs()[-3000:]
    status, _, me = call(container, "GET", "/me", reader)
    assert (status, me) == (200, {"subject": "billing", "client_id": "billing",
                                  "scopes": ["items:read"]})  # fmt: skip
    status, headers, _ = call(container, "POST", "/items", reader)
    assert status == 403
    assert 'error="insufficient_scope"' in headers["WWW-Authenticate"]
    assert 'scope="items:write"' in headers["WWW-Authenticate"]
    writer = provider.token("items:write", client="ingest")
    assert call(container, "POST", "/items", writer)[0] == 201
    assert call(container, "GET", "/items", writer)[0] == 403


def test_a_key_rotated_at_the_provider_is_followed_by_the_running_container(
    provider: Provider, service: Callable[[], Container]
) -> None:
    first_kid = provider.start()
    container = service()
    before = provider.token("items:read")
    assert call(container, "GET", "/items", before)[0] == 200, container.logs()[-3000:]
    started = container.attrs()["State"]["StartedAt"]

    new_kid = provider.rotate()
    after = provider.token("items:read")
    assert jwt.get_unverified_header(after)["kid"] == new_kid != first_kid
    assert call(container, "GET", "/items", after)[0] == 200, container.logs()[-3000:]
    assert call(container, "GET", "/items", before)[0] == 200  # the old key is still published
    state = container.attrs()
    assert (state["State"]["StartedAt"], state["RestartCount"]) == (started, 0)


def test_tokens_already_issued_keep_working_while_the_provider_is_down(
    provider: Provider, service: Callable[[], Container], issuer: Issuer
) -> None:
    provider.start()
    container = service()
    token = provider.token("items:read items:write")
    assert call(container, "GET", "/items", token)[0] == 200, container.logs()[-3000:]

    provider.stop()
    assert call(container, "POST", "/items", token)[0] == 201, container.logs()[-3000:]
    assert call(container, "GET", "/items", token)[0] == 200
    # A key it never saw can't be fetched now: that token is refused, the service stays ready
    # with the keys it has, and the tokens they check still pass.
    unknown = issuer.mint(("items:read",), iss=provider.url)
    status, headers, _ = call(container, "GET", "/items", unknown)
    assert (status, headers["WWW-Authenticate"]) == (401, 'Bearer error="invalid_token"')
    assert http_response(container, "GET", "/readyz")[0] == 200
    assert call(container, "GET", "/items", token)[0] == 200


def test_until_the_provider_first_answers_the_service_is_not_ready_and_answers_503(
    provider: Provider, service: Callable[[], Container], issuer: Issuer
) -> None:
    container = service()  # the provider not started yet: no keys
    assert http_response(container, "GET", "/readyz")[0] == 503
    # A well-formed token naming the provider, which the service has no key to check yet.
    status, _, body = call(container, "GET", "/items", issuer.mint(iss=provider.url))
    assert status == 503, (status, body)

    provider.start()
    assert wait_for_readyz(container, timeout=60) == 200, container.logs()[-3000:]
    assert call(container, "GET", "/items", provider.token("items:read"))[0] == 200
    assert container.attrs()["RestartCount"] == 0
