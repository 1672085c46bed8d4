"""The application factory: `create_app()` builds a configured FastAPI app (uvicorn calls it)."""
{% if cookiecutter.database != "none" %}
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
{% endif %}
from fastapi import FastAPI

from {{ cookiecutter.package_name }} import __version__, health{% if cookiecutter.database != "none" %}, items{% endif %}
{%- if cookiecutter.database != "none" %}
from {{ cookiecutter.package_name }}.db import lazy_engine
{%- endif %}
from {{ cookiecutter.package_name }}.logs import RequestIdMiddleware, configure_logging
{%- if cookiecutter.database != "none" %}
from {{ cookiecutter.package_name }}.schema import schema_is_current
{%- endif %}
from {{ cookiecutter.package_name }}.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level)
{%- if cookiecutter.database != "none" %}
    engine = lazy_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        engine().dispose()

    app = FastAPI(title={{ cookiecutter.project_name | tojson }}, version=__version__, lifespan=lifespan)
    app.state.engine = engine
    app.state.readiness_checks = [schema_is_current(engine)]
{%- else %}
    app = FastAPI(title={{ cookiecutter.project_name | tojson }}, version=__version__)
    # Add a check here for each dependency (a database, a queue) the service can't work without.
    app.state.readiness_checks = []
{%- endif %}
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health.router)
{%- if cookiecutter.database != "none" %}
    app.include_router(items.router)
{%- endif %}
    return app
