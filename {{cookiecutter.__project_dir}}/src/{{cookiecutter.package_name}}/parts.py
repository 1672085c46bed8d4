"""The service's optional parts: packages a bake keeps or leaves out, each adding itself.

- auth/: who may call the service (OpenID Connect access tokens);
- database/: where the resources are kept, and `<command> migrate`;
- jobs/: work done after the answer, and `<command> worker`.

Each has a module `part.py` saying what it adds:
- SETTINGS: its settings class, read from the environment like Settings (the command line checks
  every part's at start-up);
- COMMANDS: the command line's, name -> (help, "module:function");
- INSTALL: "module:function", what create_app calls with the app and its tracer provider (None:
  nothing to install).
The functions named are imported only when they run. Nothing else names a part's package:
deleting one, with what else it brought (its tests, mk/, compose/ and k8s/ files), takes it out
of the service.
"""

from importlib import import_module
from importlib.util import find_spec
from types import ModuleType

# In the order they are installed, and their commands listed.
NAMES = ("auth", "database", "jobs")


def present() -> list[ModuleType]:
    """The `part` module of each part this service has."""
    return [
        import_module(f"{__package__}.{name}.part")
        for name in NAMES
        if find_spec(f"{__package__}.{name}") is not None
    ]
