"""Authentication, installed into the app in one call (create_app makes it: part.py): the
issuer's keys (fetched at start-up and kept fresh in the background), the /readyz check until
they are there, and GET /me. Routes name their scopes with access.py's `requires`, or take
`Security(authorized, scopes=[...])` from dependency.py for the caller."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, FastAPI, Security
from pydantic import BaseModel

from {{ cookiecutter.package_name }}.auth.dependency import authentication_responses, authorized
from {{ cookiecutter.package_name }}.auth.keys import SigningKeys
from {{ cookiecutter.package_name }}.auth.settings import AuthSettings
from {{ cookiecutter.package_name }}.auth.tokens import Caller, TokenRules

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider


class Me(BaseModel):
    subject: str
    client_id: str | None
    scopes: list[str]


def routes(keys: SigningKeys) -> APIRouter:
    """GET /me, and the key set's background refresh for as long as the app runs."""

    @asynccontextmanager
    async def keep_keys_fresh(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(keys.keep_fresh())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    router = APIRouter(tags=["auth"], lifespan=keep_keys_fresh)

    @router.get("/me", responses=authentication_responses)
    async def me(caller: Annotated[Caller, Security(authorized)]) -> Me:
        """Who the token says is calling: any valid token, no scope needed."""
        return Me(subject=caller.subject, client_id=caller.client_id, scopes=sorted(caller.scopes))

    return router


def install_auth(app: FastAPI, tracer_provider: TracerProvider | None) -> None:
    """Routes reach the token rules through `app.state.token_rules` (dependency.authorized).
    Its spans are the requests': the tracer provider isn't needed here."""
    settings = AuthSettings()
    keys = SigningKeys(
        issuer=settings.auth_issuer,
        algorithms=settings.auth_algorithms,
        max_age=settings.auth_keys_max_age,
        cooldown=settings.auth_keys_refresh_cooldown,
    )
    app.state.token_rules = TokenRules(
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        algorithms=settings.auth_algorithms,
        leeway=settings.auth_leeway,
        keys=keys,
    )
    app.state.readiness_checks.append(keys.readiness)
    app.include_router(routes(keys))
