"""Employees and KPI observations as the HRIS sends them: upserts keyed by HRIS id."""

import csv
import io
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.gap_engine.analysis import snapshots
from services.gap_engine.db.tables import Employee, KpiObservation, SyncedRole
from services.gap_engine.domain.taxonomy_client import TaxonomyClient
from shared.db import utcnow
from shared.errors import Forbidden, NotFound, Unprocessable, validation_errors
from shared.repository import TenantRepository
from shared.schemas.gaps import BulkUpsertOut, EmployeeBulkIn, EmployeeBulkItem, KpiObservationIn

# Rows per INSERT: 13 columns × 1,000 stays under the 32,767 bind parameters SQLite and asyncpg allow.
UPSERT_BATCH = 1_000
_UPDATED_COLUMNS = (
    "name",
    "email",
    "manager_hris_id",
    "team",
    "department",
    "hire_date",
    "current_role_id",
    "target_role_id",
    "updated_at",
)


def repository(session: AsyncSession, org_id: uuid.UUID) -> TenantRepository[Employee]:
    return TenantRepository(session, org_id, Employee, "employee")


def _insert(session: AsyncSession) -> Any:
    """The dialect's INSERT, for its ON CONFLICT clause (both SQLite and PostgreSQL spell it the same)."""
    return postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert


async def get_employee(session: AsyncSession, org_id: uuid.UUID, hris_id: str) -> Employee:
    employee = await session.scalar(repository(session, org_id).select(Employee.hris_id == hris_id))
    if employee is None:
        raise NotFound(f"No employee with HRIS id {hris_id!r} in this organisation.")
    return employee


async def employee_ids_by_hris_id(session: AsyncSession, org_id: uuid.UUID, hris_ids: set[str]) -> dict[str, uuid.UUID]:
    """All of them, or a 404 naming the unknown ones (another organisation's people are unknown here)."""
    found: dict[str, uuid.UUID] = {}
    wanted = sorted(hris_ids)
    for start in range(0, len(wanted), UPSERT_BATCH):
        chunk = wanted[start : start + UPSERT_BATCH]
        rows = await session.execute(
            select(Employee.hris_id, Employee.id).where(Employee.org_id == org_id, Employee.hris_id.in_(chunk))
        )
        found.update({hris_id: employee_id for hris_id, employee_id in rows})
    missing = sorted(hris_ids - found.keys())
    if missing:
        raise NotFound(f"Unknown HRIS id(s) in this organisation: {', '.join(missing[:20])}.", missing=missing[:100])
    return found


ROLE_COLUMNS = ("current_role_id", "target_role_id")
# Role ids not yet synced are each asked of taxonomy_api: a bound on those calls per request.
MAX_UNSYNCED_ROLES_CHECKED = 100


@dataclass(frozen=True, slots=True)
class UnknownRole:
    index: int  # of the record in the request
    column: str
    role_id: uuid.UUID
    reason: str


async def unknown_roles(
    session: AsyncSession,
    org_id: uuid.UUID,
    people: Sequence[EmployeeBulkItem],
    taxonomy: TaxonomyClient,
    authorization: str,
) -> list[UnknownRole]:
    """The role references the gap engine could not measure anyone against. A role is known when it
    is synced here, or when taxonomy_api, asked with the caller's own token, has it published in the
    caller's organisation (so another organisation's role is unknown, as taxonomy_api answers 404)."""
    wanted = {getattr(person, column) for person in people for column in ROLE_COLUMNS} - {None}
    if not wanted:
        return []
    synced = set(
        await session.scalars(
            select(SyncedRole.role_id).where(SyncedRole.org_id == org_id, SyncedRole.role_id.in_(wanted))
        )
    )
    unsynced = sorted(wanted - synced)
    if len(unsynced) > MAX_UNSYNCED_ROLES_CHECKED:
        raise Unprocessable(
            f"The records name {len(unsynced)} roles not yet synced into the gap engine; at most "
            f"{MAX_UNSYNCED_ROLES_CHECKED} are checked against taxonomy_api per request. Sync them first "
            "(POST /v1/roles/{role_id}/sync or /v1/taxonomy/refresh)."
        )
    reasons: dict[uuid.UUID, str] = {}
    for role_id in unsynced:
        try:
            await taxonomy.role(role_id, authorization)
        except NotFound:
            reasons[role_id] = f"No role {role_id} is published in this organisation's taxonomy."
        except Forbidden:
            reasons[role_id] = (
                f"Role {role_id} is not synced into the gap engine, and the caller's token cannot read "
                "taxonomy_api (taxonomy:read) to check it; sync the role first."
            )
    return [
        UnknownRole(index, column, getattr(person, column), reasons[getattr(person, column)])
        for index, person in enumerate(people)
        for column in ROLE_COLUMNS
        if getattr(person, column) in reasons
    ]


