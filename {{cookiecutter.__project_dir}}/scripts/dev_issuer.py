#!/usr/bin/env python3
"""A local OpenID provider for `make dev` and the tests: discovery and a key set on 127.0.0.1,
its keys generated when it starts, and tokens signed with them.

It is not part of the package: the image never holds it, and the service accepts its tokens
only when AUTH_ISSUER names it (http is accepted for a loopback issuer alone).

Usage (from the project's root; `make dev` and `make dev-token` run these, with AUTH_ISSUER
http://127.0.0.1:9400 unless set):
  scripts/dev_issuer.py serve COMMAND...   when AUTH_ISSUER is http://127.0.0.1:<port>, start
                                           the issuer there, print a token, run COMMAND with
                                           AUTH_ISSUER and AUTH_AUDIENCE set for it, and stop
                                           with it; otherwise (a real provider) just run COMMAND
  scripts/dev_issuer.py token [SCOPE...]   print a new token from the running issuer
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

HOST = "127.0.0.1"
DEFAULT_PORT = 9400
DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/jwks"
MINT_PATH = "/token"  # this issuer's own: a token for `make dev-token`, no client to register
DEV_TOKEN_LIFETIME = 12 * 3600


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private: Any  # a cryptography private key of the algorithm's type

    def jwk(self) -> dict[str, Any]:
        """The public half, as the key set publishes it."""
        public = jwt.get_algorithm_by_name(self.algorithm).to_jwk(
            self.private.public_key(), as_dict=True
        )
        return public | {"kid": self.kid, "use": "sig", "alg": self.algorithm}


def new_key(algorithm: str = "RS256") -> SigningKey:
    if algorithm.startswith(("RS", "PS")):
        private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    elif algorithm == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        raise ValueError(f"no key type for {algorithm}")
    return SigningKey(kid=uuid.uuid4().hex, algorithm=algorithm, private=private)


class Issuer:
    """Serves discovery and the key set on 127.0.0.1 in a thread until closed. `keys[0]` signs
    new tokens; every key in `keys` is published. `available = False` answers 503 (an outage);
    `jwks_fetches` counts the key sets served."""

    def __init__(self, audience: str, port: int = 0) -> None:
        self.audience = audience
        self.keys = [new_key()]
        self.available = True
        self.jwks_fetches = 0
        self.server = ThreadingHTTPServer((HOST, port), self.handler())
        self.server.daemon_threads = True
        self.url = f"http://{HOST}:{self.server.server_port}"
        serve = partial(self.server.serve_forever, poll_interval=0.05)  # closes as quickly
        threading.Thread(target=serve, name="issuer", daemon=True).start()

    def __enter__(self) -> Issuer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def mint(
        self,
        scopes: Iterable[str] = (),
        *,
        key: SigningKey | None = None,
        headers: dict[str, Any] | None = None,
        lifetime: float = 300,
        **claims: Any,
    ) -> str:
        """A token for the configured audience, signed with `key` (default: the current key);
        `claims` and `headers` add to or replace the usual ones (None leaves one out)."""
        key = key or self.keys[0]
        now = int(time.time())
        payload = {
            "iss": self.url,
            "aud": self.audience,
            "sub": "dev-user",
            "client_id": "dev-client",
            "iat": now,
            "exp": now + int(lifetime),
            "scope": " ".join(scopes),
        } | claims
        payload = {name: value for name, value in payload.items() if value is not None}
        header = {"kid": key.kid, "typ": "at+jwt"} | (headers or {})
        # typ None is PyJWT's own way to leave it out.
        header = {
            name: value for name, value in header.items() if value is not None or name == "typ"
        }
        return jwt.encode(payload, key.private, algorithm=key.algorithm, headers=header)

    def rotate(self, *, keep_old: bool = True) -> SigningKey:
        """A new signing key, published first; the old ones stay published unless not kept."""
        key = new_key(self.keys[0].algorithm)
        self.keys = [key, *self.keys] if keep_old else [key]
        return key

    def handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if not issuer.available:
                    self.answer(503, {"error": "temporarily_unavailable"})
                elif url.path == DISCOVERY_PATH:
                    self.answer(200, {"issuer": issuer.url, "jwks_uri": issuer.url + JWKS_PATH})
                elif url.path == JWKS_PATH:
                    issuer.jwks_fetches += 1
                    self.answer(200, {"keys": [key.jwk() for key in issuer.keys]})
                elif url.path == MINT_PATH:
                    scopes = parse_qs(url.query).get("scope", [""])[0].split()
                    token = issuer.mint(scopes, lifetime=DEV_TOKEN_LIFETIME)
                    self.answer(200, {"access_token": token, "token_type": "Bearer"})
                else:
                    self.answer(404, {"error": "not_found"})

            def answer(self, status: int, document: dict[str, Any]) -> None:
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the service logs what it fetched."""

        return Handler


def local_port() -> int | None:
    """The port of AUTH_ISSUER when it names this issuer's address, else None."""
    url = urlsplit(os.environ.get("AUTH_ISSUER", f"http://{HOST}:{DEFAULT_PORT}"))
    if url.scheme != "http" or url.hostname != HOST or url.path.strip("/"):
        return None
    return url.port or 80


def start_issuer(audience: str, port: int) -> Issuer:
    """On `port`, or any free port when that one is taken (another `make dev`)."""
    try:
        return Issuer(audience, port)
    except OSError:
        issuer = Issuer(audience)
        print(f"dev issuer: port {port} is taken, using {issuer.url}", file=sys.stderr)
        return issuer


def serve(command: list[str]) -> int:
    port = local_port()
    if port is None:  # a real provider, chosen by the developer
        os.execvp(command[0], command)  # noqa: S606
    audience = os.environ.get("AUTH_AUDIENCE") or "dev"
    issuer = start_issuer(audience, port)
    scopes = os.environ.get("DEV_TOKEN_SCOPES", "").split()
    token = issuer.mint(scopes, lifetime=DEV_TOKEN_LIFETIME)
    print(
        f"dev issuer {issuer.url}, audience {audience!r}; a token (scopes: {' '.join(scopes)};"
        f" 12 h; `make dev-token` prints another):\n  TOKEN={token}\n"
        '  curl -H "Authorization: Bearer $TOKEN" ...',
        file=sys.stderr,
        flush=True,
    )
    env = os.environ | {"AUTH_ISSUER": issuer.url, "AUTH_AUDIENCE": audience}
    child = subprocess.Popen(command, env=env)  # noqa: S603
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    try:
        return child.wait()
    except KeyboardInterrupt:  # Ctrl-C reached the child too: let it stop
        return child.wait()
    finally:
        issuer.close()


def print_token(scopes: list[str]) -> int:
    url = f"http://{HOST}:{local_port() or DEFAULT_PORT}{MINT_PATH}"
    try:
        response = httpx.get(url, params={"scope": " ".join(scopes)})
    except httpx.HTTPError:
        print(f"no dev issuer at {url}: start `make dev` first", file=sys.stderr)
        return 1
    print(response.json()["access_token"])
    return 0


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "serve":
        return serve(argv[1:])
    if argv and argv[0] == "token":
        return print_token(argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
