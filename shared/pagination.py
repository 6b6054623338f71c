"""Cursor (keyset) pagination shared by every list endpoint."""

import base64
import binascii
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, Field
from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from shared.errors import Unprocessable

T = TypeVar("T")
MAX_PAGE_SIZE = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="Pass as `cursor` to get the next page; null at the end.")


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([str(value) for value in values])).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> list[str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise Unprocessable("The cursor is not valid; use the next_cursor of a previous page.") from exc
    if not isinstance(values, list) or len(values) != width or not all(isinstance(v, str) for v in values):
        raise Unprocessable("The cursor is not valid; use the next_cursor of a previous page.")
    return values


async def paginate(
    session: AsyncSession,
    statement: Select,
    order_by: Sequence[InstrumentedAttribute],
    *,
    cursor: str | None,
    limit: int,
) -> tuple[list[Any], str | None]:
    """Keyset pagination over `order_by` (its last column must be unique, e.g. the id)."""
    if cursor:
        raw = decode_cursor(cursor, len(order_by))
        values = [_coerce(column, value) for column, value in zip(order_by, raw, strict=True)]
        statement = statement.where(tuple_(*order_by) > tuple_(*values))
    rows = list((await session.scalars(statement.order_by(*order_by).limit(limit + 1))).unique())
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode_cursor([getattr(last, column.key) for column in order_by])


def _coerce(column: InstrumentedAttribute, value: str) -> Any:
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return value
    try:
        return python_type(value)
    except (TypeError, ValueError) as exc:
        raise Unprocessable("The cursor is not valid; use the next_cursor of a previous page.") from exc
