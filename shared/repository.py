"""Data access scoped to one organisation: the only way domain code reaches tenant rows."""

import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from shared.errors import Conflict, NotFound
from shared.grammar import with_article
from shared.pagination import MAX_PAGE_SIZE, paginate

M = TypeVar("M")
# A refused delete names at most this many of the objects that still refer to the one deleted.
MAX_REFERRERS_NAMED = 20
_BLOCKING_ON_DELETE = (None, "RESTRICT", "NO ACTION")


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
            article = with_article(self.noun)
            raise Conflict(
                f"{article[0].upper()}{article[1:]} named {name!r} already exists in this organisation.", name=name
            )

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
        """Refused with a 409 naming what still refers to it (read from the foreign keys that block a
        delete, so every resource gets it); the database's own refusal stays as the guard for a race."""
        referrers = await self.referrers(instance.id)  # type: ignore[attr-defined]
        if referrers:
            named = ", ".join(f"{r['kind']} {r['name']!r} ({r['id']})" for r in referrers[:5])
            more = " and more" if len(referrers) > 5 else ""
            raise Conflict(
                f"This {self.noun} is still referred to by {named}{more}; remove those references first.",
                referenced_by=referrers,
            )
        await self.session.delete(instance)
        try:
            await self.session.flush()
        except IntegrityError as exc:
            await self.session.rollback()
            raise Conflict(f"This {self.noun} is still referenced elsewhere; remove those references first.") from exc

    async def referrers(self, object_id: uuid.UUID) -> list[dict[str, Any]]:
        """The organisation's objects whose foreign keys forbid deleting this one, as {kind, id, name},
        at most MAX_REFERRERS_NAMED. A link row (a role's requirement) is named by its owner (the
        role): the object its row is deleted with (ON DELETE CASCADE)."""
        target: Table = self.model.__table__  # type: ignore[attr-defined]
        mapped = {mapper.local_table: mapper.class_ for mapper in self.model.registry.mappers}  # type: ignore[attr-defined]
        found: list[dict[str, Any]] = []
        for table in target.metadata.sorted_tables:
            for key in table.foreign_keys:
                if key.column.table is not target or key.ondelete not in _BLOCKING_ON_DELETE:
                    continue
                owner, owner_key = table, None
                if "name" not in table.c or "org_id" not in table.c:
                    owner_key = next((k for k in table.foreign_keys if k.ondelete == "CASCADE" and k is not key), None)
                    if owner_key is None:
                        continue
                    owner = owner_key.column.table
                if "name" not in owner.c or "org_id" not in owner.c or owner not in mapped:
                    continue
                statement = select(owner.c.id, owner.c.name).where(owner.c.org_id == self.org_id)
                if owner_key is None:
                    statement = statement.where(key.parent == object_id)
                else:
                    statement = statement.join(table, owner_key.parent == owner_key.column).where(
                        key.parent == object_id
                    )
                statement = statement.distinct().order_by(owner.c.name).limit(MAX_REFERRERS_NAMED - len(found))
                kind = re.sub(r"(?<!^)(?=[A-Z])", " ", mapped[owner].__name__).lower()  # "proficiency scale"
                for row in await self.session.execute(statement):
                    referrer = {"kind": kind, "id": str(row.id), "name": row.name}
                    if referrer not in found:  # a pathway refers to its capstone and to its steps
                        found.append(referrer)
                if len(found) >= MAX_REFERRERS_NAMED:
                    return found
        return found

    async def page(
        self,
        statement: Select,
        order_by: Sequence[InstrumentedAttribute],
        *,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[M], str | None]:
        return await paginate(self.session, statement, order_by, cursor=cursor, limit=min(limit, MAX_PAGE_SIZE))
