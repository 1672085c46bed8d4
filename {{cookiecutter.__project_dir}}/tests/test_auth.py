"""Access tokens: who gets in, who is refused and how it is said (RFC 6750), and what the OpenAPI
document declares. The tokens come from the tests' local provider (tests/auth_fixtures.py); the
forged ones are made here, each the way an attacker would."""

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI, Security
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from {{ cookiecutter.package_name }} import cli
from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.auth.dependency import authorization_responses, authorized
from {{ cookiecutter.package_name }}.auth.settings import AuthSettings
from {{ cookiecutter.package_name }}.observability.logs import configure_logging
from {{ cookiecutter.package_name }}.settings import Settings
from scripts.dev_issuer import Issuer, new_key
from tests.auth_fixtures import AUDIENCE
from tests.part_settings import app_with

# A route of this test's own (every bake has it, with or without the example resource).
SCOPED = "/reports"
SCOPES = ["reports:read", "reports:list"]


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    app = create_app(settings)

    @app.get(
        SCOPED,
        responses=authorization_responses,
        dependencies=[Security(authorized, scopes=SCOPES)],
    )
    async def reports() -> list[str]:
        return []

    return app


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, headers={}) as client:
        yield client


@pytest.fixture(scope="module")
def attacker() -> Iterator[Issuer]:
    """Another provider, with keys of its own, on another port (only minting: shared)."""
    with Issuer(AUDIENCE) as attacker:
        yield attacker


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(issuer: Issuer, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": issuer.url, "aud": AUDIENCE, "sub": "mallory", "iat": now, "exp": now + 300}
    return base | changes


def unsigned(issuer: Issuer) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": issuer.keys[0].kid}
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims_of(issuer)).encode())}."


def hs256_with_the_public_key(issuer: Issuer) -> str:
    """Algorithm confusion: HMAC "signed" with the provider's public key, which anyone can fetch."""
    secret = (
        issuer.keys[0]
        .private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": issuer.keys[0].kid}
    signing_input = (
        f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims_of(issuer)).encode())}"
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def as_published_key(issuer: Issuer, attacker: Issuer) -> str:
    """Signed with the attacker's key, claiming the id of a key the provider publishes."""
    return attacker.mint(iss=issuer.url, key=attacker.keys[0], headers={"kid": issuer.keys[0].kid})


FORGED: dict[str, Callable[[Issuer, Issuer], str]] = {
    "not a JWT": lambda issuer, _: "not-a-token",
    "three garbage segments": lambda issuer, _: "abc.def.ghi",
    "expired": lambda issuer, _: issuer.mint(exp=int(time.time()) - 120),
    "not yet valid": lambda issuer, _: issuer.mint(nbf=int(time.time()) + 120),
    "issued in the future": lambda issuer, _: issuer.mint(iat=int(time.time()) + 120),
    "no expiry": lambda issuer, _: issuer.mint(exp=None),
    "no subject": lambda issuer, _: issuer.mint(sub=None),
    "another issuer": lambda issuer, _: issuer.mint(iss="https://login.example.com"),
    "an issuer starting with ours": lambda issuer, _: issuer.mint(iss=issuer.url + ".evil.example"),
    "an issuer ours contains": lambda issuer, _: issuer.mint(iss=issuer.url[:-1]),
    "another audience": lambda issuer, _: issuer.mint(aud="another-service"),
    "no audience": lambda issuer, _: issuer.mint(aud=None),
    "alg none": lambda issuer, _: unsigned(issuer),
    "HS256 keyed with the public key": lambda issuer, _: hs256_with_the_public_key(issuer),
    "an algorithm not accepted (RS512)": lambda issuer, _: issuer.mint(headers={"alg": "RS512"}),
    "a key the provider doesn't publish": lambda issuer, _: issuer.mint(key=new_key()),
    "another key under a published kid": as_published_key,
    "no kid": lambda issuer, _: issuer.mint(headers={"kid": None}),
    "an unknown crit extension": lambda issuer, _: issuer.mint(
        headers={"crit": ["exp-reset"], "exp-reset": True}
    ),
    "jku pointing at another key set": lambda issuer, attacker: attacker.mint(
        iss=issuer.url, headers={"jku": attacker.url + "/jwks"}
    ),
    "an embedded jwk": lambda issuer, attacker: attacker.mint(
        iss=issuer.url, headers={"jwk": attacker.keys[0].jwk(), "kid": issuer.keys[0].kid}
    ),
    "an ID token's type": lambda issuer, _: issuer.mint(headers={"typ": "id_token+jwt"}),
}


