"""The database's settings, read like the service's own (settings.py). Its own module, which
imports nothing of the database's code: checking the settings doesn't load it."""

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from {{ cookiecutter.package_name }}.settings import FROM_THE_ENVIRONMENT


class DatabaseSettings(BaseSettings):
    model_config = FROM_THE_ENVIRONMENT
    # {{ "Required (`...`): production never falls back to a local database (`make dev` sets one)." if cookiecutter.database == "postgresql" else "Relative to the working directory: in the image, /app/data, a volume." }}
    database_url: str = Field(
        default={{ '...' if cookiecutter.database == "postgresql" else '"sqlite:///data/%s.db"' % cookiecutter.package_name }},
        description="a {{ "PostgreSQL URL, e.g. postgresql://user:password@db:5432/%s" % cookiecutter.package_name if cookiecutter.database == "postgresql" else "SQLAlchemy database URL" }}",
    )
    # Connections per process, kept open once made (pool_size), and how many more may be opened
    # under load and closed again (max_overflow: each is a new server process, so none by
    # default). A request that gets none within pool_timeout seconds answers 503. Keep
    # (pool_size + max_overflow) x processes within the database's max_connections.
    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=0, ge=0)
    db_pool_timeout: float = Field(default=10, gt=0)
    # A statement running longer is cancelled by the server and its request answers 503: a slow
    # query can't hold a connection for ever. The worst wait is pool_timeout + this. 0: none set
    # by the service (behind PgBouncer, which refuses it at connect: set it on the role instead).
    db_statement_timeout: float = Field(default=10, ge=0)
    # Off behind a pooler that doesn't keep prepared statements: PgBouncer in transaction mode
    # before 1.21, or with max_prepared_statements = 0 (README: The database).
    db_prepared_statements: bool = True

    @field_validator("database_url")
    @classmethod
    def name_the_async_driver(cls, url: str) -> str:
        """Accept the usual postgres:// and postgresql:// URLs: SQLAlchemy needs psycopg named."""
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url.removeprefix(prefix)
        return url
