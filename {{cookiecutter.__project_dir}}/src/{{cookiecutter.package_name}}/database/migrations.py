"""Alembic, run from the service: where the migrations are, which revision is the head and which
the database is at, `<command> migrate`, and the readiness check that the schema is current."""

# Annotations name alembic's Config without importing alembic (Python 3.14 does this by itself).
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, func, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from {{ cookiecutter.package_name }}.database.engines import create_db_engine
from {{ cookiecutter.package_name }}.database.settings import DatabaseSettings
from {{ cookiecutter.package_name }}.web.health import ReadinessCheck

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported where it is used: it adds ~0.15 s to start-up, and serving needs it only
# for the first readiness check.

log = logging.getLogger(__name__)

# Any fixed number: every replica contends for this PostgreSQL advisory lock while migrating.
MIGRATION_LOCK_ID = 7_130_413_521
# Whatever talking to the database can raise when it is down or unreachable. Named once: `except
# (A, B)` is formatted differently from Python 3.14 on (no parentheses); a name reads the same.
DATABASE_ERRORS = (SQLAlchemyError, OSError)


def alembic_config() -> Config:
    """alembic.ini from ALEMBIC_CONFIG (the image sets it), else from this package's checkout."""
    from alembic.config import Config

    path = os.environ.get("ALEMBIC_CONFIG")
    if path is None:
        found = (p / "alembic.ini" for p in Path(__file__).resolve().parents)
        path = str(next((ini for ini in found if ini.is_file()), "alembic.ini"))
    if not Path(path).is_file():
        raise RuntimeError(f"{path} not found: set ALEMBIC_CONFIG to the path of alembic.ini")
    return Config(path)


def head_revision(config: Config) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config).get_current_head()


def current_revision(connection: Connection) -> str | None:
    # Read directly: alembic's MigrationContext would log two lines on every readiness probe.
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade_to_head(engine: Engine) -> tuple[str | None, str | None]:
    """Runs the migrations not yet run; returns the revisions before and after."""
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Held until this transaction commits: replicas started together migrate one at a
            # time, and those that waited find the schema already at head.
            connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK_ID)))
        config.attributes["connection"] = connection
        before = current_revision(connection)
        command.upgrade(config, "head")
        return before, current_revision(connection)


def schema_is_current(get_engine: Callable[[], AsyncEngine]) -> ReadinessCheck:
    """A readiness check: the database answers and its schema is at the latest migration."""

    @cache
    def expected() -> str | None:
        return head_revision(alembic_config())

    async def check() -> str | None:
        try:
            async with get_engine().connect() as connection:
                current = await connection.run_sync(current_revision)
        except DATABASE_ERRORS:
            return "database unreachable"
        if current != expected():
            return f"database schema at {current or 'no revision'}, expected {expected()}"
        return None

    return check


def migrate() -> None:
    """`<command> migrate`: upgrade the database at DATABASE_URL, and say what ran."""
    engine = create_db_engine(DatabaseSettings().database_url)
    try:
        before, after = upgrade_to_head(engine)
    finally:
        engine.dispose()
    # Alembic's own lines are filtered out with the libraries' (observability/logs.py): one line
    # says what ran.
    if before == after:
        log.info("database schema already at %s: nothing to migrate", after)
    else:
        log.info("database schema migrated from %s to %s", before or "empty", after)
