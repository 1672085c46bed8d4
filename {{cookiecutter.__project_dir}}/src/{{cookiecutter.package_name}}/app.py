"""The application factory: `create_app()` builds a configured FastAPI app (uvicorn calls it)."""
{% if cookiecutter.database != "none" %}
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache, partial
{% endif %}
from fastapi import FastAPI

from {{ cookiecutter.package_name }} import __version__, health{% if cookiecutter.database != "none" %}, items{% endif %}
{%- if cookiecutter.database != "none" %}
from {{ cookiecutter.package_name }}.db import UNAVAILABLE, create_async_db_engine
{%- endif %}
from {{ cookiecutter.package_name }}.errors import add_error_handlers
from {{ cookiecutter.package_name }}.logs import RequestIdMiddleware, configure_logging
{%- if cookiecutter.database != "none" %}
from {{ cookiecutter.package_name }}.schema import schema_is_current
{%- endif %}
from {{ cookiecutter.package_name }}.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level)
{%- if cookiecutter.database != "none" %}
    # Created on first use: importing the database driver then doesn't delay start-up.
    engine = cache(
        partial(
            create_async_db_engine,
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
        )
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        # Runs after in-flight requests finished (on SIGTERM, too): close pooled connections.
        await engine().dispose()

    app = FastAPI(title={{ cookiecutter.project_name | tojson }}, version=__version__, lifespan=lifespan)
    app.state.engine = engine
    app.state.readiness_checks = [schema_is_current(engine)]
    add_error_handlers(app, unavailable=UNAVAILABLE)
{%- else %}
    app = FastAPI(title={{ cookiecutter.project_name | tojson }}, version=__version__)
    # Add a check here for each dependency (a database, a queue) the service can't work without,
    # and its "try later" exceptions to add_error_handlers.
    app.state.readiness_checks = []
    add_error_handlers(app, unavailable=())
{%- endif %}
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health.router)
{%- if cookiecutter.database != "none" %}
    app.include_router(items.router)
{%- endif %}
    return app
