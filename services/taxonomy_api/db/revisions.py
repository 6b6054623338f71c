"""The organisation's taxonomy revision: bumped by every flush that changes taxonomy content."""

import uuid
from itertools import chain
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.taxonomy_api.db.tables import (
    Achievement,
    Capability,
    Organisation,
    Pathway,
    ProficiencyScale,
    Role,
    Skill,
)
from shared.auth import current_caller
from shared.db import Database
from shared.read_cache import RevisionedCache

TAXONOMY_CONTENT = (ProficiencyScale, Capability, Skill, Role, Achievement, Pathway)


class TaxonomySession(Session):
    """The taxonomy service's sessions; a flush touching taxonomy content bumps the revision."""


@event.listens_for(TaxonomySession, "before_flush")
def _bump_revision(session: Session, _context: Any, _instances: Any) -> None:
    # Child rows (requirements, steps, tags) change through their parent, which is then dirty too.
    changed = chain(session.new, session.dirty, session.deleted)
    org_ids = {row.org_id for row in changed if isinstance(row, TAXONOMY_CONTENT) and row.org_id is not None}
    if org_ids:
        session.connection().execute(
            update(Organisation)
            .where(Organisation.id.in_(org_ids))
            .values(taxonomy_revision=Organisation.taxonomy_revision + 1)
        )
        session.info.setdefault("changed_orgs", set()).update(org_ids)
        caller = current_caller.get()
        if caller is not None:
            from services.taxonomy_api.domain.versions import record_author_sync  # a cycle at import time

            for org_id in org_ids:
                record_author_sync(session, org_id, caller.client_id)


async def bump_revision(session: AsyncSession, org_id: uuid.UUID) -> None:
    """For changes written with Core statements, which the flush hook above does not see."""
    await session.execute(
        update(Organisation)
        .where(Organisation.id == org_id)
        .values(taxonomy_revision=Organisation.taxonomy_revision + 1)
    )
    session.sync_session.info.setdefault("changed_orgs", set()).add(org_id)


@event.listens_for(TaxonomySession, "after_commit")
def _forget_local_revisions(session: Session) -> None:
    cache: RevisionedCache | None = session.info.get("read_cache")
    changed = session.info.pop("changed_orgs", set())
    if cache is not None and changed:
        cache.forget_revisions(changed)


@event.listens_for(TaxonomySession, "after_rollback")
def _drop_pending_changes(session: Session) -> None:
    session.info.pop("changed_orgs", None)


async def current_revision(database: Database, cache: RevisionedCache, org_id: uuid.UUID) -> int:
    """The organisation's taxonomy revision, from the cache while fresh, else one autocommit read
    shared by every request that finds it expired (one query per expiry, not one per request)."""

    async def read() -> int:
        async with database.autocommit_engine.connect() as connection:
            statement = select(Organisation.taxonomy_revision).where(Organisation.id == org_id)
            return await connection.scalar(statement) or 0

    return await cache.revision(org_id, read)
