"""The rows of one issuance written in one prebuilt statement: the assessment result (when there is one),
the credential, its audit entry, its outbox event and the deliveries owed to subscriptions.

On PostgreSQL they are data-modifying CTEs of the outbox's own statement (outbox.emit_statement), built
once with bound parameters: one round trip, no ORM unit of work, no statement compiled per request
(the ORM flush of three objects plus the event was four round trips and most of the CPU spent around
them). Foreign keys are checked at the end of the statement, when every row exists. SQLite runs the
same rows as Core inserts, one a table, then the outbox's own path. Either way nothing is committed:
the caller's transaction holds the credential, its status index, audit entry and event together.

A bulk group defers them further (DeferredIssuances): each issuance's parameters are kept, and the
group sends them as one pipelined executemany before its commit, instead of an INSERT and a savepoint
pair per item. What an issuance reads about the learner's earlier credentials (capstones.py) looks at
the kept rows too, so a group sees its own items as a sequence of single POSTs would.
"""

import functools
import uuid
from dataclasses import dataclass, field
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
        deferred = DeferredIssuances.of(session)
        if deferred is not None:
            deferred.keep(assessment_result is not None, parameters, credential)
        else:
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


@dataclass(eq=False)
class DeferredIssuances:
    """The issuances of one bulk group not yet sent (PostgreSQL only): their statement parameters, and
    per learner what they hold, for the reads that must see them before they are written."""

    SESSION_KEY = "deferred_issuances"

    waiting: list[tuple[bool, dict[str, Any]]] = field(default_factory=list)
    # (learner_key, achievement_id, credential_id) of every credential kept, sent or not.
    held: list[tuple[str, uuid.UUID, uuid.UUID]] = field(default_factory=list)
    locked_learners: set[str] = field(default_factory=set)  # their capstone lock is this transaction's
    # capstones.held_achievements' database answers, per (learner, achievements asked), until a send.
    read_cache: dict[tuple[str, frozenset[uuid.UUID]], set[uuid.UUID]] = field(default_factory=dict)

    @property
    def sent(self) -> int:
        """How many of `held` went out in an earlier send of this transaction (the rest are waiting)."""
        return len(self.held) - len(self.waiting)

    @classmethod
    def of(cls, session: AsyncSession) -> "DeferredIssuances | None":
        return session.info.get(cls.SESSION_KEY)

    def start(self, session: AsyncSession) -> None:
        session.info[self.SESSION_KEY] = self

    @classmethod
    def stop(cls, session: AsyncSession) -> None:
        session.info.pop(cls.SESSION_KEY, None)

    def keep(self, with_result: bool, parameters: dict[str, Any], credential: dict[str, Any]) -> None:
        self.waiting.append((with_result, parameters))
        self.held.append((credential["learner_key"], credential["achievement_id"], credential["id"]))

    def held_by(self, learner_key: str, among: set[uuid.UUID], besides: uuid.UUID | None) -> set[uuid.UUID]:
        return {
            achievement
            for learner, achievement, credential_id in self.held
            if learner == learner_key and achievement in among and credential_id != besides
        }

    def forget_reads_of(self, learner_key: str) -> None:
        for cache_key in [cache_key for cache_key in self.read_cache if cache_key[0] == learner_key]:
            del self.read_cache[cache_key]

    def mark(self) -> int:
        """Where an item starts: rollback_to(mark) forgets what it kept, unless it was already sent."""
        return len(self.held)

    def rollback_to(self, mark: int) -> bool:
        """Forget what was kept since `mark`; False when some of it was sent (only a rollback of the
        transaction can take it back)."""
        sent = self.sent
        if sent > mark:
            return False
        del self.waiting[mark - sent :]
        del self.held[mark:]
        return True

    async def send(self, session: AsyncSession) -> None:
        """Write everything kept, one executemany per statement shape (asyncpg pipelines it: one round
        trip), so a read after it sees the rows."""
        for with_result in (True, False):
            batch = [parameters for shaped, parameters in self.waiting if shaped is with_result]
            if batch:
                await session.execute(_issuance_statement(with_result), batch)
        self.waiting.clear()
        self.read_cache.clear()
