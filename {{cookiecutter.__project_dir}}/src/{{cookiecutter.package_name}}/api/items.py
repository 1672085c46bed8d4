"""An example resource, end to end: bounded input, documented errors, async database access.

Copy its shape for new resources: every input has limits the database can hold, every status a
route can answer is in the OpenAPI document, and the database is used through an async
connection, held only inside `async with db.connect()`: SQLAlchemy Core statements on the model's
columns, built once with bound parameters, rows validated into the response model (no ORM objects
built and tracked per row). A route that only reads takes ReadDatabase (no transaction around its
one statement); one that writes takes Database, and commits before it answers. Every route names
the scopes its caller needs (`requires`, access.py).
"""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import bindparam, insert, select

from {{ cookiecutter.package_name }}.access import access_responses, requires
from {{ cookiecutter.package_name }}.database.engines import Database, ReadDatabase
from {{ cookiecutter.package_name }}.database.models import Item
{{ "from %s.jobs.enqueue import defer_process_item\n" % cookiecutter.package_name if cookiecutter.worker == "yes" -}}
from {{ cookiecutter.package_name }}.web.errors import Error, unavailable_response

# Ids are the database's INTEGER: larger values could never match and would overflow the query.
MAX_ID = 2**31 - 1

router = APIRouter(
    prefix="/items",
    tags=["items"],
    responses=unavailable_response | access_responses,
)

ItemId = Annotated[int, Path(ge=1, le=MAX_ID)]
# What a response holds: the statements select (or return) exactly these.
ITEM_COLUMNS = (Item.id, Item.name, Item.created_at)
# Each statement is built once and its values are bound when it runs: building it again for
# every request took about a third of a read's CPU time.
CREATE_ITEM = insert(Item).returning(*ITEM_COLUMNS)
LIST_ITEMS = (
    select(*ITEM_COLUMNS).order_by(Item.id).limit(bindparam("limit")).offset(bindparam("offset"))
)
GET_ITEM = select(*ITEM_COLUMNS).where(Item.id == bindparam("item_id"))


class ItemIn(BaseModel):
    # PostgreSQL text can't hold NUL characters: refused here (422) rather than by the database.
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$")


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # validated from result rows

    id: int
    name: str
    created_at: datetime


# FastAPI answers 400 itself when a body isn't UTF-8; documented so clients know to expect it.
unparsable_body: dict[int | str, dict[str, Any]] = {
    status.HTTP_400_BAD_REQUEST: {"model": Error, "description": "The body is not UTF-8"}
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=unparsable_body,
    dependencies=requires("items:write"),
)
async def create_item(body: ItemIn, db: Database) -> ItemOut:
    async with db.connect() as connection:
        # One statement: the INSERT returns the columns the database fills (id, created_at).
        row = (await connection.execute(CREATE_ITEM, {"name": body.name})).one()
        item = ItemOut.model_validate(row)
{%- if cookiecutter.worker == "yes" %}
        # Its background job, in the same transaction: the commit stores both, or neither.
        await defer_process_item(connection, item.id)
{%- endif %}
        await connection.commit()  # before answering: a 201 means the row is there
    return item


@router.get("", dependencies=requires("items:read"))
async def list_items(
    db: ReadDatabase,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> list[ItemOut]:
    async with db.connect() as connection:
        rows = (await connection.execute(LIST_ITEMS, {"limit": limit, "offset": offset})).all()
    return [ItemOut.model_validate(row) for row in rows]


@router.get(
    "/{item_id}",
    responses={status.HTTP_404_NOT_FOUND: {"model": Error}},
    dependencies=requires("items:read"),
)
async def get_item(item_id: ItemId, db: ReadDatabase) -> ItemOut:
    async with db.connect() as connection:
        row = (await connection.execute(GET_ITEM, {"item_id": item_id})).first()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"item {item_id} not found")
    return ItemOut.model_validate(row)
