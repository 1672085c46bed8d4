"""Input validation: each bad answer is refused with its own one-line message, leaving nothing."""

from pathlib import Path
from typing import Any

import pytest

BAD_ANSWERS = [
    # (answers, the message that must name the field, the value and what is allowed)
    (
        {"package_name": "My-Service"},
        "package_name: 'My-Service' must be a lowercase Python identifier",
    ),
    (
        {"package_name": "9lives"},
        "package_name: '9lives' must be a lowercase Python identifier",
    ),
    (
        {"package_name": "my service"},
        "package_name: 'my service' must be a lowercase Python identifier",
    ),
    ({"package_name": "class"}, "package_name: 'class' is a Python keyword"),
    (
        {"package_name": "json"},
        "package_name: 'json' would shadow the standard library module",
    ),
    (
        {"package_name": "logging"},
        "package_name: 'logging' would shadow the standard library module",
    ),
    ({"package_name": "fastapi"}, "package_name: 'fastapi' would shadow a dependency"),
    (
        {"package_name": "sqlalchemy"},
        "package_name: 'sqlalchemy' would shadow a dependency",
    ),
    (
        {"package_name": "starlette"},
        "package_name: 'starlette' would shadow a dependency",
    ),
    ({"package_name": "pytest"}, "package_name: 'pytest' would shadow a dependency"),
    (
        {"package_name": "tests"},
        "package_name: 'tests' is a directory the project layout reserves",
    ),
    (
        {"package_name": "migrations"},
        "package_name: 'migrations' is a directory the project layout reserves",
    ),
    (
        {"package_name": "src"},
        "package_name: 'src' is a directory the project layout reserves",
    ),
    (
        {"project_name": "!!!"},
        "project_slug: '!!!' must be lowercase letters and digits",
    ),
    (
        {"project_slug": "my--service"},
        "project_slug: 'my--service' must be lowercase letters and digits",
    ),
    (
        {"project_slug": "-service", "package_name": "service"},
        "project_slug: '-service' must be",
    ),
    ({"port": "80"}, "port: '80' must be an integer from 1024 to 65535"),
    ({"port": "65536"}, "port: '65536' must be an integer from 1024 to 65535"),
    ({"port": "http"}, "port: 'http' must be an integer from 1024 to 65535"),
    ({"author_email": "nobody"}, "author_email: 'nobody' must be an email address"),
    ({"author_email": "a@b"}, "author_email: 'a@b' must be an email address"),
    ({"version": "one"}, "version: 'one' must be a PEP 440 version"),
]


def leftovers(tmp_path: Path) -> list[Path]:
    """Whatever the bake left in pytest-cookies' output directories (cookies/bakeNN/...)."""
    return list((tmp_path / "cookies").glob("*/*"))


@pytest.mark.parametrize(("answers", "message"), BAD_ANSWERS, ids=[str(a) for a, _ in BAD_ANSWERS])
def test_a_bad_answer_is_refused_with_its_message_and_no_leftovers(
    cookies: Any,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    answers: dict[str, str],
    message: str,
) -> None:
    result = cookies.bake(extra_context={"_lock": False, **answers})
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("error: ")]

    assert result.exit_code != 0
    assert any(line.startswith(f"error: {message}") for line in errors), errors
    assert leftovers(tmp_path) == []


def test_several_bad_answers_are_all_reported_at_once(
    cookies: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    result = cookies.bake(extra_context={"_lock": False, "port": "1", "author_email": "x"})
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("error: ")]
    assert result.exit_code != 0
    assert [e.split(":")[1].strip() for e in errors] == ["author_email", "port"]
    assert leftovers(tmp_path) == []


def test_an_unknown_choice_is_refused_naming_the_allowed_values(
    cookies: Any, tmp_path: Path
) -> None:
    result = cookies.bake(extra_context={"_lock": False, "python_version": "3.9"})
    assert "python_version" in str(result.exception)
    assert "'3.13', '3.12', '3.11'" in str(result.exception)
    assert leftovers(tmp_path) == []


def test_the_dependency_names_the_hook_refuses_are_filled_in() -> None:
    """The reserved list is generated (scripts/refresh-dependency-names), never left empty."""
    from tests.helpers import dependency_import_names

    assert {"fastapi", "sqlalchemy", "alembic", "uvicorn", "pydantic", "psycopg"} <= (
        dependency_import_names()
    )
