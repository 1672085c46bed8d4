"""Alembic environment: the URL comes from the settings, the target schema from the models."""

from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection
from sqlalchemy.types import TypeDecorator

from {{ cookiecutter.package_name }}.database.engines import create_db_engine
from {{ cookiecutter.package_name }}.database.models import Base
from {{ cookiecutter.package_name }}.database.settings import DatabaseSettings

target_metadata = Base.metadata


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Autogenerate and the drift check (`alembic check`) compare the models' tables only:
    tables that other code owns (a job queue's, an extension's) are not the models' to declare.
    (So deleting a model doesn't generate its DROP TABLE: write `op.drop_table` yourself.)"""
    return type_ != "table" or name in target_metadata.tables


def render_item(type_: str, obj: object, autogen_context: AutogenContext) -> str | Literal[False]:
    """Autogenerate writes a column of the models' own types (UTCDateTime) as the SQLAlchemy type
    it stores, as the migrations written by hand do: a migration never imports the models, which
    change after it has shipped. Anything else as Alembic writes it."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_name=include_name,
        render_item=render_item,
        # SQLite can't ALTER most things: batch mode recreates the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # `{{ cookiecutter.project_slug }} migrate` and the tests pass a connection (holding the migration lock).
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    engine = create_db_engine(DatabaseSettings().database_url)
    try:
        with engine.connect() as connection:
            run_migrations(connection)
    finally:
        engine.dispose()


def run_migrations_offline() -> None:
    """`alembic upgrade head --sql`: print the SQL instead of running it."""
    context.configure(
        url=DatabaseSettings().database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
