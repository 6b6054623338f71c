"""Stored organisation, department and team gap reports, kept current without a full recompute per event.

The organisation report is held as aggregates (gap_report_cells: per role × skill headcount, meeting and
Σ weight × shortfall; gap_report_employees: each person's role, groups and readiness) plus its serialised
body. Department and team reports are computed for their members only, on demand, and stored until marked
stale. Everything is computed by the same set-based statements (`_staff`, `_employee_rows`, `_cell_rows`),
whether over the whole organisation or over a handful of people, so the incremental path and a full
recompute agree (tests/gap_engine/test_snapshots.py checks it after random events).

What keeps them current is one explicit path, `keeping_reports_current`, which every domain function
that changes what counts wraps its write in (received_credentials.sync_facts, skill_facts, the HRIS
employee upsert, role sync), so a reader of those functions sees that the write moves the reports:
- skill facts added, changed or removed, an employee created or moved (role, team, department): the
  affected employees' contribution to the cells is computed before the write and after it, in the same
  transaction, and the difference added; their own rows are replaced; the bodies of the organisation and
  of their old and new departments and teams are marked stale (rebuilt on the next read);
- role requirements changing (role sync, taxonomy refresh): the same path for everyone measured against
  the role in either basis (about 200 people per role at 100k employees); past MAX_INCREMENTAL_EMPLOYEES
  people, the stored report is marked stale instead and recomputed in full on the next read (a few
  seconds at 100k employees).
While an event is applied, the organisation's state rows are locked (SELECT … FOR UPDATE), so events and
recomputes of one organisation apply one at a time. Facts are counted as current at the stored report's
`as_of`; once the first of them expires (valid_until), the next read recomputes in full. A write that
does not go through the path is not seen: a recompute (recompute_organisation) repairs it.
"""

import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

