"""Append-only audit trail of issuer events, written in the transaction of the change it records."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.db.tables import AuditEvent
from shared.db import utcnow


def record(
    session: AsyncSession, org_id: uuid.UUID, action: str, subject_id: str, actor: str, detail: dict[str, Any]
) -> None:
    session.add(AuditEvent(org_id=org_id, action=action, subject_id=subject_id, actor=actor, detail=detail))


def row(org_id: uuid.UUID, action: str, subject_id: str, actor: str, detail: dict[str, Any]) -> dict[str, Any]:
    """The same entry as a row of values, for a statement that writes it with the change it records."""
    return {
        "id": uuid.uuid4(),
        "org_id": org_id,
        "action": action,
        "subject_id": subject_id,
        "actor": actor,
        "detail": detail,
        "created_at": utcnow(),
    }
