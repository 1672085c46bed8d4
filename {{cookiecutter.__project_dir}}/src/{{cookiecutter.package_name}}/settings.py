"""Settings, read from the environment (or a local .env file) and validated once at start-up."""

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
{%- if cookiecutter.database != "none" %}

from {{ cookiecutter.package_name }}.database_settings import DatabaseSettings
{%- endif %}


class Settings({{ "DatabaseSettings, " if cookiecutter.database != "none" }}BaseSettings):
    """Each field is read from the environment variable of the same name in upper case."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")
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
