"""Gap maths in SQL: set-based, one statement per report, no Python loop over employees.

Per requirement: verified = max(level × issuer weight) among the employee's facts neither revoked nor
expired (0 if none); shortfall = max(required − verified, 0); coverage = min(verified, required) / required
(1 for a level-0 requirement). Readiness = 100 × Σ(weight × coverage) / Σ weight (READINESS_FORMULA).
Verified levels are fractional once issuers are weighted; a requirement counts as met within MET_TOLERANCE,
so that 0.3 × 10 meets a level 3 whatever the floating-point rounding.
"""

import uuid
from collections import defaultdict
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

import orjson
from sqlalchemy import Float, Select, String, Uuid, and_, bindparam, case, cast, func, literal, or_, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql import ColumnElement, Subquery

from services.gap_engine.analysis.readiness import MET_TOLERANCE, READINESS_BUCKETS, meets  # noqa: F401
from services.gap_engine.db.tables import Employee, RoleRequirement, SkillFact, SyncedRole
from services.gap_engine.domain.roles import synced_role
from shared.db import UTCDateTime, utcnow
from shared.errors import NotFound, Unprocessable
from shared.schemas.gaps import (
    Candidate,
    CandidateList,
    GapReport,
    ReadinessBucket,
    RequirementGap,
    TeamGapReport,
    TeamRequirementGap,
)

# Unmet must-haves, then unmet should-haves, then met requirements.
_MUST_GAP, _SHOULD_GAP, _MET = 0, 1, 2


def verified_levels(org_id: uuid.UUID, now: datetime, employee_id: Any = None) -> Subquery:
    """(employee_id, skill_id, verified_level): max(level × issuer weight) over current facts."""
    statement = (
        select(
            SkillFact.employee_id,
            SkillFact.skill_id,
            func.max(SkillFact.level * SkillFact.weight).label("verified_level"),
        )
        .where(
            SkillFact.org_id == org_id,
            SkillFact.revoked.is_(False),
            or_(SkillFact.expires_at.is_(None), SkillFact.expires_at > now),
        )
        .group_by(SkillFact.employee_id, SkillFact.skill_id)
    )
    if employee_id is not None:
        statement = statement.where(SkillFact.employee_id == employee_id)
    return statement.subquery("verified")


def _requirement_columns(verified: Subquery) -> dict[str, ColumnElement[Any]]:
    level = cast(func.coalesce(verified.c.verified_level, 0), Float)
    required = RoleRequirement.required_level
    met = meets(level, required)
    shortfall = case((met, 0.0), else_=required - level)
    coverage = case(
        (required <= 0, 1.0),
        (met, 1.0),
        else_=level / required,
    )
    rank = case(
        (and_(~met, RoleRequirement.criticality == "must"), _MUST_GAP),
        (~met, _SHOULD_GAP),
        else_=_MET,
    )
    return {
        "skill_id": RoleRequirement.skill_id,
        "skill_name": RoleRequirement.skill_name,
        "criticality": RoleRequirement.criticality,
        "weight": RoleRequirement.weight,
        "required_level": RoleRequirement.required_level,
        "verified_level": verified.c.verified_level,
        "shortfall": shortfall.label("shortfall"),
        "coverage": coverage.label("coverage"),
        "rank": rank.label("rank"),
    }


def _requirement_gap(row: Any) -> RequirementGap:
    return RequirementGap(
        skill_id=row.skill_id,
        skill_name=row.skill_name,
        criticality=row.criticality,
        weight=row.weight,
        required_level=row.required_level,
        verified_level=None if row.verified_level is None else round(float(row.verified_level), 4),
        shortfall=round(float(row.shortfall), 4),
        met=row.rank == _MET,
    )


