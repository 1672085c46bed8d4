"""The database as a part of the service: what it adds (parts.py).
The code it names is imported when it runs: checking the settings at start-up loads none of it."""

from {{ cookiecutter.package_name }}.database.settings import DatabaseSettings

SETTINGS = DatabaseSettings
COMMANDS: dict[str, tuple[str, str]] = {
    "migrate": (
        "upgrade the database schema to the latest migration",
        "{{ cookiecutter.package_name }}.database.migrations:migrate",
    ),
}
INSTALL = "{{ cookiecutter.package_name }}.database.install:install_database"