def test_without_a_token_the_answer_is_401_with_a_bearer_challenge(anonymous: TestClient) -> None:
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}):
        response = anonymous.get("/me", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json()["detail"].startswith("not authenticated")


@pytest.mark.parametrize("forge", FORGED.values(), ids=FORGED.keys())
def test_a_forged_or_unfit_token_is_refused_as_invalid(
    anonymous: TestClient,
    issuer: Issuer,
    attacker: Issuer,
    forge: Callable[[Issuer, Issuer], str],
) -> None:
    response = anonymous.get("/me", headers=bearer(forge(issuer, attacker)))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.json()["detail"]


def test_a_valid_token_names_its_caller(anonymous: TestClient, issuer: Issuer) -> None:
    token = issuer.mint(["b", "a"], sub="alice", client_id="reporting")
    response = anonymous.get("/me", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {"subject": "alice", "client_id": "reporting", "scopes": ["a", "b"]}
    # Keycloak, Google and Entra ID name the client in `azp`.
    token = issuer.mint(client_id=None, azp="dashboard")
    assert anonymous.get("/me", headers=bearer(token)).json()["client_id"] == "dashboard"


ACCEPTED: dict[str, Callable[[], dict[str, Any]]] = {
    "no typ": lambda: {"headers": {"typ": None}},  # many providers set none
    "typ JWT": lambda: {"headers": {"typ": "JWT"}},
    "audience in a list": lambda: {"aud": ["another-service", AUDIENCE]},
    "expired within the leeway": lambda: {"exp": int(time.time()) - 5},  # clocks differ a little
    "an EC key": lambda: {"key": new_key("ES256")},
}


@pytest.mark.parametrize("changes", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_tokens_as_providers_issue_them_are_accepted(
    settings: Settings, changes: Callable[[], dict[str, Any]]
) -> None:
    with Issuer(AUDIENCE) as issuer:
        minted = changes()
        if "key" in minted:
            issuer.keys.append(minted["key"])  # published beside the RSA key
        app = app_with(settings, AUTH_ISSUER=issuer.url)
        with TestClient(app, headers={}) as client:
            response = client.get("/me", headers=bearer(issuer.mint(**minted)))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "granted",
    [
        {"scope": "reports:read reports:list other"},  # RFC 9068, Keycloak, Auth0
        {"scope": None, "scp": ["reports:list", "reports:read"]},  # Okta
        {"scope": None, "scp": "reports:read reports:list"},  # Entra ID
    ],
    ids=["scope", "scp list", "scp string"],
)
def test_scopes_are_read_from_scope_or_scp(
    anonymous: TestClient, issuer: Issuer, granted: dict[str, Any]
) -> None:
    response = anonymous.get(SCOPED, headers=bearer(issuer.mint(**granted)))
    assert response.status_code == 200


def test_a_missing_scope_is_403_naming_the_scopes_required(
    anonymous: TestClient, issuer: Issuer
) -> None:
    response = anonymous.get(SCOPED, headers=bearer(issuer.mint(["reports:read"])))
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_scope", scope="reports:read reports:list"'
    )
    assert response.json() == {"detail": "the token lacks the scope reports:list"}


def test_probes_and_metrics_need_no_token(client: TestClient) -> None:
    del client.headers["Authorization"]
    for path in ("/healthz", "/readyz", "/metrics"):
        assert client.get(path).status_code == 200, path
    assert client.get("/me").status_code == 401


def test_the_openapi_document_declares_the_scheme_and_every_refusal(anonymous: TestClient) -> None:
    document = anonymous.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An access token from the OpenID Connect provider (README: Authentication)",
    }
    operations = {
        (method, path): operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }
    unprotected = {("get", "/healthz"), ("get", "/readyz")}
    assert unprotected <= operations.keys()
    for key, operation in operations.items():
        if key in unprotected:
            assert "security" not in operation
            continue
        ((scheme, scopes),) = operation["security"][0].items()
        assert scheme == "HTTPBearer", key
        assert {"401", "503"} <= operation["responses"].keys(), key
        assert ("403" in operation["responses"]) is bool(scopes), key
    assert operations[("get", SCOPED)]["security"] == [{"HTTPBearer": SCOPES}]


def test_the_request_line_names_the_caller_never_the_token(
    anonymous: TestClient, issuer: Issuer, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("info")  # binds the handler to the captured stdout
    token = issuer.mint(sub="alice", client_id="reporting")
    anonymous.get("/me", headers=bearer(token))
    output = capsys.readouterr().out
    (line,) = [json.loads(line) for line in output.splitlines() if '"route": "/me"' in line]
    assert (line["caller"], line["client_id"], line["status"]) == ("alice", "reporting", 200)
    assert token.split(".")[2] not in output


def test_the_span_names_the_caller(settings: Settings, issuer: Issuer) -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    with TestClient(create_app(settings, tracer_provider=provider), headers={}) as client:
        client.get("/me", headers=bearer(issuer.mint(sub="alice", client_id="reporting")))
    (server,) = [span for span in spans.get_finished_spans() if span.kind is SpanKind.SERVER]
    assert server.attributes is not None
    assert (server.attributes["caller"], server.attributes["client_id"]) == ("alice", "reporting")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("AUTH_ALGORITHMS", '["RS256", "HS256"]', "HS256 not accepted"),
        ("AUTH_ALGORITHMS", '["none"]', "none not accepted"),
        ("AUTH_ISSUER", "http://login.example.com", "must be https"),
        ("AUTH_ISSUER", "login.example.com", "absolute URL"),
    ],
)
def test_settings_refuse_what_would_accept_forged_tokens(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=message):
        AuthSettings()


@pytest.mark.parametrize("issuer_url", ["http://127.0.0.1:9400", "http://[::1]:9400/realms/x"])
def test_http_is_accepted_for_a_loopback_issuer_only(
    monkeypatch: pytest.MonkeyPatch, issuer_url: str
) -> None:
    monkeypatch.setenv("AUTH_ISSUER", issuer_url)
    assert AuthSettings().auth_issuer == issuer_url


@pytest.mark.parametrize("variable", ["AUTH_ISSUER", "AUTH_AUDIENCE"])
def test_serve_refuses_to_start_without_an_issuer_or_audience(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str
) -> None:
    monkeypatch.delenv(variable)
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve"])
    assert exited.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: {variable} is not set: expected ")
