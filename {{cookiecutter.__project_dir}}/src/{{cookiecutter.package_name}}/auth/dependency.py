"""The FastAPI dependency protecting a route: `Security(authorized, scopes=[...])`.

A route that declares it answers 401 without a valid token, 403 without every scope it lists,
and 503 while no key set was ever fetched from the provider; its OpenAPI operation names the
bearer scheme (so /docs can authorize) and the scopes. Add `responses=authorization_responses`
to the route (or its router) so the 401 and 403 are documented too. Routes that don't need the
caller name their scopes through ../access.py: `dependencies=requires(...)`. The caller (`sub`,
client id) goes on the request's log line and span; the token never does.
"""

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from {{ cookiecutter.package_name }}.auth.keys import ProviderUnavailableError
from {{ cookiecutter.package_name }}.auth.tokens import Caller, TokenRefusedError, TokenRules, check
from {{ cookiecutter.package_name }}.observability.logs import add_request_fields
from {{ cookiecutter.package_name }}.web.errors import RETRY_AFTER_SECONDS, Error, unavailable_response

# Not auto_error: FastAPI's own answer lacks RFC 6750's WWW-Authenticate details.
bearer = HTTPBearer(
    auto_error=False,
    description="An access token from the OpenID Connect provider (README: Authentication)",
)

# For routes (or routers) using `authorized`: merged into their OpenAPI responses (503: no key
# set fetched from the provider yet).
authentication_responses: dict[int | str, dict[str, Any]] = unavailable_response | {
    status.HTTP_401_UNAUTHORIZED: {
        "model": Error,
        "description": "No token, or a token that is invalid, expired or not for this service",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    },
}
authorization_responses: dict[int | str, dict[str, Any]] = authentication_responses | {
    status.HTTP_403_FORBIDDEN: {
        "model": Error,
        "description": "A valid token without a scope the route requires",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
    },
}


def unauthorized(detail: str, error: str | None = None) -> HTTPException:
    challenge = f'Bearer error="{error}"' if error else "Bearer"
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": challenge}
    )


async def authorized(
    security_scopes: SecurityScopes,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """The caller, whose token is valid and grants every scope the route requires."""
    if credentials is None:
        raise unauthorized("not authenticated: send an access token as `Authorization: Bearer`")
    rules: TokenRules = request.app.state.token_rules
    try:
        caller = await check(credentials.credentials, rules)
    except TokenRefusedError as refused:
        raise unauthorized(str(refused), "invalid_token") from None
    except ProviderUnavailableError:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="service temporarily unavailable, retry later",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from None
    add_request_fields(caller=caller.subject, client_id=caller.client_id)
    missing = [scope for scope in security_scopes.scopes if scope not in caller.scopes]
    if missing:
        challenge = f'Bearer error="insufficient_scope", scope="{security_scopes.scope_str}"'
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"the token lacks the scope {' '.join(missing)}",
            headers={"WWW-Authenticate": challenge},
        )
    return caller