import orjson
from sqlalchemy import (
    Float,
    Numeric,
    Select,
    Uuid,
    and_,
    bindparam,
    case,
    cast,
    column,
    delete,
    func,
    literal,
    or_,
    select,
    table,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.selectable import CTE

from services.gap_engine.analysis.readiness import READINESS_BUCKETS, meets
from services.gap_engine.db.tables import (
    Employee,
    GapReportBody,
    GapReportCell,
    GapReportEmployee,
    GapReportState,
    RoleRequirement,
    SkillFact,
    SyncedRole,
)
from shared.db import Database, UTCDateTime, utcnow
from shared.errors import NotFound
from shared.etag import etag_for
from shared.schemas.gap_reports import Basis, GapGroupReport, GroupSkillCell, GroupSummary, RoleSkillCell, Scope
from shared.schemas.gaps import ReadinessBucket

BASES: tuple[Basis, ...] = ("current", "target")
TOP_GAPS = 20
ORGANISATION, DEPARTMENT, TEAM = "organisation", "department", "team"
GROUPED = {ORGANISATION: DEPARTMENT, DEPARTMENT: TEAM, TEAM: None}
_EMPLOYEE_FIELDS = ("current_role_id", "target_role_id", "team", "department")


# --- the maths, one set of statements for every scope ---------------------------------------------------


def _role_of(basis: str) -> ColumnElement[Any]:
    if basis == "current":
        return Employee.current_role_id
    return func.coalesce(Employee.target_role_id, Employee.current_role_id)


def _staff(org_id: uuid.UUID, basis: str, where: ColumnElement[bool] | None) -> CTE:
    """The people in scope with the role they are measured against."""
    statement = select(
        Employee.id.label("employee_id"), _role_of(basis).label("role_id"), Employee.team, Employee.department
    ).where(Employee.org_id == org_id)
    if where is not None:
        statement = statement.where(where)
    return statement.cte("staff")


def _verified(org_id: uuid.UUID, basis: str, as_of: datetime, where: ColumnElement[bool] | None) -> CTE:
    """Only facts bearing on a requirement of the person's role: a requirement without one counts as 0,
    so nothing expands people × requirements. The people are read from employees itself, not from the
    staff CTE: PostgreSQL then hashes the 100k people and streams the million facts past them (against
    the CTE it hashed the million facts), and may scan them in parallel."""
    role = _role_of(basis)
    statement = (
        select(
            Employee.id.label("employee_id"),
            RoleRequirement.role_id,
            RoleRequirement.skill_id,
            RoleRequirement.weight,
            RoleRequirement.required_level,
            func.max(SkillFact.level * SkillFact.weight).label("level"),
            func.min(SkillFact.expires_at).label("expires_at"),
        )
        .select_from(SkillFact)
        .join(Employee, and_(Employee.org_id == org_id, Employee.id == SkillFact.employee_id))
        .join(
            RoleRequirement,
            and_(
                RoleRequirement.org_id == org_id,
                RoleRequirement.role_id == role,
                RoleRequirement.skill_id == SkillFact.skill_id,
            ),
        )
        .where(
            SkillFact.org_id == org_id,
            SkillFact.revoked.is_(False),
            or_(SkillFact.expires_at.is_(None), SkillFact.expires_at > as_of),
        )
        # The requirement's key determines its role, skill, weight and level (PostgreSQL sees that from the
        # primary key): two grouping keys instead of five for the aggregate over 650k rows.
        .group_by(Employee.id, RoleRequirement.id)
    )
    if where is not None:
        statement = statement.where(where)
    return statement.cte("verified")


def _credited(verified: CTE) -> ColumnElement[Any]:
    """The part of the required level a verified level covers: min(verified, required), 0 for level 0."""
    required = verified.c.required_level
    return case(
        (required <= 0, 0.0),
        (meets(verified.c.level, required), cast(required, Float)),
        else_=cast(verified.c.level, Float),
    )


Parts = tuple[CTE, CTE]


def _parts(org_id: uuid.UUID, basis: str, as_of: datetime, where: ColumnElement[bool] | None) -> Parts:
    return _staff(org_id, basis, where), _verified(org_id, basis, as_of, where)


def _employee_rows(
    org_id: uuid.UUID, basis: str, as_of: datetime, where: ColumnElement[bool] | None, parts: Parts | None = None
) -> Select:
    """(employee_id, role_id, team, department, readiness): readiness null when the role is not synced,
    rounded to 6 decimals so that the order of summation never shows."""
    staff, verified = parts or _parts(org_id, basis, as_of, where)
    covered = (
        select(
            verified.c.employee_id,
            func.sum(verified.c.weight * _credited(verified) / verified.c.required_level).label("covered"),
        )
        .where(verified.c.required_level > 0)
        .group_by(verified.c.employee_id)
        .cte("covered")
    )
    weights = (
        select(
            RoleRequirement.role_id,
            func.sum(RoleRequirement.weight).label("total"),
            func.sum(case((RoleRequirement.required_level <= 0, RoleRequirement.weight), else_=0.0)).label("always"),
        )
        .where(RoleRequirement.org_id == org_id, RoleRequirement.role_id.in_(select(staff.c.role_id)))
        .group_by(RoleRequirement.role_id)
        .cte("role_weight")
    )
    readiness = case(
        (SyncedRole.role_id.is_(None), None),
        (func.coalesce(weights.c.total, 0) <= 0, 100.0),
        else_=cast(
            func.round(
                cast(100.0 * (func.coalesce(covered.c.covered, 0.0) + weights.c.always) / weights.c.total, Numeric),
                6,
            ),
            Float,
        ),
    )
    return (
        select(staff.c.employee_id, staff.c.role_id, staff.c.team, staff.c.department, readiness.label("readiness"))
        .select_from(staff)
        .outerjoin(SyncedRole, and_(SyncedRole.org_id == org_id, SyncedRole.role_id == staff.c.role_id))
        .outerjoin(weights, weights.c.role_id == staff.c.role_id)
        .outerjoin(covered, covered.c.employee_id == staff.c.employee_id)
    )


def _cell_rows(
    org_id: uuid.UUID,
    basis: str,
    as_of: datetime,
    where: ColumnElement[bool] | None,
    *,
    by_team: bool = False,
    parts: Parts | None = None,
) -> Select:
    """(role_id, skill_id[, team], headcount, meeting, weighted_shortfall) over the people in scope:
    weighted shortfall = weight × (required × headcount − Σ credited levels)."""
    staff, verified = parts or _parts(org_id, basis, as_of, where)
    group = [staff.c.team] if by_team else []
    verified_group = [staff.c.team] if by_team else []
    facts_from = verified.join(staff, staff.c.employee_id == verified.c.employee_id) if by_team else verified
    headcount = (
        select(staff.c.role_id, *group, func.count().label("n"))
        .where(staff.c.role_id.is_not(None))
        .group_by(staff.c.role_id, *group)
        .cte("headcount")
    )
    credited = (
        select(
            verified.c.role_id,
            verified.c.skill_id,
            *verified_group,
            func.sum(case((meets(verified.c.level, verified.c.required_level), 1), else_=0)).label("meeting"),
            func.sum(_credited(verified)).label("levels"),
        )
        .select_from(facts_from)
        .group_by(verified.c.role_id, verified.c.skill_id, *verified_group)
        .cte("credited")
    )
    required = RoleRequirement.required_level
    join = and_(credited.c.role_id == RoleRequirement.role_id, credited.c.skill_id == RoleRequirement.skill_id)
    if by_team:
        join = and_(
            join, or_(credited.c.team == headcount.c.team, and_(credited.c.team.is_(None), headcount.c.team.is_(None)))
        )
    return (
        select(
            RoleRequirement.role_id,
            RoleRequirement.skill_id,
            *([headcount.c.team] if by_team else []),
            headcount.c.n.label("headcount"),
            case((required <= 0, headcount.c.n), else_=func.coalesce(credited.c.meeting, 0)).label("meeting"),
            (
                RoleRequirement.weight
                * (case((required <= 0, 0), else_=required) * headcount.c.n - func.coalesce(credited.c.levels, 0.0))
            ).label("weighted_shortfall"),
        )
        .select_from(RoleRequirement)
        .join(headcount, headcount.c.role_id == RoleRequirement.role_id)
        .outerjoin(credited, join)
        .where(RoleRequirement.org_id == org_id)
    )


def _next_expiry(org_id: uuid.UUID, as_of: datetime, employees: ColumnElement[bool] | None = None) -> Select:
    """The first expiry after as_of of a current fact: until then, the counted levels hold."""
    statement = select(func.min(SkillFact.expires_at)).where(
        SkillFact.org_id == org_id, SkillFact.revoked.is_(False), SkillFact.expires_at > as_of
    )
    if employees is not None:
        statement = statement.where(employees)
    return statement


# --- full recompute ---------------------------------------------------------------------------------------

RECOMPUTE_WORK_MEM = "256MB"
_VERIFIED_TABLE = "gap_recompute_verified"


def _verified_table(connection: Connection, verified: CTE) -> Any:
    """The verified levels written once to a temporary table: CREATE TABLE AS may run in parallel workers,
    which a statement that writes through data-modifying CTEs never does, and this step is most of it."""
    columns = [column(c.name, c.type) for c in verified.c]
    compiled = select(*verified.c).compile(dialect=connection.dialect)
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS {_VERIFIED_TABLE}")
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {_VERIFIED_TABLE} ON COMMIT DROP AS {compiled.string}",
        tuple(compiled.construct_params()[name] for name in compiled.positiontup or ()),
    )
    return table(_VERIFIED_TABLE, *columns)


