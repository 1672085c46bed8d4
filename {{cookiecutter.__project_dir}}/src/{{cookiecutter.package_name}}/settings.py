"""Settings, read from the environment (or a local .env file) and validated once at start-up."""

from typing import Literal

from pydantic import Field{% if cookiecutter.database == "postgresql" %}, field_validator{% endif %}
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Each field is read from the environment variable of the same name in upper case."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")
{% if cookiecutter.database == "postgresql" %}
    # Required: production never falls back silently to a local database (`make dev` sets one).
    database_url: str = Field(
        description="a PostgreSQL URL, e.g. postgresql://user:password@db:5432/{{ cookiecutter.package_name }}"
    )
{%- elif cookiecutter.database == "sqlite" %}
    # Relative to the working directory; in the image that is /app/data, a volume.
    database_url: str = Field(
        default="sqlite:///data/{{ cookiecutter.package_name }}.db",
        description="a SQLAlchemy database URL",
    )
{%- endif %}
    # All interfaces: inside a container, loopback is unreachable from outside.
    host: str = "0.0.0.0"  # noqa: S104
    port: int = Field(default={{ cookiecutter.port }}, ge=1, le=65535)
    workers: int = Field(default=1, ge=1)
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    # json: one object per line, for log collectors; console: readable lines (`make dev`).
    log_format: Literal["json", "console"] = "json"
    # Proxies whose X-Forwarded-* headers are trusted (comma-separated IPs or CIDRs, or "*").
    forwarded_allow_ips: str = "127.0.0.1"
    # On SIGTERM the server stops accepting and lets requests in flight finish for up to this
    # long. Keep it below the orchestrator's grace period (Kubernetes: 30 s, less its preStop wait).
    graceful_shutdown_timeout: int = Field(default=15, ge=1)
{%- if cookiecutter.database != "none" %}
    # Connections per process: pool_size kept open, up to max_overflow more under load. A request
    # that gets none within pool_timeout seconds answers 503 (keep the sum within the database's
    # max_connections divided by the number of processes).
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_pool_timeout: float = Field(default=10, gt=0)
{%- endif %}
{%- if cookiecutter.database == "postgresql" %}

    @field_validator("database_url")
    @classmethod
    def use_psycopg_driver(cls, url: str) -> str:
        """Accept the usual postgres:// and postgresql:// URLs: SQLAlchemy needs psycopg named."""
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url.removeprefix(prefix)
        return url
{%- endif %}