@cache
def _role_gap_statement() -> Select:
    """Built once with bound parameters: constructing this statement costs more than running it."""
    org_id, now = bindparam("org_id", type_=Uuid), bindparam("now", type_=UTCDateTime)
    employee = (
        select(Employee.id, Employee.hris_id, Employee.target_role_id, Employee.current_role_id)
        .where(Employee.org_id == org_id, Employee.hris_id == bindparam("hris_id", type_=String))
        .cte("employee")
    )
    chosen = func.coalesce(bindparam("role_id", type_=Uuid), employee.c.target_role_id, employee.c.current_role_id)
    verified = verified_levels(org_id, now, select(employee.c.id).scalar_subquery())
    columns = _requirement_columns(verified)
    return (
        select(
            employee.c.hris_id,
            chosen.label("role_id"),
            SyncedRole.name.label("role_name"),
            RoleRequirement.id.label("requirement_id"),
            *columns.values(),
        )
        .select_from(employee)
        .outerjoin(SyncedRole, and_(SyncedRole.org_id == org_id, SyncedRole.role_id == chosen))
        .outerjoin(
            RoleRequirement, and_(RoleRequirement.org_id == org_id, RoleRequirement.role_id == SyncedRole.role_id)
        )
        .outerjoin(verified, verified.c.skill_id == RoleRequirement.skill_id)
        .order_by(
            columns["rank"],
            (RoleRequirement.weight * columns["shortfall"]).desc(),
            RoleRequirement.skill_name,
        )
    )


@lru_cache(maxsize=8)
def _asyncpg_role_gap(dialect: Any) -> tuple[str, tuple[str, ...], dict[str, Any]]:
    """The statement compiled once to asyncpg's SQL, its parameter order and its constant parameters."""
    compiled = _role_gap_statement().compile(dialect=dialect)
    return compiled.string, tuple(compiled.positiontup or ()), dict(compiled.params)


async def _role_gap_rows(connection: AsyncSession | AsyncConnection, parameters: dict[str, Any]) -> list[Any]:
    """The report's rows as tuples. On an asyncpg connection without a transaction, straight through the
    driver (its prepared-statement cache): under load, SQLAlchemy's per-row result processing cost more
    than PostgreSQL's execution. Numeric columns may then come back as Decimal: the callers use float()."""
    if (
        isinstance(connection, AsyncConnection)
        and connection.dialect.driver == "asyncpg"
        and connection.sync_connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
    ):
        sql, order, constants = _asyncpg_role_gap(connection.dialect)
        driver = (await connection.get_raw_connection()).driver_connection
        arguments = {**constants, **parameters}
        try:
            return await driver.fetch(sql, *(arguments[name] for name in order))
        except Exception as error:
            if not driver.is_closed():
                raise
            # What SQLAlchemy does on its own path: a connection the server ended is discarded, not
            # handed to the next read, and its error is the DBAPIError the problem handlers answer 503.
            await connection.invalidate()
            raise DBAPIError.instance(None, None, error, Exception, connection_invalidated=True) from error
    return list((await connection.execute(_role_gap_statement(), parameters)).all())


def _report_payload(rows: list[Any], hris_id: str) -> dict[str, Any]:
    """The GapReport as JSON-ready values (what GapReport.model_dump(mode="json") gives), built from the
    rows without a model per requirement: per request, pydantic cost as much as the query."""
    if not rows:
        raise NotFound(f"No employee with HRIS id {hris_id!r} in this organisation.")
    first = rows[0]
    if first[1] is None:
        raise Unprocessable(f"Employee {hris_id!r} has no target or current role; pass role_id.")
    if first[2] is None:
        raise NotFound(
            f"Role {first[1]} has not been synced into the gap engine; POST /v1/roles/{first[1]}/sync first.",
        )
    requirements, total_weight, covered, must_gaps = [], 0.0, 0.0, 0
    for row in rows:
        if row[3] is None:
            continue
        _, _, _, _, skill_id, skill_name, criticality, weight, required, verified, shortfall, coverage, rank = row
        weight = float(weight)
        total_weight += weight
        covered += weight * float(coverage)
        must_gaps += rank == _MUST_GAP
        requirements.append(
            {
                "skill_id": str(skill_id),
                "skill_name": skill_name,
                "criticality": criticality,
                "weight": weight,
                "required_level": int(required),
                "verified_level": None if verified is None else round(float(verified), 4),
                "shortfall": round(float(shortfall), 4),
                "met": rank == _MET,
            }
        )
    readiness = 100.0 * covered / total_weight if total_weight else 100.0
    return {
        "hris_id": first[0],
        "role_id": str(first[1]),
        "role_name": first[2],
        "readiness": round(readiness, 2),
        "must_have_gaps": must_gaps,
        "requirements": requirements,
    }