def recompute(connection: Connection, org_id: uuid.UUID, basis: str, as_of: datetime) -> None:
    """The organisation's stored aggregates for one basis, from scratch. The verified levels are computed
    once for both tables: on PostgreSQL into a temporary table (in parallel), then one statement (two
    INSERTs as CTEs); elsewhere as a CTE, in two. On PostgreSQL only the people's rows that changed are
    upserted: deleting and inserting 100k rows per recompute cost more than the maths and left as many
    dead rows behind each time."""
    postgres = connection.dialect.name == "postgresql"
    people_key = (GapReportEmployee.org_id == org_id, GapReportEmployee.basis == basis)
    if postgres:
        # Until commit: the verified levels' joins and aggregates (about 650k rows at 100k employees) then
        # hash in memory instead of sorting and spilling to disk in batches, which cost half the recompute.
        connection.execute(text(f"SET LOCAL work_mem = '{RECOMPUTE_WORK_MEM}'"))
        # JIT compiling these plans (their cost passes jit_above_cost) took longer than it saved.
        connection.execute(text("SET LOCAL jit = off"))
        # An anti-join probing the primary key: linear whatever the statistics say (an IN (… EXCEPT …) was
        # planned, on a table not yet analysed, as a rescan of the EXCEPT per row).
        known = select(Employee.id).where(Employee.org_id == org_id, Employee.id == GapReportEmployee.employee_id)
        connection.execute(delete(GapReportEmployee).where(*people_key, ~known.exists()))
    else:
        connection.execute(delete(GapReportEmployee).where(*people_key))
    connection.execute(delete(GapReportCell).where(GapReportCell.org_id == org_id, GapReportCell.basis == basis))
    parts = _parts(org_id, basis, as_of, None)
    if postgres:
        parts = (parts[0], _verified_table(connection, parts[1]))
    people = _employee_rows(org_id, basis, as_of, None, parts).subquery("people")
    people_columns = ["org_id", "basis", "employee_id", "role_id", "team", "department", "readiness"]
    people_rows = select(literal(org_id, GapReportEmployee.org_id.type), literal(basis), *people.c)
    if postgres:
        # Only the rows that differ from the stored ones (EXCEPT: one hash set operation, NULLs equal), so
        # the upsert probes the primary key for the few that changed, not for all 100k people.
        changing = ("role_id", "team", "department", "readiness")
        stored = select(
            GapReportEmployee.org_id,
            GapReportEmployee.basis,
            GapReportEmployee.employee_id,
            *(GapReportEmployee.__table__.c[name] for name in changing),
        ).where(*people_key)
        upsert = postgresql.insert(GapReportEmployee).from_select(people_columns, people_rows.except_(stored))
        write_people = upsert.on_conflict_do_update(
            index_elements=["org_id", "basis", "employee_id"],
            set_={name: upsert.excluded[name] for name in changing},
        )
    else:
        write_people = GapReportEmployee.__table__.insert().from_select(people_columns, people_rows)
    cells = _cell_rows(org_id, basis, as_of, None, parts=parts).subquery("cells")
    write_cells = GapReportCell.__table__.insert().from_select(
        ["org_id", "basis", "role_id", "skill_id", "headcount", "meeting", "weighted_shortfall"],
        select(literal(org_id, GapReportCell.org_id.type), literal(basis), *cells.c),
    )
    verified = parts[1]
    first_expiry = select(func.min(verified.c.expires_at)).where(verified.c.expires_at > as_of)
    if postgres:
        people_written = write_people.returning(GapReportEmployee.employee_id).cte("people_written")
        cells_written = write_cells.returning(GapReportCell.role_id).cte("cells_written")
        valid_until = (
            connection.execute(
                select(
                    select(func.count()).select_from(people_written).scalar_subquery().label("people"),
                    select(func.count()).select_from(cells_written).scalar_subquery().label("cells"),
                    first_expiry.scalar_subquery().label("valid_until"),
                )
            )
            .one()
            .valid_until
        )
    else:
        connection.execute(write_people)
        connection.execute(write_cells)
        valid_until = connection.scalar(first_expiry)
    values = {"as_of": as_of, "valid_until": valid_until, "stale": False, "computed_at": utcnow()}
    insert = _upsert(connection)(GapReportState).values(org_id=org_id, basis=basis, revision=1, **values)
    connection.execute(
        insert.on_conflict_do_update(
            index_elements=["org_id", "basis"], set_={"revision": GapReportState.revision + 1, **values}
        )
    )
    _mark_bodies_stale(connection, org_id, basis, everything=True)


