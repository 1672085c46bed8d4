"""Settings, read from the environment (or a local .env file) and validated once at start-up.

These are the service's own; each optional part (parts.py) declares its settings in its own
`settings.py` the same way, and the command line checks them all before anything starts.
"""

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Every settings class reads the same sources: a variable overrides a line of .env.
FROM_THE_ENVIRONMENT = SettingsConfigDict(env_file=".env", extra="ignore")


class Settings(BaseSettings):
    """Each field is read from the environment variable of the same name in upper case."""

    model_config = FROM_THE_ENVIRONMENT
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
    # /docs (Swagger UI, served by the service itself: web/swagger_ui.py); false: no pages or files.
    docs_enabled: bool = True

    # What one client can cost the service (README: Limits). Each protects against what it says.
    # 413 past this; a streamed body is cut off there: memory, and answers echoing the body.
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1)
    # 503 while the bodies all requests in flight receive would pass this: memory, against many
    # clients each sending a body just under the limit.
    max_request_bodies_in_flight_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    # 408 when the body hasn't all arrived this long after the head: slow bodies holding a task.
    request_body_timeout: float = Field(default=30, gt=0)
    # 431 past this many bytes of request line and headers (the server's read buffer, at least
    # 8 KiB): memory and parsing per connection. More than 100 header fields: 431 too (fixed).
    max_request_head_bytes: int = Field(default=16 * 1024, ge=8 * 1024)
    # The connection is closed when a head isn't in this long after the connection opened or
    # the last response: slowloris, connections opened and left silent, idle keep-alive ones.
    request_head_timeout: float = Field(default=10, ge=0.1, le=60)
    # Connections a worker process has open at once (at most the open-file limit less 128):
    # more wait in the listen backlog until one closes, instead of using up the descriptors.
    max_connections: int = Field(default=8192, ge=16)
