"""Append-only audit trail of issuer events, written in the transaction of the change it records."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.db.tables import AuditEvent


def record(
    session: AsyncSession, org_id: uuid.UUID, action: str, subject_id: str, actor: str, detail: dict[str, Any]
) -> None:
    session.add(AuditEvent(org_id=org_id, action=action, subject_id=subject_id, actor=actor, detail=detail))
