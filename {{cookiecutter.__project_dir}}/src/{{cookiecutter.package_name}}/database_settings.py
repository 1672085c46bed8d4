"""The database's settings: `Settings` (settings.py) has them with the rest. Apart from the
`database` package, so that reading the settings doesn't import the database's code."""

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings


class DatabaseSettings(BaseSettings):
{%- if cookiecutter.database == "postgresql" %}
    # Required: production never falls back silently to a local database (`make dev` sets one).
    database_url: str = Field(
        description="a PostgreSQL URL, e.g. postgresql://user:password@db:5432/{{ cookiecutter.package_name }}"
    )
{%- else %}
    # Relative to the working directory; in the image that is /app/data, a volume.
    database_url: str = Field(
        default="sqlite:///data/{{ cookiecutter.package_name }}.db",
        description="a SQLAlchemy database URL",
    )
{%- endif %}
    # Connections per process: pool_size kept open, up to max_overflow more under load. A request
    # that gets none within pool_timeout seconds answers 503 (keep the sum within the database's
    # max_connections divided by the number of processes).
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_pool_timeout: float = Field(default=10, gt=0)

    @field_validator("database_url")
    @classmethod
    def name_the_async_driver(cls, url: str) -> str:
        """Accept the usual postgres:// and postgresql:// URLs: SQLAlchemy needs psycopg named."""
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url.removeprefix(prefix)
        return url
