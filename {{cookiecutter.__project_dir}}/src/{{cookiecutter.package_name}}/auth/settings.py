"""Who may call the service: the OpenID Connect provider whose access tokens it accepts (`auth`),
read like the service's own settings (settings.py). Its own module, which imports nothing of the
tokens' code: checking the settings doesn't load PyJWT or the HTTP client.

There is no setting that turns validation off or accepts another signer: tests and `make dev`
use a local issuer on a loopback address (scripts/dev_issuer.py), with keys of its own.
"""

import ipaddress
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from {{ cookiecutter.package_name }}.settings import FROM_THE_ENVIRONMENT

# Signed with the provider's private key, verified with the public key it publishes. HS* would
# make a key anyone can download the signing secret (algorithm confusion); `none` signs nothing.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def secure_url(url: str) -> str:
    """An https URL, or http on this machine (tests, `make dev`): the keys must come from the
    provider, not from whoever sits on the network path. Raises ValueError otherwise."""
    parts = urlsplit(url)
    if not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"must be an absolute URL without query or fragment, not {url!r}")
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(parts.hostname)):
        raise ValueError(f"must be https (http only on a loopback address), not {url!r}")
    return url


class AuthSettings(BaseSettings):
    model_config = FROM_THE_ENVIRONMENT
    # Required, no default: a service must never start accepting tokens of an issuer nobody chose.
    # Compared with each token's `iss` exactly: as the provider's discovery document spells it.
    auth_issuer: str = Field(
        description="the OpenID provider's issuer URL, e.g. https://login.example.com/realms/main"
    )
    # Tokens must name it in `aud`: a token issued for another service is refused here.
    auth_audience: str = Field(
        min_length=1, description="the audience tokens for this service carry (`aud`)"
    )
    # The algorithms accepted, whatever a token's header claims (JSON list).
    auth_algorithms: list[str] = Field(default=["RS256", "ES256"], min_length=1)
    # Clock difference tolerated between the provider and this service, in seconds (exp, nbf, iat).
    auth_leeway: float = Field(default=30, ge=0, le=300)
    # The key set is fetched again in the background this often (seconds): the provider's
    # rotations and removed keys are seen within this long.
    auth_keys_max_age: float = Field(default=300, gt=0)
    # A token signed by a key not in the set fetches it again at most this often (seconds):
    # tokens with made-up key ids can't make the service flood the provider.
    auth_keys_refresh_cooldown: float = Field(default=30, ge=0)

    @field_validator("auth_issuer")
    @classmethod
    def issuer_is_secure(cls, issuer: str) -> str:
        return secure_url(issuer)

    @field_validator("auth_algorithms")
    @classmethod
    def only_asymmetric(cls, algorithms: list[str]) -> list[str]:
        refused = sorted(set(algorithms) - ASYMMETRIC_ALGORITHMS)
        if refused:
            allowed = ", ".join(sorted(ASYMMETRIC_ALGORITHMS))
            raise ValueError(f"{', '.join(refused)} not accepted; choose from {allowed}")
        return algorithms
