"""An example resource, end to end: request and response schemas, a model, create/list/get."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from {{ cookiecutter.package_name }}.db import get_session
from {{ cookiecutter.package_name }}.models import Item

router = APIRouter(prefix="/items", tags=["items"])

SessionDep = Annotated[Session, Depends(get_session)]


class ItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    created_at: datetime


@router.post("", status_code=status.HTTP_201_CREATED)
def create_item(body: ItemIn, session: SessionDep) -> ItemOut:
    item = Item(name=body.name)
    session.add(item)
    session.commit()
    session.refresh(item)
    return ItemOut.model_validate(item)


@router.get("")
def list_items(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[ItemOut]:
    items = session.scalars(select(Item).order_by(Item.id).limit(limit).offset(offset))
    return [ItemOut.model_validate(item) for item in items]


@router.get("/{item_id}")
def get_item(item_id: int, session: SessionDep) -> ItemOut:
    item = session.get(Item, item_id)
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"item {item_id} not found")
    return ItemOut.model_validate(item)
