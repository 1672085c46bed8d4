"""Authentication as a part of the service: what it adds (parts.py).
The code it names is imported when it runs: checking the settings at start-up loads none of it."""

from {{ cookiecutter.package_name }}.auth.settings import AuthSettings

SETTINGS = AuthSettings
COMMANDS: dict[str, tuple[str, str]] = {}
INSTALL = "{{ cookiecutter.package_name }}.auth.install:install_auth"