def _parameters(org_id: uuid.UUID, hris_id: str, role_id: uuid.UUID | None, now: datetime | None) -> dict[str, Any]:
    return {"org_id": org_id, "hris_id": hris_id, "role_id": role_id, "now": now or utcnow()}


async def compute_role_gap(
    session: AsyncSession | AsyncConnection,
    org_id: uuid.UUID,
    hris_id: str,
    role_id: uuid.UUID | None = None,
    *,
    now: datetime | None = None,
) -> GapReport:
    """One employee against a role: the target role by default, else the current one. One statement (the
    employee, the role, its requirements and the verified levels), so a connection without a transaction
    serves it in one round trip."""
    rows = await _role_gap_rows(session, _parameters(org_id, hris_id, role_id, now))
    return GapReport.model_validate(_report_payload(rows, hris_id))


async def role_gap_json(
    connection: AsyncConnection,
    org_id: uuid.UUID,
    hris_id: str,
    role_id: uuid.UUID | None = None,
    *,
    now: datetime | None = None,
) -> bytes:
    """compute_role_gap serialised, without building the models: the HTTP route's path."""
    rows = await _role_gap_rows(connection, _parameters(org_id, hris_id, role_id, now))
    return orjson.dumps(_report_payload(rows, hris_id))


def _coverage_statement(
    org_id: uuid.UUID, role_id: uuid.UUID, now: datetime, team: str | None, people: ColumnElement[bool] | None = None
) -> Select:
    """Every employee (of `people`, when given) × every requirement of the role, with the verified level."""
    verified = verified_levels(org_id, now)
    statement = (
        select(Employee.id.label("employee_id"), *_requirement_columns(verified).values())
        .select_from(Employee)
        .join(RoleRequirement, and_(RoleRequirement.org_id == org_id, RoleRequirement.role_id == role_id))
        .outerjoin(
            verified,
            and_(verified.c.employee_id == Employee.id, verified.c.skill_id == RoleRequirement.skill_id),
        )
        .where(Employee.org_id == org_id)
    )
    if team is not None:
        statement = statement.where(Employee.team == team)
    if people is not None:
        statement = statement.where(people)
    return statement


async def rank_candidates(
    session: AsyncSession,
    org_id: uuid.UUID,
    role_id: uuid.UUID,
    *,
    team: str | None = None,
    limit: int = 50,
    people: ColumnElement[bool] | None = None,
    now: datetime | None = None,
) -> CandidateList:
    """Internal mobility: the organisation's employees by readiness for a role, with what they still lack;
    `people` narrows them (a manager's dashboard: their direct reports, domain/visibility.py)."""
    role = await synced_role(session, org_id, role_id)
    now = now or utcnow()
    coverage = _coverage_statement(org_id, role_id, now, team, people).subquery("coverage")
    readiness = (100.0 * func.sum(coverage.c.weight * coverage.c.coverage) / func.sum(coverage.c.weight)).label(
        "readiness"
    )
    must_gaps = func.sum(case((coverage.c.rank == _MUST_GAP, 1), else_=0)).label("must_have_gaps")
    ranked = (
        select(Employee.id, Employee.hris_id, Employee.name, Employee.team, readiness, must_gaps)
        .join(coverage, coverage.c.employee_id == Employee.id)
        .group_by(Employee.id, Employee.hris_id, Employee.name, Employee.team)
        .order_by(readiness.desc(), must_gaps, Employee.hris_id)
        .limit(limit)
    )
    top = (await session.execute(ranked)).all()
    gaps_by_employee: dict[uuid.UUID, list[RequirementGap]] = defaultdict(list)
    if top:
        remaining = (
            select(coverage)
            .where(coverage.c.employee_id.in_([row.id for row in top]), coverage.c.shortfall > literal(0))
            .order_by(coverage.c.rank, (coverage.c.weight * coverage.c.shortfall).desc(), coverage.c.skill_name)
        )
        for row in (await session.execute(remaining)).all():
            gaps_by_employee[row.employee_id].append(_requirement_gap(row))
    return CandidateList(
        role_id=role_id,
        role_name=role.name,
        candidates=[
            Candidate(
                hris_id=row.hris_id,
                name=row.name,
                team=row.team,
                readiness=round(float(row.readiness), 2),
                must_have_gaps=int(row.must_have_gaps),
                gaps=gaps_by_employee[row.id],
            )
            for row in top
        ],
    )


