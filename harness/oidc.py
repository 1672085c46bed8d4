"""A local OpenID Connect issuer for the image tests (auth=oidc): discovery and the key set on
127.0.0.1, RSA keys generated when it starts, access tokens minted with PyJWT. The built images
trust it through AUTH_ISSUER; its keys never leave this process."""

import json
import threading
import time
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

AUDIENCE = "template-tests"
# The example resource's scopes (api/items.py): a token with both may call every route.
EVERY_SCOPE = ("items:read", "items:write")


def uses_oidc(context: Mapping[str, str]) -> bool:
    """Whether a combination's service takes tokens: auth=oidc, the default where it isn't named."""
    return context.get("auth", "oidc") == "oidc"


class Issuer(ThreadingHTTPServer):
    """Serves /.well-known/openid-configuration and /jwks on a free port until `close()` (or the
    end of its `with` block)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), IssuerHandler)
        self.url = f"http://127.0.0.1:{self.server_port}"
        self.keys: list[tuple[str, rsa.RSAPrivateKey]] = []  # the signing key first
        self.rotate()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def rotate(self) -> str:
        """A new signing key, published beside the previous ones (as a provider does while the
        tokens they signed are still valid); returns its kid."""
        kid = uuid.uuid4().hex
        self.keys.insert(0, (kid, rsa.generate_private_key(public_exponent=65537, key_size=2048)))
        return kid

    def environment(self) -> dict[str, str]:
        """What a container of an auth=oidc image needs to trust this issuer."""
        return {"AUTH_ISSUER": self.url, "AUTH_AUDIENCE": AUDIENCE}

    def mint(
        self, scopes: tuple[str, ...] = EVERY_SCOPE, lifetime: float = 3600, **claims: Any
    ) -> str:
        """An access token (RFC 9068) signed with the current key; `claims` add or replace
        claims (None removes one)."""
        now, client = int(time.time()), "template-tests"
        payload = {
            "iss": self.url, "aud": AUDIENCE, "sub": client, "client_id": client,
            "scope": " ".join(scopes), "iat": now, "nbf": now, "exp": now + int(lifetime),
            "jti": uuid.uuid4().hex, **claims,
        }  # fmt: skip
        kid, key = self.keys[0]
        payload = {name: value for name, value in payload.items() if value is not None}
        return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid, "typ": "at+jwt"})

    def authorization(self, scopes: tuple[str, ...] = EVERY_SCOPE) -> dict[str, str]:
        """The header a client sends, with a new token."""
        return {"Authorization": f"Bearer {self.mint(scopes)}"}

    def documents(self) -> dict[str, dict[str, Any]]:
        discovery = {"issuer": self.url, "jwks_uri": f"{self.url}/jwks"}
        keys = [
            {**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid, "alg": "RS256",
             "use": "sig"}
            for kid, key in self.keys
        ]  # fmt: skip
        return {"/.well-known/openid-configuration": discovery, "/jwks": {"keys": keys}}

    def close(self) -> None:
        self.shutdown()
        self.server_close()

    def __exit__(self, *args: object) -> None:
        self.close()


class IssuerHandler(BaseHTTPRequestHandler):
    server: Issuer

    def do_GET(self) -> None:
        document = self.server.documents().get(self.path)
        body = json.dumps(document).encode()
        self.send_response(404 if document is None else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass
