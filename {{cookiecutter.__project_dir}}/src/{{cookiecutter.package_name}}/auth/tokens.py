"""Access tokens checked (PyJWT): who is calling, or why the token is refused.

What each check prevents:
- the algorithm comes from AUTH_ALGORITHMS, never from the token's say-so, and the key from the
  issuer's set by `kid` only, of that algorithm's family: no `alg: none`, no HS256 token
  "signed" with the provider's public key as its secret (algorithm confusion);
- `jku`, `x5u` and an embedded `jwk` in the header are ignored: a token can't name the key that
  verifies it;
- `crit` extensions PyJWT doesn't implement are refused (RFC 7515 4.1.11; PyJWT >= 2.12);
- `iss` equal to AUTH_ISSUER, compared whole (PyJWT >= 2.10.1: before, a substring passed);
- `aud` must name AUTH_AUDIENCE: a token for another service is refused;
- `exp` required, `nbf` and `iat` checked, each with AUTH_LEEWAY seconds of clock difference;
- `typ`, when present, `at+jwt` (RFC 9068) or `JWT` (many providers set no `typ` at all): an ID
  token or a logout token typed as such is not an access token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt

from {{ cookiecutter.package_name }}.auth.keys import SigningKeys

ACCEPTED_TYPES = {"jwt", "at+jwt", "application/at+jwt"}
REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub"]


class TokenRefusedError(Exception):
    """The token is refused (401); the message says why, without the token."""


@dataclass(frozen=True)
class Caller:
    subject: str  # `sub`: the user, or the client acting for itself
    client_id: str | None  # the application the token was issued to: `client_id`, else `azp`
    scopes: frozenset[str]


@dataclass(frozen=True)
class TokenRules:
    """What a token must be, from the settings, and the keys to check its signature with."""

    issuer: str
    audience: str
    algorithms: list[str]
    leeway: float
    keys: SigningKeys


def granted_scopes(claims: dict[str, Any]) -> frozenset[str]:
    """`scope` (RFC 9068: space-separated) or `scp` (Entra ID, Okta: a list, or a string)."""
    scopes: set[str] = set()
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            scopes.update(value.split())
        elif isinstance(value, list):
            scopes.update(scope for scope in value if isinstance(scope, str))
    return frozenset(scopes)


def caller_of(claims: dict[str, Any]) -> Caller:
    client_id = claims.get("client_id", claims.get("azp"))
    return Caller(
        subject=str(claims["sub"]),
        client_id=client_id if isinstance(client_id, str) else None,
        scopes=granted_scopes(claims),
    )


async def check(token: str, rules: TokenRules) -> Caller:
    """The caller the token names, or TokenRefusedError. ProviderUnavailableError when no keys
    were ever fetched (then nothing can be checked)."""
    try:
        header = jwt.get_unverified_header(token)  # refuses unknown `crit` extensions
    except jwt.PyJWTError as error:
        raise TokenRefusedError(f"malformed token: {error}") from None
    algorithm, kid = header.get("alg"), header.get("kid")
    if algorithm not in rules.algorithms:
        raise TokenRefusedError("token algorithm not accepted")
    if str(header.get("typ", "jwt")).lower() not in ACCEPTED_TYPES:
        raise TokenRefusedError("not an access token (typ)")
    if not isinstance(kid, str):
        raise TokenRefusedError("token names no signing key (kid)")
    key = await rules.keys.key(kid, algorithm)
    if key is None:
        raise TokenRefusedError("token signed by a key the issuer doesn't publish")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=rules.audience,
            issuer=rules.issuer,
            leeway=rules.leeway,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError:
        raise TokenRefusedError("token expired") from None
    except jwt.PyJWTError as error:
        raise TokenRefusedError(f"token refused: {error}") from None
    return caller_of(claims)
