"""The rows of one issuance written in one prebuilt statement: the assessment result (when there is one),
the credential, its audit entry, its outbox event and the deliveries owed to subscriptions.

On PostgreSQL they are data-modifying CTEs of the outbox's own statement (outbox.emit_statement), built
once with bound parameters: one round trip, no ORM unit of work, no statement compiled per request
(the ORM flush of three objects plus the event was four round trips and most of the CPU spent around
them). Foreign keys are checked at the end of the statement, when every row exists. SQLite runs the
same rows as Core inserts, one a table, then the outbox's own path. Either way nothing is committed:
the caller's transaction holds the credential, its status index, audit entry and event together.
"""

import functools
import uuid
from typing import Any

from sqlalchemy import CTE, Insert, Table, bindparam, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.db.tables import AssessmentResult, AuditEvent, Credential
from services.badge_issuer.domain import outbox

RESULT_COLUMNS = (
    "id",
    "org_id",
    "issuer_id",
    "achievement_id",
    "learner_hris_id",
    "learner_email",
    "learner_did",
    "score",
    "rubric_level",
    "evidence",
    "assessor",
    "completed_at",
    "outcome",
    "refusal_reason",
    "created_at",
)
CREDENTIAL_COLUMNS = (
    "id",
    "org_id",
    "issuer_id",
    "key_id",
    "assessment_result_id",
    "achievement_id",
    "achievement_tier",
    "learner_hris_id",
    "learner_key",
    "capstone_pathway_id",
    "capstone_achievement_id",
    "proof_format",
    "document",
    "compact_jwt",
    "status_list_id",
    "status_index",
    "issued_at",
)
AUDIT_COLUMNS = ("id", "org_id", "action", "subject_id", "actor", "detail", "created_at")
_PARTS = {"result": RESULT_COLUMNS, "credential": CREDENTIAL_COLUMNS, "audit": AUDIT_COLUMNS}


async def write_issuance(
    session: AsyncSession,
    *,
    credential: dict[str, Any],
    audit: dict[str, Any],
    event: dict[str, Any],
    assessment_result: dict[str, Any] | None,
) -> str:
    """Write the rows (each holding exactly its table's columns above; `event` from
    outbox.event_parameters); returns the event's id."""
    rows = {"credential": credential, "audit": audit}
    if assessment_result is not None:
        rows["result"] = assessment_result
    for part, row in rows.items():
        if row.keys() != set(_PARTS[part]):
            raise ValueError(f"{part} row: columns {sorted(row)} are not {sorted(_PARTS[part])}")
    if session.bind.dialect.name == "postgresql":
        parameters = dict(event)
        for part, row in rows.items():
            parameters.update({f"{part}_{name}": value for name, value in row.items()})
        await session.execute(_issuance_statement(assessment_result is not None), parameters)
        return event["id"]
    if assessment_result is not None:
        await session.execute(insert(AssessmentResult.__table__), assessment_result)
    await session.execute(insert(Credential.__table__), credential)
    await session.execute(insert(AuditEvent.__table__), audit)
    data = event["payload"]["data"]
    return await outbox.emit(session, uuid.UUID(str(event["org_id"])), event["type"], data)


@functools.cache
def _issuance_statement(with_result: bool) -> Insert:
    """outbox.emit_statement() with the issuance's inserts as CTEs beside its event (PostgreSQL runs
    every data-modifying CTE, referenced or not)."""
    parts: list[tuple[Table, str]] = [(Credential.__table__, "credential"), (AuditEvent.__table__, "audit")]  # type: ignore[list-item]
    if with_result:
        parts.insert(0, (AssessmentResult.__table__, "result"))  # type: ignore[arg-type]
    return outbox.emit_statement().add_cte(*(_insert_cte(table, part) for table, part in parts))


def _insert_cte(table: Table, part: str) -> CTE:
    values = {name: bindparam(f"{part}_{name}", type_=table.c[name].type) for name in _PARTS[part]}
    return insert(table).values(values).returning(table.c.id).cte(f"{part}_row")
