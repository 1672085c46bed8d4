"""The migrations and the models must agree, and every migration must be reversible."""

from collections.abc import Callable
from functools import partial

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect

from {{ cookiecutter.package_name }}.schema import alembic_config, current_revision, head_revision

UPGRADE = partial(command.upgrade, revision="head")
DOWNGRADE = partial(command.downgrade, revision="base")


def run(engine: Engine, *commands: Callable[[Config], object]) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        for alembic_command in commands:
            alembic_command(config)


def test_upgrade_downgrade_upgrade_round_trips(engine: Engine) -> None:
    run(engine, UPGRADE, DOWNGRADE)
    assert inspect(engine).get_table_names() == ["alembic_version"]
    run(engine, UPGRADE)
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision(alembic_config())
    assert "items" in inspect(engine).get_table_names()


def test_models_and_migrations_agree(engine: Engine) -> None:
    """The drift check: fails when a model changed without a migration (`alembic check`)."""
    run(engine, UPGRADE, command.check)