# --- incremental updates ----------------------------------------------------------------------------------


def _mark_bodies_stale(
    connection: Connection,
    org_id: uuid.UUID,
    basis: str | None,
    *,
    everything: bool = False,
    departments: Iterable[str | None] = (),
    teams: Iterable[str | None] = (),
) -> None:
    scopes = [GapReportBody.scope == ORGANISATION]
    if departments := {name or "" for name in departments}:
        scopes.append(and_(GapReportBody.scope == DEPARTMENT, GapReportBody.name.in_(departments)))
    if teams := {name or "" for name in teams}:
        scopes.append(and_(GapReportBody.scope == TEAM, GapReportBody.name.in_(teams)))
    statement = update(GapReportBody).where(GapReportBody.org_id == org_id).values(stale=True)
    if basis is not None:
        statement = statement.where(GapReportBody.basis == basis)
    if not everything:
        statement = statement.where(or_(*scopes))
    connection.execute(statement)


@dataclass
class _Before:
    """An employee set's contribution to a stored report, taken before a write."""

    basis: str
    as_of: datetime
    cells: list[Any]


@dataclass
class _Pending:
    org_id: uuid.UUID
    employee_ids: set[uuid.UUID]
    befores: list[_Before] = field(default_factory=list)
    groups: tuple[set[str | None], set[str | None]] = field(default_factory=lambda: (set(), set()))


def _groups(connection: Connection, org_id: uuid.UUID, employee_ids: set[uuid.UUID]) -> list[Any]:
    return connection.execute(
        select(Employee.team, Employee.department).where(Employee.org_id == org_id, Employee.id.in_(employee_ids))
    ).all()


def _take_before(connection: Connection, org_id: uuid.UUID, employee_ids: set[uuid.UUID]) -> _Pending:
    pending = _Pending(org_id, set(employee_ids))
    teams, departments = pending.groups
    if not employee_ids:
        return pending
    for team, department in _groups(connection, org_id, employee_ids):
        teams.add(team)
        departments.add(department)
    for basis, as_of in _locked_states(connection, org_id):
        cells = connection.execute(_for_employees(basis)[0], _bound(org_id, as_of, employee_ids)).all()
        pending.befores.append(_Before(basis, as_of, cells))
    return pending


def _locked_states(connection: Connection, org_id: uuid.UUID) -> list[Any]:
    """The organisation's stored reports to adjust, locked until commit: two events for one employee would
    otherwise both subtract the same old contribution, and a recompute could interleave with an event."""
    rows = connection.execute(
        select(GapReportState.basis, GapReportState.as_of, GapReportState.stale)
        .where(GapReportState.org_id == org_id)
        .order_by(GapReportState.basis)
        .with_for_update()
    ).all()
    return [(row.basis, row.as_of) for row in rows if not row.stale]


@cache
def _for_employees(basis: str) -> tuple[Select, Select]:
    """The cell and people statements over a few employees, built once with bound parameters: building
    and keying these statements per event would cost more than running them."""
    org_id, as_of = bindparam("org_id", type_=Uuid), bindparam("as_of", type_=UTCDateTime)
    where = Employee.id.in_(bindparam("employee_ids", expanding=True, type_=Uuid))
    return _cell_rows(org_id, basis, as_of, where), _employee_rows(org_id, basis, as_of, where)  # type: ignore[arg-type]


def _bound(org_id: uuid.UUID, as_of: datetime, employee_ids: set[uuid.UUID]) -> dict[str, Any]:
    return {"org_id": org_id, "as_of": as_of, "employee_ids": sorted(employee_ids)}


def _upsert(connection: Connection) -> Any:
    return postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert


