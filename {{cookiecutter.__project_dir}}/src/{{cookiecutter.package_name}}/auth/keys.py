"""The issuer's signing keys: discovered, fetched without blocking, cached, refreshed, kept.

`<issuer>/.well-known/openid-configuration` names the key set (`jwks_uri`); the set is fetched
with an async HTTP client, at start-up and then every AUTH_KEYS_MAX_AGE seconds in the background
(the provider's rotations and removed keys are seen without a restart), and again when a token
names a key id the set lacks (a key the provider just added), at most once per
AUTH_KEYS_REFRESH_COOLDOWN, behind one lock (a thousand requests with made-up key ids cost the
provider at most one fetch). When a fetch fails, the last good set stays in use: an outage of the
provider doesn't become one of this service. Until a first fetch succeeded, /readyz says so and
protected routes answer 503.

Not PyJWT's PyJWKClient, which fetches with blocking urllib (the event loop stalls for every
request waiting on the provider), caches with no expiry, refetches on every unknown key id, and,
in releases before the fix, emptied its cache when a refresh failed.

Each key is prepared once per accepted algorithm its type allows (an RSA key for RS*/PS*, a P-256
key for ES256...): a token is checked only with a key of its algorithm's family, and a key that
names its own `alg` only for that one. Symmetric (`oct`) keys and encryption keys are never used.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx
import jwt

from {{ cookiecutter.package_name }}.auth.settings import secure_url

log = logging.getLogger(__name__)

DISCOVERY_PATH = "/.well-known/openid-configuration"
FETCH_TIMEOUT = httpx.Timeout(5.0)
# Between retries of a failed background fetch when the cooldown is shorter: never a busy loop.
MIN_RETRY_SECONDS = 1.0

# kid -> algorithm -> the key, ready to verify with.
Keys = dict[str, dict[str, jwt.PyJWK]]


class ProviderUnavailableError(Exception):
    """No key set has ever been fetched: no token can be checked (503, not 401)."""


async def fetch_json(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    response = await client.get(url)
    response.raise_for_status()
    document = response.json()
    if not isinstance(document, dict):
        raise ValueError(f"{url} did not answer a JSON object")
    return document


def usable_keys(jwks: dict[str, Any], algorithms: list[str]) -> Keys:
    """The signing keys of a JWK set, each prepared for the accepted algorithms it can verify."""
    if not isinstance(jwks.get("keys"), list):
        raise ValueError("the key set has no list of keys")
    keys: Keys = {}
    for jwk in jwks["keys"]:
        if not isinstance(jwk, dict) or not isinstance(kid := jwk.get("kid"), str):
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("kty") == "oct":
            continue
        for algorithm in algorithms:
            if jwk.get("alg", algorithm) != algorithm:
                continue
            try:
                keys.setdefault(kid, {})[algorithm] = jwt.PyJWK(jwk, algorithm)
            except jwt.PyJWTError:  # a key of another family (an EC key for RS256)
                continue
    return keys


async def fetch_keys(issuer: str, algorithms: list[str]) -> Keys:
    """Discovery, then the key set. The discovery document must name this issuer exactly (OpenID
    Connect Discovery 4.3): a provider answering for another issuer is not this one."""
    async with httpx.AsyncClient(timeout=FETCH_TIMEOUT) as client:
        discovery = await fetch_json(client, issuer.rstrip("/") + DISCOVERY_PATH)
        if discovery.get("issuer") != issuer:
            raise ValueError(f"the discovery document names issuer {discovery.get('issuer')!r}")
        jwks_uri = discovery.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise ValueError("the discovery document names no jwks_uri")
        keys = usable_keys(await fetch_json(client, secure_url(jwks_uri)), algorithms)
    if not keys:
        raise ValueError(f"the key set has no key for {', '.join(algorithms)}")
    return keys


@dataclass
class SigningKeys:
    """The cache of one issuer's keys, shared by every request of the process."""

    issuer: str
    algorithms: list[str]
    max_age: float
    cooldown: float
    keys: Keys | None = None  # None until a fetch first succeeds
    fetched_at: float = 0.0  # time.monotonic() of the last successful fetch
    attempted_at: float = float("-inf")
    fetches_finished: int = 0  # succeeded or failed: those waiting for the lock see one happened
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def refresh(self, *, on_demand: bool) -> None:
        """Fetch the set again; on failure, log it and keep the last good one. On demand (a
        request's unknown key id), at most once per cooldown, and not at all when another
        fetch finished while this one waited for the lock."""
        seen = self.fetches_finished
        async with self.lock:
            if self.fetches_finished != seen:
                return
            if on_demand and time.monotonic() - self.attempted_at < self.cooldown:
                return
            self.attempted_at = time.monotonic()
            try:
                keys = await fetch_keys(self.issuer, self.algorithms)
            except (httpx.HTTPError, ValueError) as error:
                kept = f"keeping the {len(self.keys)} key(s) fetched before" if self.keys else ""
                log.warning(
                    "identity provider's keys not fetched: %s: %s%s",
                    type(error).__name__,
                    error,
                    f"; {kept}" if kept else "",
                )
                return
            finally:
                self.fetches_finished += 1
            if self.keys is None:
                log.info("identity provider's keys fetched: %d key(s)", len(keys))
            self.keys, self.fetched_at = keys, time.monotonic()

    async def key(self, kid: str, algorithm: str) -> jwt.PyJWK | None:
        """The key to verify a token with this header's `kid` and `alg`, or None: no such key.
        Raises ProviderUnavailableError when no key set was ever fetched."""
        if self.keys is None or kid not in self.keys:
            await self.refresh(on_demand=True)
        if self.keys is None:
            raise ProviderUnavailableError
        return self.current(kid, algorithm)

    def current(self, kid: str, algorithm: str) -> jwt.PyJWK | None:
        """The key the set holds now for this `kid` and `alg`, without fetching."""
        return (self.keys or {}).get(kid, {}).get(algorithm)

    async def keep_fresh(self) -> None:
        """The background task: the first fetch at start-up, then one every max_age seconds
        (after a failure, once per cooldown until one succeeds)."""
        while True:
            await self.refresh(on_demand=False)
            fresh = time.monotonic() - self.fetched_at < self.max_age and self.keys is not None
            await asyncio.sleep(self.max_age if fresh else max(self.cooldown, MIN_RETRY_SECONDS))

    async def readiness(self) -> str | None:
        """Until a first fetch succeeded, each probe waits for one (at most one per cooldown)."""
        if self.keys is None:
            await self.refresh(on_demand=True)
        return None if self.keys is not None else "identity provider's keys not fetched yet"