def refuse_unknown_roles(
    unknown: Sequence[UnknownRole], field: Callable[[UnknownRole], str], **extensions: Any
) -> None:
    """A 422 naming each record's field that refers to an unknown role (the first 100)."""
    if unknown:
        errors = [{"field": field(item), "message": item.reason} for item in unknown[:100]]
        fields = ", ".join(error["field"] for error in errors[:5])
        raise Unprocessable(f"Unknown role for: {fields}.", errors=errors, **extensions)


async def upsert_employees(
    session: AsyncSession, org_id: uuid.UUID, employees: Sequence[EmployeeBulkItem]
) -> BulkUpsertOut:
    """Insert or replace by HRIS id, one INSERT … ON CONFLICT statement per batch (not per row).
    Sending the same list twice leaves the same rows: the upsert is idempotent by construction."""
    hris_ids = [employee.hris_id for employee in employees]
    existing = 0
    for start in range(0, len(hris_ids), UPSERT_BATCH):
        chunk = hris_ids[start : start + UPSERT_BATCH]
        existing += len(
            (
                await session.scalars(
                    select(Employee.hris_id).where(Employee.org_id == org_id, Employee.hris_id.in_(chunk))
                )
            ).all()
        )
    insert = _insert(session)
    now = utcnow()
    # A move (role, team, department) or a new person changes the stored reports: one path for it.
    async with snapshots.keeping_reports_current(session, org_id, hris_ids=hris_ids):
        for start in range(0, len(employees), UPSERT_BATCH):
            rows = [
                {"id": uuid.uuid4(), "org_id": org_id, "created_at": now, "updated_at": now, **employee.model_dump()}
                for employee in employees[start : start + UPSERT_BATCH]
            ]
            statement = insert(Employee).values(rows)
            statement = statement.on_conflict_do_update(
                index_elements=[Employee.org_id, Employee.hris_id],
                set_={column: statement.excluded[column] for column in _UPDATED_COLUMNS},
            )
            await session.execute(statement)
    return BulkUpsertOut(received=len(employees), created=len(employees) - existing, updated=existing)


async def record_kpi_observations(
    session: AsyncSession, org_id: uuid.UUID, observations: Sequence[KpiObservationIn]
) -> BulkUpsertOut:
    """A value for an (employee, metric, period) already known replaces it: HRIS resends are harmless."""
    employee_ids = await employee_ids_by_hris_id(session, org_id, {o.hris_id for o in observations})
    latest: dict[tuple, dict[str, Any]] = {}
    for observation in observations:  # the last value sent for a period wins, as a resend would
        row = {
            "id": uuid.uuid4(),
            "org_id": org_id,
            "employee_id": employee_ids[observation.hris_id],
            "metric": observation.metric,
            "value": observation.value,
            "period_start": observation.period_start,
            "period_end": observation.period_end,
        }
        latest[(row["employee_id"], row["metric"], row["period_start"], row["period_end"])] = row
    rows = list(latest.values())
    key_columns = [
        KpiObservation.org_id,
        KpiObservation.employee_id,
        KpiObservation.metric,
        KpiObservation.period_start,
        KpiObservation.period_end,
    ]
    existing = 0
    for start in range(0, len(rows), UPSERT_BATCH):
        chunk = rows[start : start + UPSERT_BATCH]
        existing += await _count_existing_observations(session, org_id, chunk)
    insert = _insert(session)
    for start in range(0, len(rows), UPSERT_BATCH):
        statement = insert(KpiObservation).values(rows[start : start + UPSERT_BATCH])
        statement = statement.on_conflict_do_update(
            index_elements=key_columns, set_={"value": statement.excluded["value"]}
        )
        await session.execute(statement)
    return BulkUpsertOut(received=len(observations), created=len(rows) - existing, updated=existing)