def _apply_after(connection: Connection, pending: _Pending) -> None:
    """Adds (after − before) to the stored cells, replaces the people's rows, marks the bodies stale."""
    org_id, employee_ids = pending.org_id, pending.employee_ids
    teams, departments = pending.groups
    for team, department in _groups(connection, org_id, employee_ids):
        teams.add(team)
        departments.add(department)
    for before in pending.befores:
        basis, as_of = before.basis, before.as_of
        state = connection.execute(
            select(GapReportState.as_of, GapReportState.stale).where(
                GapReportState.org_id == org_id, GapReportState.basis == basis
            )
        ).one_or_none()
        if state is None or state.stale:
            continue  # marked stale by this very flush: the next read recomputes
        if state.as_of != as_of:  # cannot happen under the lock; never adjust against another instant
            _mark_org_stale(connection, [org_id])
            continue
        cells_of, people_of = _for_employees(basis)
        bound = _bound(org_id, as_of, employee_ids)
        deltas: dict[tuple, list[float]] = {}
        for sign, rows in ((-1, before.cells), (1, connection.execute(cells_of, bound))):
            for row in rows:
                delta = deltas.setdefault((row.role_id, row.skill_id), [0, 0, 0.0])
                delta[0] += sign * row.headcount
                delta[1] += sign * row.meeting
                delta[2] += sign * float(row.weighted_shortfall)
        if deltas:
            insert = _upsert(connection)(GapReportCell)
            statement = insert.on_conflict_do_update(
                index_elements=["org_id", "basis", "role_id", "skill_id"],
                set_={
                    "headcount": GapReportCell.headcount + insert.excluded.headcount,
                    "meeting": GapReportCell.meeting + insert.excluded.meeting,
                    "weighted_shortfall": GapReportCell.weighted_shortfall + insert.excluded.weighted_shortfall,
                },
            )
            connection.execute(
                statement,
                [
                    {
                        "org_id": org_id,
                        "basis": basis,
                        "role_id": role_id,
                        "skill_id": skill_id,
                        "headcount": headcount,
                        "meeting": meeting,
                        "weighted_shortfall": shortfall,
                    }
                    for (role_id, skill_id), (headcount, meeting, shortfall) in sorted(deltas.items())
                ],
            )
            connection.execute(
                delete(GapReportCell).where(
                    GapReportCell.org_id == org_id,
                    GapReportCell.basis == basis,
                    GapReportCell.role_id.in_({role_id for role_id, _ in deltas}),
                    GapReportCell.headcount <= 0,
                )
            )
        people = [row._asdict() for row in connection.execute(people_of, bound)]
        gone = employee_ids - {row["employee_id"] for row in people}
        if gone:  # deleted employees
            connection.execute(
                delete(GapReportEmployee).where(
                    GapReportEmployee.org_id == org_id,
                    GapReportEmployee.basis == basis,
                    GapReportEmployee.employee_id.in_(gone),
                )
            )
        if people:  # an upsert finds each row by its primary key, whatever the table's statistics say
            insert = _upsert(connection)(GapReportEmployee)
            connection.execute(
                insert.on_conflict_do_update(
                    index_elements=["org_id", "basis", "employee_id"],
                    set_={name: insert.excluded[name] for name in ("role_id", "team", "department", "readiness")},
                ),
                [{"org_id": org_id, "basis": basis, **row} for row in people],
            )
        expiry = connection.scalar(_next_expiry(org_id, as_of, SkillFact.employee_id.in_(employee_ids)))
        values: dict[str, Any] = {"revision": GapReportState.revision + 1}
        if expiry is not None:
            values["valid_until"] = case(
                (or_(GapReportState.valid_until.is_(None), GapReportState.valid_until > expiry), expiry),
                else_=GapReportState.valid_until,
            )
        connection.execute(
            update(GapReportState)
            .where(GapReportState.org_id == org_id, GapReportState.basis == basis)
            .values(**values)
        )
    _mark_bodies_stale(connection, org_id, None, departments=departments, teams=teams)


def _mark_org_stale(connection: Connection, org_ids: Iterable[uuid.UUID]) -> None:
    for org_id in set(org_ids):
        connection.execute(update(GapReportState).where(GapReportState.org_id == org_id).values(stale=True))
        _mark_bodies_stale(connection, org_id, None, everything=True)


# --- the one path every write that changes what counts goes through ---------------------------------------

_ACTIVE_KEY = "gap_report_change_active"
MAX_INCREMENTAL_EMPLOYEES = 5_000


@asynccontextmanager
async def keeping_reports_current(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    employee_ids: Iterable[uuid.UUID] = (),
    hris_ids: Iterable[str] = (),
    role_ids: Iterable[uuid.UUID] = (),
) -> AsyncIterator[None]:
    """Wraps a write that changes what counts for some employees (their facts, their HR record, the
    requirements of their role): their contribution to the stored report is taken before the write and
    after it, in the same transaction, and the difference applied. `hris_ids` may name employees the
    write creates (they contributed nothing before); `role_ids`, roles whose requirements change
    (everyone measured against them). Not reentrant: two nested changes would count one difference twice."""
    if session.info.get(_ACTIVE_KEY):
        raise RuntimeError("keeping_reports_current is already active on this session (nested change)")
    session.info[_ACTIVE_KEY] = True
    try:
        await session.flush()
        employees, roles, names = set(employee_ids), set(role_ids), sorted(set(hris_ids))
        pending = await session.run_sync(
            lambda sync: _before_change(sync.connection(), org_id, employees, roles, names)
        )
        yield
        await session.flush()
        if pending is not None:
            await session.run_sync(lambda sync: _after_change(sync.connection(), pending, names))
    finally:
        session.info.pop(_ACTIVE_KEY, None)


