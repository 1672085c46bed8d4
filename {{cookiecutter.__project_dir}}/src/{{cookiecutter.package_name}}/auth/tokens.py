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

A client sends the same token with every request until it expires, and checking its signature
costs more than the rest of most requests: a token found valid is remembered (by its whole text,
so a token changed in any byte is checked in full) and taken as valid again while it hasn't
expired and the key that verified it is still the one the key set holds. A refreshed set (every
AUTH_KEYS_MAX_AGE seconds) has keys of its own, so each token is checked in full once more; a
key the provider removed refuses its tokens from then on. Refused tokens are never remembered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import jwt

from {{ cookiecutter.package_name }}.auth.keys import SigningKeys

ACCEPTED_TYPES = {"jwt", "at+jwt", "application/at+jwt"}
REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub"]
# Valid tokens remembered at most, the oldest forgotten first: a few MiB at most per process.
TOKENS_REMEMBERED = 4096


class TokenRefusedError(Exception):
    """The token is refused (401); the message says why, without the token."""


@dataclass(frozen=True)
class Caller:
    subject: str  # `sub`: the user, or the client acting for itself
    client_id: str | None  # the application the token was issued to: `client_id`, else `azp`
    scopes: frozenset[str]


@dataclass(frozen=True)
class ValidToken:
    """A token found valid: who it names, and what its validity still depends on."""

    caller: Caller
    key: jwt.PyJWK  # the key that verified it, as the key set held it then
    kid: str
    algorithm: str
    expires: float  # `exp`


@dataclass(frozen=True)
class TokenRules:
    """What a token must be, from the settings, the keys to check its signature with, and the
    tokens found valid, by their text."""

    issuer: str
    audience: str
    algorithms: list[str]
    leeway: float
    keys: SigningKeys
    valid: dict[str, ValidToken] = field(default_factory=dict, compare=False)

    def still_valid(self, token: str) -> Caller | None:
        """The caller of a token found valid before, unless it has expired since or its key is
        no longer the key set's: then None, and it is checked in full again."""
        found = self.valid.pop(token, None)
        if found is None or time.time() > found.expires + self.leeway:
            return None
        if self.keys.current(found.kid, found.algorithm) is not found.key:
            return None
        self.valid[token] = found  # popped and put back: the newest, forgotten last
        return found.caller

    def remember(self, token: str, found: ValidToken) -> None:
        if len(self.valid) >= TOKENS_REMEMBERED:
            del self.valid[next(iter(self.valid))]  # the oldest
        self.valid[token] = found


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
    remembered = rules.still_valid(token)
    if remembered is not None:
        return remembered
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
    caller = caller_of(claims)
    rules.remember(token, ValidToken(caller, key, kid, algorithm, float(claims["exp"])))
    return caller
