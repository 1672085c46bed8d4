"""An app whose parts read other settings than the environment's.

Each optional part reads its own settings from the environment when create_app installs it
(parts.py), as in production: a test changes them there, for as long as the app is made.
"""

import json

import pytest
from fastapi import FastAPI

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.settings import Settings


def app_with(settings: Settings, /, **variables: object) -> FastAPI:
    """create_app(settings), its parts reading `variables` (NAME=value; other than strings, as
    JSON) over the environment."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in variables.items():
            patch.setenv(name, value if isinstance(value, str) else json.dumps(value))
        return create_app(settings)