def _by_hris_id(connection: Connection, org_id: uuid.UUID, hris_ids: list[str]) -> set[uuid.UUID]:
    found: set[uuid.UUID] = set()
    for start in range(0, len(hris_ids), 1_000):
        found.update(
            connection.scalars(
                select(Employee.id).where(
                    Employee.org_id == org_id, Employee.hris_id.in_(hris_ids[start : start + 1_000])
                )
            )
        )
    return found


def _before_change(
    connection: Connection, org_id: uuid.UUID, employees: set[uuid.UUID], roles: set[uuid.UUID], hris_ids: list[str]
) -> _Pending | None:
    """None when the organisation's report was marked stale instead (a role with too many holders)."""
    affected = {org_id: set(employees) | _by_hris_id(connection, org_id, hris_ids)}
    if roles and _add_role_holders(connection, {org_id: roles}, affected):
        return None
    return _take_before(connection, org_id, affected[org_id])


def _after_change(connection: Connection, pending: _Pending, hris_ids: list[str]) -> None:
    """Employees the write created join with an empty contribution before; then the difference."""
    created = _by_hris_id(connection, pending.org_id, hris_ids) - pending.employee_ids
    if created:
        if not pending.employee_ids:
            pending.befores = _empty_befores(connection, pending.org_id)
        pending.employee_ids |= created
    if pending.employee_ids:
        _apply_after(connection, pending)


def _empty_befores(connection: Connection, org_id: uuid.UUID) -> list[_Before]:
    """New people contributed nothing before."""
    return [_Before(basis, as_of, []) for basis, as_of in _locked_states(connection, org_id)]


def _add_role_holders(
    connection: Connection, roles: dict[uuid.UUID, set[uuid.UUID]], affected: dict[uuid.UUID, set[uuid.UUID]]
) -> set[uuid.UUID]:
    """A role's requirements changed: everyone measured against it (in either basis) is brought up to
    date incrementally, as for a credential event, unless that is more than MAX_INCREMENTAL_EMPLOYEES
    people: then the organisation's stored report is marked stale and recomputed in full on the next
    read. Returns the organisations so marked."""
    stale: set[uuid.UUID] = set()
    for org_id, role_ids in roles.items():
        holders = set(
            connection.scalars(
                select(Employee.id)
                .where(
                    Employee.org_id == org_id,
                    or_(Employee.current_role_id.in_(role_ids), Employee.target_role_id.in_(role_ids)),
                )
                .limit(MAX_INCREMENTAL_EMPLOYEES + 1)
            )
        )
        if len(holders) > MAX_INCREMENTAL_EMPLOYEES:
            stale.add(org_id)
        else:
            affected.setdefault(org_id, set()).update(holders)
    _mark_org_stale(connection, stale)
    return stale


# --- serving ----------------------------------------------------------------------------------------------


def _bucket_columns(readiness: ColumnElement[Any]) -> list[ColumnElement[Any]]:
    last = len(READINESS_BUCKETS) - 1
    return [
        func.sum(case((and_(readiness >= lower, readiness <= upper if i == last else readiness < upper), 1), else_=0))
        for i, (lower, upper) in enumerate(READINESS_BUCKETS)
    ]


def _summary(row: Any, group: str | None = None) -> GroupSummary:
    return GroupSummary(
        group=group,
        headcount=int(row.headcount),
        assessed=int(row.assessed or 0),
        mean_readiness=round(float(row.mean), 2) if row.mean is not None else None,
        readiness_distribution=[
            ReadinessBucket(lower=lower, upper=upper, count=int(count or 0))
            for (lower, upper), count in zip(READINESS_BUCKETS, row[3 : 3 + len(READINESS_BUCKETS)], strict=True)
        ],
    )


def _summaries(connection: Connection, people: Any, group: ColumnElement[Any] | None) -> list[Any]:
    """Headcount, assessed, mean readiness and buckets, per group (or overall), over a people subquery."""
    columns = [
        func.count().label("headcount"),
        func.count(people.c.readiness).label("assessed"),
        func.avg(people.c.readiness).label("mean"),
        *_bucket_columns(people.c.readiness),
    ]
    if group is None:
        return connection.execute(select(*columns).select_from(people)).all()
    return connection.execute(select(*columns, group.label("group")).group_by(group).order_by(group)).all()


def _role_skill_cells(connection: Connection, org_id: uuid.UUID, cells: Any) -> list[RoleSkillCell]:
    rows = connection.execute(
        select(
            cells.c.role_id,
            SyncedRole.name.label("role_name"),
            cells.c.skill_id,
            RoleRequirement.skill_name,
            RoleRequirement.criticality,
            RoleRequirement.required_level,
            RoleRequirement.weight,
            cells.c.headcount,
            cells.c.meeting,
            cells.c.weighted_shortfall,
        )
        .join(SyncedRole, and_(SyncedRole.org_id == org_id, SyncedRole.role_id == cells.c.role_id))
        .join(
            RoleRequirement,
            and_(
                RoleRequirement.org_id == org_id,
                RoleRequirement.role_id == cells.c.role_id,
                RoleRequirement.skill_id == cells.c.skill_id,
            ),
        )
        .where(cells.c.headcount > 0)
        .order_by(SyncedRole.name, cells.c.role_id, RoleRequirement.skill_name, cells.c.skill_id)
    ).all()
    return [
        RoleSkillCell(
            role_id=row.role_id,
            role_name=row.role_name,
            skill_id=row.skill_id,
            skill_name=row.skill_name,
            criticality=row.criticality,
            required_level=row.required_level,
            weight=row.weight,
            headcount=int(row.headcount),
            meeting=int(row.meeting),
            share_meeting=round(int(row.meeting) / int(row.headcount), 4),
            weighted_shortfall=round(float(row.weighted_shortfall), 4) + 0.0,
        )
        for row in rows
    ]


