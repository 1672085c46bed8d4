"""An example resource, end to end: bounded input, documented errors, async database access.

Copy its shape for new resources: every input has limits the database can hold, every status a
route can answer is in the OpenAPI document, and the database is used through the async session.
"""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from {{ cookiecutter.package_name }}.database.engines import get_session
from {{ cookiecutter.package_name }}.errors import Error, unavailable_response
from {{ cookiecutter.package_name }}.models import Item

# Ids are the database's INTEGER: larger values could never match and would overflow the query.
MAX_ID = 2**31 - 1

router = APIRouter(prefix="/items", tags=["items"], responses=unavailable_response)

SessionDep = Annotated[AsyncSession, Depends(get_session)]
ItemId = Annotated[int, Path(ge=1, le=MAX_ID)]


class ItemIn(BaseModel):
    # PostgreSQL text can't hold NUL characters: refused here (422) rather than by the database.
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$")


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    created_at: datetime


# FastAPI answers 400 itself when a body isn't UTF-8; documented so clients know to expect it.
unparsable_body: dict[int | str, dict[str, Any]] = {
    status.HTTP_400_BAD_REQUEST: {"model": Error, "description": "The body is not UTF-8"}
}


@router.post("", status_code=status.HTTP_201_CREATED, responses=unparsable_body)
async def create_item(body: ItemIn, session: SessionDep) -> ItemOut:
    item = Item(name=body.name)
    session.add(item)
    await session.commit()
    await session.refresh(item)
    return ItemOut.model_validate(item)


@router.get("")
async def list_items(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> list[ItemOut]:
    items = await session.scalars(select(Item).order_by(Item.id).limit(limit).offset(offset))
    return [ItemOut.model_validate(item) for item in items]


@router.get("/{item_id}", responses={status.HTTP_404_NOT_FOUND: {"model": Error}})
async def get_item(item_id: ItemId, session: SessionDep) -> ItemOut:
    item = await session.get(Item, item_id)
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"item {item_id} not found")
    return ItemOut.model_validate(item)
