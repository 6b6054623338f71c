"""The taxonomy's governance audit log: submissions, reviews, publications, policy changes and imports,
append-only and hash-chained per organisation (shared/audit_chain.py), exportable and checkable."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.tables import GovernanceEvent, Organisation
from shared.audit_chain import GENESIS, entry_hash, first_broken
from shared.db import utcnow


def _content(sequence: int, at: datetime, actor: str, action: str, subject: str, detail: dict[str, Any]) -> dict:
    return {
        "sequence": sequence,
        "at": at.isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "subject": subject,
        "detail": detail,
    }


async def append(
    session: AsyncSession, org_id: uuid.UUID, actor: str, action: str, subject: str, detail: dict[str, Any]
) -> GovernanceEvent:
    """Adds the next event of the organisation's chain. The organisation's row is locked first, so two
    appends (two replicas) never read the same last hash; SQLite serialises writers anyway."""
    await session.execute(select(Organisation.id).where(Organisation.id == org_id).with_for_update())
    last = await session.scalar(
        select(GovernanceEvent)
        .where(GovernanceEvent.org_id == org_id)
        .order_by(GovernanceEvent.sequence.desc())
        .limit(1)
    )
    sequence = (last.sequence if last else 0) + 1
    previous_hash = last.hash if last else GENESIS
    at = utcnow()
    content = _content(sequence, at, actor, action, subject, detail)
    event = GovernanceEvent(
        org_id=org_id,
        sequence=sequence,
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        detail=detail,
        previous_hash=previous_hash,
        hash=entry_hash(previous_hash, content),
    )
    session.add(event)
    await session.flush()
    return event


def describe_event(event: GovernanceEvent) -> dict[str, Any]:
    return {
        **_content(event.sequence, event.at, event.actor, event.action, event.subject, event.detail),
        "previous_hash": event.previous_hash,
        "hash": event.hash,
    }


async def verify(session: AsyncSession, org_id: uuid.UUID) -> dict[str, Any]:
    """Recomputes the organisation's chain from the first event: valid, or the first broken sequence."""
    events = await session.scalars(
        select(GovernanceEvent).where(GovernanceEvent.org_id == org_id).order_by(GovernanceEvent.sequence)
    )
    rows = [
        (e.sequence, e.previous_hash, e.hash, _content(e.sequence, e.at, e.actor, e.action, e.subject, e.detail))
        for e in events
    ]
    broken = first_broken(rows)
    return {"valid": broken is None, "events": len(rows), "first_broken_sequence": broken}