def _top_gaps(cells: list[RoleSkillCell]) -> list[RoleSkillCell]:
    ranked = sorted(cells, key=lambda c: (-c.weighted_shortfall, c.role_name, str(c.role_id), c.skill_name))
    return [cell for cell in ranked[:TOP_GAPS] if cell.weighted_shortfall > 0]


def _report(
    scope: str,
    name: str | None,
    basis: str,
    as_of: datetime,
    overall: GroupSummary,
    cells: list[RoleSkillCell],
    groups: list[GroupSummary],
    heatmap: list[GroupSkillCell],
) -> GapGroupReport:
    return GapGroupReport(
        scope=scope,  # type: ignore[arg-type]
        name=name,
        basis=basis,  # type: ignore[arg-type]
        as_of=as_of,
        headcount=overall.headcount,
        assessed=overall.assessed,
        mean_readiness=overall.mean_readiness,
        readiness_distribution=overall.readiness_distribution,
        top_gaps=_top_gaps(cells),
        requirements=cells,
        groups=groups,
        heatmap=heatmap,
    )


def _organisation_body(connection: Connection, org_id: uuid.UUID, basis: str, as_of: datetime) -> GapGroupReport:
    """From the stored aggregates only: no fact is read."""
    people = (
        select(GapReportEmployee)
        .where(GapReportEmployee.org_id == org_id, GapReportEmployee.basis == basis)
        .subquery("people")
    )
    overall = _summary(_summaries(connection, people, None)[0])
    groups = [_summary(row, row.group) for row in _summaries(connection, people, people.c.department)]
    cells = select(GapReportCell).where(GapReportCell.org_id == org_id, GapReportCell.basis == basis).subquery("cells")
    return _report(ORGANISATION, None, basis, as_of, overall, _role_skill_cells(connection, org_id, cells), groups, [])


def _group_body(
    connection: Connection, org_id: uuid.UUID, basis: str, scope: str, name: str, as_of: datetime
) -> GapGroupReport:
    """A department or team, computed for its members by the same statements as the organisation's."""
    member = (Employee.department if scope == DEPARTMENT else Employee.team) == name
    people = _employee_rows(org_id, basis, as_of, member).subquery("people")
    overall = _summary(_summaries(connection, people, None)[0])
    if overall.headcount == 0:
        raise NotFound(f"No employee in {scope} {name!r} in this organisation.")
    groups = (
        [_summary(row, row.group) for row in _summaries(connection, people, people.c.team)]
        if scope == DEPARTMENT
        else []
    )
    cells = _role_skill_cells(connection, org_id, _cell_rows(org_id, basis, as_of, member).subquery("cells"))
    by_team = _cell_rows(org_id, basis, as_of, member, by_team=True).subquery("by_team")
    heat = (
        select(
            by_team.c.team,
            by_team.c.skill_id,
            func.min(RoleRequirement.skill_name).label("skill_name"),
            func.sum(by_team.c.headcount).label("headcount"),
            func.sum(by_team.c.meeting).label("meeting"),
        )
        .join(
            RoleRequirement,
            and_(
                RoleRequirement.org_id == org_id,
                RoleRequirement.role_id == by_team.c.role_id,
                RoleRequirement.skill_id == by_team.c.skill_id,
            ),
        )
        .group_by(by_team.c.team, by_team.c.skill_id)
        .order_by(by_team.c.team, func.min(RoleRequirement.skill_name), by_team.c.skill_id)
    )
    heatmap = [
        GroupSkillCell(
            group=row.team,
            skill_id=row.skill_id,
            skill_name=row.skill_name,
            headcount=int(row.headcount),
            meeting=int(row.meeting),
            share_meeting=round(int(row.meeting) / int(row.headcount), 4),
        )
        for row in connection.execute(heat)
        if row.headcount
    ]
    return _report(scope, name, basis, as_of, overall, cells, groups, heatmap)


def _store_body(
    connection: Connection,
    org_id: uuid.UUID,
    basis: str,
    scope: str,
    name: str,
    body: bytes,
    valid_until: datetime | None,
) -> str:
    etag = etag_for(body)
    values = {"body": body, "etag": etag, "stale": False, "valid_until": valid_until, "computed_at": utcnow()}
    insert = _upsert(connection)(GapReportBody).values(org_id=org_id, basis=basis, scope=scope, name=name, **values)
    connection.execute(insert.on_conflict_do_update(index_elements=["org_id", "basis", "scope", "name"], set_=values))
    return etag