async def _count_existing_observations(session: AsyncSession, org_id: uuid.UUID, rows: list[dict[str, Any]]) -> int:
    employee_ids = {row["employee_id"] for row in rows}
    wanted = {(row["employee_id"], row["metric"], row["period_start"], row["period_end"]) for row in rows}
    found = await session.execute(
        select(
            KpiObservation.employee_id, KpiObservation.metric, KpiObservation.period_start, KpiObservation.period_end
        ).where(KpiObservation.org_id == org_id, KpiObservation.employee_id.in_(employee_ids))
    )
    return sum(1 for row in found if tuple(row) in wanted)


CSV_COLUMNS = (
    "hris_id",
    "name",
    "email",
    "manager_hris_id",
    "team",
    "department",
    "hire_date",
    "current_role_id",
    "target_role_id",
)


CSV_FIRST_RECORD_LINE = 2  # the header is line 1


def parse_employee_csv(text: str) -> EmployeeBulkIn:
    """A header row naming some of CSV_COLUMNS (hris_id and name required), then one row per person;
    an empty cell is a missing value. Errors name the line, as an HRIS operator needs."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        return _employees_from_rows(reader)
    except csv.Error as exc:  # a malformed quote, a cell over the csv module's field limit
        line = reader.line_num + 1  # the reader counts the lines it finished; the bad one is next
        raise Unprocessable(f"CSV line {line}: {exc}.", line=line) from exc


def _employees_from_rows(reader: csv.DictReader) -> EmployeeBulkIn:
    header = [name.strip() for name in reader.fieldnames or []]
    unknown = sorted(set(header) - set(CSV_COLUMNS))
    if unknown or not {"hris_id", "name"} <= set(header):
        raise Unprocessable(
            f"The CSV header must name hris_id and name, and only columns among: {', '.join(CSV_COLUMNS)}.",
            unknown_columns=unknown,
        )
    reader.fieldnames = header
    records = []
    for line, row in enumerate(reader, start=CSV_FIRST_RECORD_LINE):
        if None in row:
            raise Unprocessable(f"CSV line {line} has more cells than the header.", line=line)
        values = {column: value.strip() for column, value in row.items() if value is not None and value.strip()}
        try:
            records.append(EmployeeBulkItem.model_validate(values))
        except ValidationError as exc:
            errors = [{**error, "field": f"line {line}: {error['field']}"} for error in validation_errors(exc)]
            fields = ", ".join(error["field"].split(": ", 1)[1] for error in errors)
            raise Unprocessable(f"CSV line {line}: invalid value for {fields}.", line=line, errors=errors) from exc
    try:
        return EmployeeBulkIn(employees=records)
    except ValidationError as exc:
        raise Unprocessable(f"The CSV is not a valid employee list: {exc.errors()[0]['msg']}.") from exc


async def kpi_metrics(session: AsyncSession, org_id: uuid.UUID) -> list[str]:
    """The metrics observed in the organisation, by name (what the KPI dashboard offers)."""
    rows = await session.scalars(
        select(KpiObservation.metric).where(KpiObservation.org_id == org_id).distinct().order_by(KpiObservation.metric)
    )
    return list(rows)