async def compute_team_gaps(
    session: AsyncSession,
    org_id: uuid.UUID,
    team: str,
    role_id: uuid.UUID | None = None,
    *,
    now: datetime | None = None,
) -> TeamGapReport:
    """A team against a role (or each member against their own target, else current, role): the share
    meeting each requirement, the weighted shortfall, and the readiness distribution, in three queries."""
    headcount = await session.scalar(
        select(func.count()).select_from(Employee).where(Employee.org_id == org_id, Employee.team == team)
    )
    if not headcount:
        raise NotFound(f"No employee in team {team!r} in this organisation.")
    if role_id is not None:
        await synced_role(session, org_id, role_id)
    verified = verified_levels(org_id, now or utcnow())
    role_of = func.coalesce(Employee.target_role_id, Employee.current_role_id) if role_id is None else literal(role_id)
    coverage = (
        select(Employee.id.label("employee_id"), RoleRequirement.role_id, *_requirement_columns(verified).values())
        .select_from(Employee)
        .join(RoleRequirement, and_(RoleRequirement.org_id == org_id, RoleRequirement.role_id == role_of))
        .outerjoin(
            verified,
            and_(verified.c.employee_id == Employee.id, verified.c.skill_id == RoleRequirement.skill_id),
        )
        .where(Employee.org_id == org_id, Employee.team == team)
        .subquery("coverage")
    )
    weighted_shortfall = func.sum(coverage.c.weight * coverage.c.shortfall).label("weighted_shortfall")
    per_requirement = (
        select(
            coverage.c.role_id,
            SyncedRole.name.label("role_name"),
            coverage.c.skill_id,
            coverage.c.skill_name,
            coverage.c.criticality,
            coverage.c.required_level,
            func.count().label("headcount"),
            func.sum(case((coverage.c.rank == _MET, 1), else_=0)).label("meeting"),
            weighted_shortfall,
        )
        .join(SyncedRole, and_(SyncedRole.org_id == org_id, SyncedRole.role_id == coverage.c.role_id))
        .group_by(
            coverage.c.role_id,
            SyncedRole.name,
            coverage.c.skill_id,
            coverage.c.skill_name,
            coverage.c.criticality,
            coverage.c.required_level,
        )
        .order_by(weighted_shortfall.desc(), SyncedRole.name, coverage.c.skill_name)
    )
    readiness = (
        select((100.0 * func.sum(coverage.c.weight * coverage.c.coverage) / func.sum(coverage.c.weight)).label("r"))
        .group_by(coverage.c.employee_id)
        .subquery("readiness")
    )
    last = len(READINESS_BUCKETS) - 1
    bucket_counts = [
        func.sum(
            case(
                (and_(readiness.c.r >= lower, readiness.c.r <= upper if i == last else readiness.c.r < upper), 1),
                else_=0,
            )
        )
        for i, (lower, upper) in enumerate(READINESS_BUCKETS)
    ]
    summary = (await session.execute(select(func.count(), func.avg(readiness.c.r), *bucket_counts))).one()
    rows = (await session.execute(per_requirement)).all()
    return TeamGapReport(
        team=team,
        role_id=role_id,
        headcount=headcount,
        assessed=summary[0],
        mean_readiness=round(float(summary[1]), 2) if summary[1] is not None else None,
        readiness_distribution=[
            ReadinessBucket(lower=lower, upper=upper, count=int(count or 0))
            for (lower, upper), count in zip(READINESS_BUCKETS, summary[2:], strict=True)
        ],
        requirements=[
            TeamRequirementGap(
                role_id=row.role_id,
                role_name=row.role_name,
                skill_id=row.skill_id,
                skill_name=row.skill_name,
                criticality=row.criticality,
                required_level=row.required_level,
                headcount=row.headcount,
                meeting=int(row.meeting),
                share_meeting=round(int(row.meeting) / row.headcount, 4),
                weighted_shortfall=float(row.weighted_shortfall),
            )
            for row in rows
        ],
    )