def _serve(connection: Connection, org_id: uuid.UUID, basis: str, scope: str, name: str | None) -> tuple[bytes, str]:
    now = utcnow()
    stored = connection.execute(
        select(GapReportBody.body, GapReportBody.etag, GapReportBody.stale, GapReportBody.valid_until).where(
            GapReportBody.org_id == org_id,
            GapReportBody.basis == basis,
            GapReportBody.scope == scope,
            GapReportBody.name == (name or ""),
        )
    ).one_or_none()
    if stored is not None and not stored.stale and (stored.valid_until is None or stored.valid_until > now):
        return stored.body, stored.etag
    if scope == ORGANISATION:
        # A first report: a stale placeholder to lock, so concurrent first reads recompute one at a time.
        placeholder = {"as_of": now, "valid_until": None, "stale": True, "revision": 0, "computed_at": now}
        connection.execute(
            _upsert(connection)(GapReportState)
            .values(org_id=org_id, basis=basis, **placeholder)
            .on_conflict_do_nothing(index_elements=["org_id", "basis"])
        )
        state = connection.execute(
            select(GapReportState)
            .where(GapReportState.org_id == org_id, GapReportState.basis == basis)
            .with_for_update()
        ).one()
        if state.stale or (state.valid_until is not None and state.valid_until <= now):
            recompute(connection, org_id, basis, now)
            state = connection.execute(
                select(GapReportState).where(GapReportState.org_id == org_id, GapReportState.basis == basis)
            ).one()
        report = _organisation_body(connection, org_id, basis, state.as_of)
        valid_until = state.valid_until
    else:
        assert name is not None
        report = _group_body(connection, org_id, basis, scope, name, now)
        member = (Employee.department if scope == DEPARTMENT else Employee.team) == name
        valid_until = connection.scalar(
            _next_expiry(
                org_id, now, SkillFact.employee_id.in_(select(Employee.id).where(Employee.org_id == org_id, member))
            )
        )
    body = orjson.dumps(report.model_dump(mode="json"))
    return body, _store_body(connection, org_id, basis, scope, name or "", body, valid_until)


class _BodyCache:
    """Bodies this process has served, by report and ETag. The database's ETag is read on every request
    and is the authority: a body is served from here only under the ETag stored now, so a replica never
    serves an old report; it only spares moving megabytes of bytea per request."""

    def __init__(self, max_entries: int = 32) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple, tuple[str, bytes]] = OrderedDict()

    def get(self, key: tuple, etag: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] != etag:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: tuple, etag: str, body: bytes) -> None:
        self._entries[key] = (etag, body)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


BODIES = _BodyCache()


async def serve_report(
    database: Database,
    org_id: uuid.UUID,
    scope: Scope,
    name: str | None,
    basis: Basis,
    holds: Callable[[str], bool],
) -> tuple[bytes | None, str]:
    """(body, ETag), body None when the client `holds` the current ETag. A fresh stored report costs one
    indexed read outside any transaction; a stale one is rebuilt, stored and committed first."""
    key = (org_id, basis, scope, name or "")
    async with database.autocommit_engine.connect() as connection:
        stored = (
            await connection.execute(
                select(GapReportBody.etag, GapReportBody.stale, GapReportBody.valid_until).where(
                    GapReportBody.org_id == org_id,
                    GapReportBody.basis == basis,
                    GapReportBody.scope == scope,
                    GapReportBody.name == (name or ""),
                )
            )
        ).one_or_none()
        if stored is not None and not stored.stale and (stored.valid_until is None or stored.valid_until > utcnow()):
            if holds(stored.etag):
                return None, stored.etag
            body = BODIES.get(key, stored.etag)
            if body is None:
                body = await connection.scalar(
                    select(GapReportBody.body).where(
                        GapReportBody.org_id == org_id,
                        GapReportBody.basis == basis,
                        GapReportBody.scope == scope,
                        GapReportBody.name == (name or ""),
                        GapReportBody.etag == stored.etag,
                    )
                )
            if body is not None:
                BODIES.put(key, stored.etag, body)
                return body, stored.etag
    async with database.sessions() as session:
        body, etag = await stored_report(session, org_id, scope, name, basis)
    BODIES.put(key, etag, body)
    return (None if holds(etag) else body), etag


async def stored_report(
    session: AsyncSession, org_id: uuid.UUID, scope: Scope, name: str | None = None, basis: Basis = "current"
) -> tuple[bytes, str]:
    """The stored report's body and strong ETag; rebuilt (and committed) first when marked stale."""
    connection = await session.connection()
    body, etag = await connection.run_sync(lambda sync: _serve(sync, org_id, basis, scope, name))
    await session.commit()
    return body, etag


async def recompute_organisation(
    session: AsyncSession, org_id: uuid.UUID, basis: Basis = "current", *, as_of: datetime | None = None
) -> None:
    """A full recompute (not committed): what the incremental path must always agree with."""
    connection = await session.connection()
    await connection.run_sync(lambda sync: recompute(sync, org_id, basis, as_of or utcnow()))
