"""The {{ cookiecutter.project_slug }} service."""

# Kept equal to pyproject.toml's version by tests/test_cli.py; a constant, because looking it
# up in the installed metadata costs ~0.07 s of every start.
__version__ = "{{ cookiecutter.version }}"
