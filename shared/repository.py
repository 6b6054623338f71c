"""Data access scoped to one organisation: the only way domain code reaches tenant rows."""

import uuid
from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from shared.errors import Conflict, NotFound
from shared.pagination import MAX_PAGE_SIZE, paginate

M = TypeVar("M")


class TenantRepository(Generic[M]):
    """Every statement it builds is filtered by the caller's organisation; another tenant's row is a 404."""

    def __init__(self, session: AsyncSession, org_id: uuid.UUID, model: type[M], noun: str) -> None:
        self.session = session
        self.org_id = org_id
        self.model = model
        self.noun = noun

    def select(self, *criteria: Any) -> Select:
        return select(self.model).where(self.model.org_id == self.org_id, *criteria)  # type: ignore[attr-defined]

    async def get(self, object_id: uuid.UUID) -> M:
        found = await self.session.scalar(self.select(self.model.id == object_id))  # type: ignore[attr-defined]
        if found is None:
            raise NotFound(f"No {self.noun} with id {object_id} in this organisation.")
        return found

    async def get_many(self, object_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, M]:
        wanted = set(object_ids)
        if not wanted:
            return {}
        rows = await self.session.scalars(self.select(self.model.id.in_(wanted)))  # type: ignore[attr-defined]
        found = {row.id: row for row in rows}  # type: ignore[attr-defined]
        missing = sorted(str(object_id) for object_id in wanted - found.keys())
        if missing:
            raise NotFound(f"No {self.noun} with id {', '.join(missing)} in this organisation.", missing=missing)
        return found

    async def name_taken(self, name: str, *, except_id: uuid.UUID | None = None) -> bool:
        statement = self.select(self.model.name == name)  # type: ignore[attr-defined]
        if except_id is not None:
            statement = statement.where(self.model.id != except_id)  # type: ignore[attr-defined]
        return await self.session.scalar(statement.limit(1)) is not None

    async def ensure_name_free(self, name: str, *, except_id: uuid.UUID | None = None) -> None:
        if await self.name_taken(name, except_id=except_id):
            raise Conflict(f"A {self.noun} named {name!r} already exists in this organisation.", name=name)

    async def claim_name(self, name: str, object_id: uuid.UUID | None) -> M | None:
        """Before a create (no id) or a replace (id): the object being replaced, 404 if it is not the
        caller's (checked first, so nothing is revealed about names), then 409 if the name is taken."""
        existing = await self.get(object_id) if object_id is not None else None
        await self.ensure_name_free(name, except_id=object_id)
        return existing

    def add(self, instance: M) -> M:
        instance.org_id = self.org_id  # type: ignore[attr-defined]
        self.session.add(instance)
        return instance

    async def delete(self, instance: M) -> None:
        await self.session.delete(instance)
        try:
            await self.session.flush()
        except IntegrityError as exc:
            await self.session.rollback()
            raise Conflict(f"This {self.noun} is still referenced elsewhere; remove those references first.") from exc

    async def page(
        self,
        statement: Select,
        order_by: Sequence[InstrumentedAttribute],
        *,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[M], str | None]:
        return await paginate(self.session, statement, order_by, cursor=cursor, limit=min(limit, MAX_PAGE_SIZE))
