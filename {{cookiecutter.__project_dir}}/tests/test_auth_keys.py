"""The provider's keys: fetched at start-up, kept through its outages, rotations picked up without
a restart, and never fetched more than once per cooldown, whatever tokens arrive; tokens found
valid remembered only while they and their key are. Each test runs
its own provider (scripts/dev_issuer.py on 127.0.0.1), and stops or rotates it."""

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.auth import tokens
from {{ cookiecutter.package_name }}.auth.keys import SigningKeys, usable_keys
from {{ cookiecutter.package_name }}.settings import Settings
from scripts.dev_issuer import Issuer, new_key
from tests.auth_fixtures import AUDIENCE
from tests.part_settings import app_with

UNAVAILABLE = "identity provider's keys not fetched yet"


@pytest.fixture
def provider() -> Iterator[Issuer]:
    with Issuer(AUDIENCE) as provider:
        yield provider


def serving(settings: Settings, provider: Issuer, **changes: Any) -> TestClient:
    """A client of the service configured for this provider (no default token)."""
    variables = {f"AUTH_{name.upper()}": value for name, value in changes.items()}
    return TestClient(app_with(settings, AUTH_ISSUER=provider.url, **variables), headers={})


def me(client: TestClient, token: str) -> int:
    return client.get("/me", headers={"Authorization": f"Bearer {token}"}).status_code


def wait_for_fetches(provider: Issuer, count: int) -> None:
    """Until the provider has served `count` key sets (the service's background refresh)."""
    deadline = time.monotonic() + 10
    while provider.jwks_fetches < count:
        assert time.monotonic() < deadline, f"{provider.jwks_fetches} key set fetches, not {count}"
        time.sleep(0.05)


def test_keys_are_fetched_at_start_up_and_then_the_service_is_ready(
    settings: Settings, provider: Issuer
) -> None:
    with serving(settings, provider) as client:
        wait_for_fetches(provider, 1)
        assert client.get("/readyz").json().get("reason") != UNAVAILABLE
        assert me(client, provider.mint()) == 200


def test_only_asymmetric_signing_keys_are_used_each_for_its_algorithms() -> None:
    rsa = new_key().jwk()  # names its alg: RS256 only
    ec = new_key("ES256").jwk()
    del ec["alg"]  # names none: its curve decides (ES256)
    jwks = {
        "keys": [
            rsa,
            ec,
            {"kty": "oct", "k": "c2VjcmV0", "kid": "a-shared-secret"},
            rsa | {"kid": "for-encryption", "use": "enc"},
            rsa | {"kid": None},
            "not a key",
        ]
    }
    keys = usable_keys(jwks, ["RS256", "PS256", "ES256"])
    assert {kid: sorted(by_algorithm) for kid, by_algorithm in keys.items()} == {
        rsa["kid"]: ["RS256"],
        ec["kid"]: ["ES256"],
    }


def test_a_thousand_unknown_key_ids_cost_the_provider_at_most_one_fetch(
    settings: Settings, provider: Issuer
) -> None:
    with serving(settings, provider, keys_refresh_cooldown=3600) as client:
        assert me(client, provider.mint()) == 200
        # An EC key: a thousand tokens signed in a fraction of the time RSA takes.
        fetched, unknown = provider.jwks_fetches, new_key("ES256")
        tokens = [provider.mint(key=unknown, headers={"kid": f"made-up-{n}"}) for n in range(1000)]
        answers = {me(client, token) for token in tokens}
    assert answers == {401}
    assert provider.jwks_fetches - fetched <= 1


def test_concurrent_unknown_key_ids_share_one_fetch(provider: Issuer) -> None:
    keys = SigningKeys(provider.url, ["RS256"], max_age=300, cooldown=0)

    async def look_up_many() -> list[Any]:
        return await asyncio.gather(*(keys.key(f"unknown-{n}", "RS256") for n in range(100)))

    assert asyncio.run(look_up_many()) == [None] * 100
    assert provider.jwks_fetches == 1  # one fetch, for all who waited for it


def test_while_the_provider_is_down_the_last_good_keys_are_kept(
    settings: Settings, provider: Issuer
) -> None:
    with serving(settings, provider, keys_refresh_cooldown=0) as client:
        assert me(client, provider.mint()) == 200
        provider.available = False
        # An unknown key id makes the service fetch the set again, which fails.
        assert me(client, provider.mint(key=new_key())) == 401
        assert me(client, provider.mint()) == 200
        assert client.get("/readyz").json().get("reason") != UNAVAILABLE


def test_a_provider_never_reached_makes_the_service_unready_and_answer_503(
    settings: Settings, provider: Issuer
) -> None:
    provider.available = False
    with serving(settings, provider, keys_refresh_cooldown=0) as client:
        ready = client.get("/readyz")
        assert (ready.status_code, ready.json()["reason"]) == (503, UNAVAILABLE)
        response = client.get("/me", headers={"Authorization": f"Bearer {provider.mint()}"})
        assert response.status_code == 503
        assert response.headers["Retry-After"].isdigit()
        provider.available = True  # back: the next request fetches the keys
        assert me(client, provider.mint()) == 200
        assert client.get("/readyz").json().get("reason") != UNAVAILABLE


def test_a_provider_answering_for_another_issuer_is_not_trusted(
    settings: Settings, provider: Issuer
) -> None:
    # A common slip: the provider's discovery document names its issuer without the slash.
    issuer = provider.url + "/"
    app = app_with(settings, AUTH_ISSUER=issuer)
    with TestClient(app, headers={}) as client:
        assert me(client, provider.mint(iss=issuer)) == 503
        assert client.get("/readyz").json()["reason"] == UNAVAILABLE


def test_rotated_keys_are_picked_up_without_a_restart(settings: Settings, provider: Issuer) -> None:
    with serving(settings, provider, keys_max_age=0.2, keys_refresh_cooldown=0) as client:
        old_token = provider.mint()
        assert me(client, old_token) == 200
        provider.rotate(keep_old=True)
        assert me(client, provider.mint()) == 200  # a new kid: the set is fetched again at once
        assert me(client, old_token) == 200
        provider.rotate(keep_old=False)  # the provider drops the old keys
        wait_for_fetches(provider, provider.jwks_fetches + 2)  # the cache's lifetime passed
        assert me(client, old_token) == 401
        assert me(client, provider.mint()) == 200


# ---- tokens found valid: remembered, not checked in full again ----------------------------------


def test_a_remembered_token_is_refused_once_it_expired(
    settings: Settings, provider: Issuer
) -> None:
    with serving(settings, provider, leeway=0) as client:
        expires = int(time.time()) + 3  # whole seconds: 2 or more to use it first
        token = provider.mint(exp=expires)
        assert me(client, token) == 200
        assert me(client, token) == 200  # remembered
        time.sleep(max(0.0, expires + 1 - time.time()))  # past its `exp`
        response = client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["detail"] == "token expired"


def test_remembered_tokens_are_bounded_the_oldest_forgotten_first(
    settings: Settings, provider: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens, "TOKENS_REMEMBERED", 2)
    with serving(settings, provider) as client:
        first, second, third = (provider.mint(sub=f"client-{n}") for n in range(3))
        for token in (first, second, first, third):  # the first used again: now the newest
            assert me(client, token) == 200
        remembered = client.app.state.token_rules.valid  # type: ignore[attr-defined]
    assert list(remembered) == [first, third]
