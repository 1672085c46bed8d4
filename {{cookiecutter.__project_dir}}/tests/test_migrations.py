"""The migrations and the models must agree, every migration must be reversible, and `migrate`
runs them."""

import json
from collections.abc import Callable
from functools import partial

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect

from {{ cookiecutter.package_name }} import cli
from {{ cookiecutter.package_name }}.database import migrations
from {{ cookiecutter.package_name }}.database.migrations import alembic_config, current_revision, head_revision

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


def test_migrate_brings_the_schema_to_head_and_says_what_ran(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    head = head_revision(alembic_config())
    assert cli.main(["migrate"]) == 0
    with engine.connect() as connection:
        assert current_revision(connection) == head
    assert cli.main(["migrate"]) == 0  # a second run (another replica) has nothing to do
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["message"] for line in lines if line["logger"] == migrations.log.name] == [
        f"database schema migrated from empty to {head}",
        f"database schema already at {head}: nothing to migrate",
    ]
