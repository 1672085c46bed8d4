"""Authentication: the service as an OAuth 2.0 resource server of an OpenID Connect provider
(README: Authentication). Nothing is imported here: reading the settings (settings.py) imports
only `auth.settings`, not the tokens' code.

- settings.py: AUTH_ISSUER, AUTH_AUDIENCE and the rest;
- keys.py: the key set, fetched asynchronously, cached, refreshed, kept through outages;
- tokens.py: what makes a token valid, and the caller it names;
- dependency.py: `Security(authorized, scopes=[...])` for routes, with its OpenAPI answers;
- install.py: installed into the app in one call (app.py makes it): the keys, the /readyz check
  until they are there, and GET /me.
"""
