"""0.4.0 laid the package out by concern (README: Code map). The team's own modules that import
the modules it moved are rewritten to the new places, keeping the names their code uses:

  <package>.errors, health, limits, middleware, swagger_ui -> <package>.web.<same name>
  <package>.logs, metrics, tracing -> <package>.observability.<same name> (logs.route_template
                                      is now web.middleware's, its only user)
  <package>.items                  -> <package>.api.items
  <package>.models                 -> <package>.database.models
  <package>.database_settings      -> <package>.database.settings
  <package>.worker_settings        -> <package>.jobs.settings
  <package>.auth_settings          -> <package>.auth.settings
  <package>.database.install       -> <package>.database.install.install_database (the package
                                      itself imports nothing now: no import cycle through it);
                                      app.py's call `database.install(...)`, where a conflict
                                      keeps the service's side, goes: create_app() installs every
                                      part the service has (parts.py, database/part.py)
  <package>.auth's names           -> <package>.auth.dependency (authorized, the responses),
                                      auth.tokens (Caller), auth.install (install_auth)
"""

from rename_modules import rename_modules, replace_in_files, tidy

WEB = ["errors", "health", "limits", "middleware", "swagger_ui"]
OBSERVABILITY = ["logs", "metrics", "tracing"]

changed = rename_modules(
    {name: f"web.{name}" for name in WEB}
    | {name: f"observability.{name}" for name in OBSERVABILITY}
    | {
        "items": "api.items",
        "models": "database.models",
        "database_settings": "database.settings",
        "worker_settings": "jobs.settings",
        "auth_settings": "auth.settings",
    },
    moved={
        "logs": {"route_template": "web.middleware"},
        "database": {"install": "database.install:install_database"},
        "auth": {
            "authorized": "auth.dependency",
            "authentication_responses": "auth.dependency",
            "authorization_responses": "auth.dependency",
            "Caller": "auth.tokens",
            "install": "auth.install:install_auth",
        },
    },
)
changed += replace_in_files(
    "    database.install(app, settings, tracer_provider)\n",
    "",
    "database.install(...) removed: create_app() installs every part the service has (parts.py)",
)
tidy(changed)
