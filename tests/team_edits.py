"""A team's typical edits to a service generated from the template, for the upgrade-path tests
(tests/test_upgrade_paths.py, whose expected conflicts follow from them): an `orders` router
wired into the app factory with its test, a dependency added, a README line, a setting's default
changed. Each is made as a team would, passing the service's own lint."""

import re
from pathlib import Path

ORDERS_MODULE = '''"""The team's own resource: orders."""

import logging

from fastapi import APIRouter

from {package}.logs import request_id

router = APIRouter(prefix="/orders", tags=["orders"])
log = logging.getLogger(__name__)


@router.get("")
async def list_orders() -> list[dict[str, str]]:
    log.debug("orders listed for request %s", request_id.get())
    return []
'''
# With a database: the router takes a session from the package's database module and queries a
# model, as the team's routers do. The imports name the modules of the service's release: each
# release's migration step that moved them rewrites them (0.3.0: <package>.db; 0.4.0:
# <package>.logs, <package>.models).
ORDERS_MODULE_WITH_A_DATABASE = '''"""The team's own resource: orders."""

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy import select

from {package}.{sessions} import get_session
from {package}.logs import request_id
from {package}.models import Item

router = APIRouter(prefix="/orders", tags=["orders"])
log = logging.getLogger(__name__)


@router.get("")
async def list_orders(session: Annotated[Any, Depends(get_session)]) -> list[dict[str, str]]:
    log.debug("orders listed for request %s", request_id.get())
    await session.execute(select(Item.id).limit(0))  # the items table is there
    return []
'''
ORDERS_TEST = """from fastapi.testclient import TestClient


def test_orders_start_empty(client: TestClient) -> None:
    response = client.get("/orders")
    assert response.status_code == 200
    assert response.json() == []
"""
README_LINE = "Owned by the orders team: #orders-oncall."
DEPENDENCY = '"httpx>=0.27",'
SETTING = "workers: int = Field(default=2,"


def replace_once(path: Path, pattern: str, replacement: str) -> None:
    text, count = re.subn(pattern, replacement, path.read_text(), count=1, flags=re.MULTILINE)
    assert count == 1, f"{pattern!r} not found in {path}"
    path.write_text(text)


def team_edits(project: Path, package_dir: str, database: str) -> dict[str, str]:
    """An `orders` router wired into the app factory (with its test), a dependency added, a
    README line, a setting's default changed. Returns each edited file and a line of the edit."""
    package = Path(package_dir).name
    orders = ORDERS_MODULE if database == "none" else ORDERS_MODULE_WITH_A_DATABASE
    moved = (project / package_dir / "database" / "engines.py").is_file()  # 0.3.0 on
    sessions = "database.engines" if moved else "db"
    (project / package_dir / "orders.py").write_text(
        orders.format(package=package, sessions=sessions)
    )
    (project / "tests" / "test_orders.py").write_text(ORDERS_TEST)
    app = project / package_dir / "app.py"
    imported = re.search(rf"^from {package} import (__version__, .*)$", app.read_text(), re.M)
    assert imported, f"no import of the package's modules in {app}"
    names = ", ".join(sorted([*imported[1].split(", "), "orders"]))  # as isort has them
    replace_once(app, re.escape(imported[0]), f"from {package} import {names}")
    # After the app's own routers (a block of include_router lines).
    routers = r"((?:^    app\.include_router\(\w+\.router\)\n)+)"
    replace_once(app, routers, r"\1    app.include_router(orders.router)\n")
    replace_once(
        project / "pyproject.toml",
        r"^(dependencies = \[\n(?:    .*\n)*?)\]",
        rf"\1    {DEPENDENCY}\n]",
    )
    replace_once(project / "README.md", r"\A(# .*\n\n.*\n\n)", rf"\1{README_LINE}\n\n")
    replace_once(
        project / package_dir / "settings.py", r"workers: int = Field\(default=1,", SETTING
    )
    return {
        f"{package_dir}/app.py": "app.include_router(orders.router)",
        "pyproject.toml": DEPENDENCY,
        "README.md": README_LINE,
        f"{package_dir}/settings.py": SETTING,
    }


TEAM_FILES = ["{package}/orders.py", "tests/test_orders.py"]
