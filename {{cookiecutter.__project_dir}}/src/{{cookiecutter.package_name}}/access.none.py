"""Who may call a route: anyone who can reach the service. It checks no caller (it was generated
without authentication): keep it where only callers you trust reach it, or behind a gateway that
checks them.

Routes name the scopes they would need all the same, `dependencies=requires("reports:read")`, so
that checking callers later changes this module, not the routes: `requires` would return the
dependency checking a token for these scopes, and `access_responses` the 401 and 403 it answers.
"""

from typing import Any

# Nothing is checked, so a route answers no 401 or 403 for it.
access_responses: dict[int | str, dict[str, Any]] = {}


def requires(*scopes: str) -> list[Any]:
    """A route's dependencies: none, whatever the scopes."""
    return []
