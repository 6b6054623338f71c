"""HRIS inputs (employees, KPI observations) and employee reads."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from services.gap_engine.api.deps import ERRORS, WRITE_ERRORS, GapReader, HrisWriter, taxonomy
from services.gap_engine.db.tables import Employee, IdempotencyRecord
from services.gap_engine.domain import employees, received_credentials
from shared.db import get_session
from shared.errors import PayloadTooLarge, Unprocessable
from shared.idempotency import create_once
from shared.pagination import Page
from shared.schemas.gaps import (
    BulkUpsertOut,
    EmployeeBulkIn,
    EmployeeBulkItem,
    EmployeeIn,
    EmployeeOut,
    KpiObservationBulkIn,
)
from shared.uploads import is_multipart, read_upload

router = APIRouter(prefix="/v1", tags=["employees"])
HrisIdPath = Annotated[str, Path(min_length=1, max_length=128)]


@router.put(
    "/employees/{hris_id}",
    summary="Create or replace an employee",
    response_model=EmployeeOut,
    responses={**WRITE_ERRORS, 201: {"description": "Created", "model": EmployeeOut}},
)
async def put_employee(
    request: Request,
    hris_id: HrisIdPath,
    body: EmployeeIn,
    caller: HrisWriter,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """The HRIS record under its HRIS id: 201 when new, 200 when replaced. PUT is idempotent. A role
    id must be synced here or published in the organisation's taxonomy (422 otherwise)."""
    item = EmployeeBulkItem(hris_id=hris_id, **body.model_dump())
    unknown = await _unknown_roles(request, session, caller.org_id, [item])
    employees.refuse_unknown_roles(unknown, lambda u: f"body.{u.column}")
    outcome = await employees.upsert_employees(session, caller.org_id, [item])
    await received_credentials.claim_for_employees(session, caller.org_id, [hris_id])
    await session.commit()
    employee = await employees.get_employee(session, caller.org_id, hris_id)
    status = 201 if outcome.created else 200
    return JSONResponse(EmployeeOut.model_validate(employee).model_dump(mode="json"), status_code=status)


@router.post(
    "/employees/bulk",
    summary="Create or replace many employees",
    response_model=BulkUpsertOut,
    responses=WRITE_ERRORS,
)
async def bulk_upsert_employees(
    request: Request, body: EmployeeBulkIn, caller: HrisWriter, session: AsyncSession = Depends(get_session)
) -> Response:
    """Up to 5,000 records keyed by HRIS id, written in batches of one statement each, in one
    transaction. Replaying the list changes nothing; an Idempotency-Key replays the first answer.
    Role ids are checked as PUT's are; a 422 names every record's field with an unknown one."""
    unknown = await _unknown_roles(request, session, caller.org_id, body.employees)
    employees.refuse_unknown_roles(unknown, lambda u: f"body.employees.{u.index}.{u.column}")

    async def upsert() -> tuple[int, object]:
        outcome = await employees.upsert_employees(session, caller.org_id, body.employees)
        await received_credentials.claim_for_employees(session, caller.org_id, [e.hris_id for e in body.employees])
        return 200, outcome.model_dump(mode="json")

    return await create_once(session, IdempotencyRecord, request, body, org_id=caller.org_id, create=upsert)


async def _unknown_roles(
    request: Request, session: AsyncSession, org_id: uuid.UUID, people: list[EmployeeBulkItem]
) -> list[employees.UnknownRole]:
    authorization = request.headers.get("authorization", "")
    return await employees.unknown_roles(session, org_id, people, taxonomy(request), authorization)


_CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "hris_id,name,email,team,target_role_id\nE-1001,Ada Lovelace,ada@example.com,Support,\n",
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary", "description": "The CSV file."}},
                }
            },
        },
    }
}


@router.post(
    "/employees/bulk/csv",
    summary="Create or replace many employees from a CSV file",
    response_model=BulkUpsertOut,
    responses=WRITE_ERRORS,
    openapi_extra=_CSV_BODY,
)
async def bulk_upsert_employees_csv(
    request: Request, caller: HrisWriter, session: AsyncSession = Depends(get_session)
) -> Response:
    """The HRIS export as CSV (UTF-8, header row of the JSON field names; hris_id and name required),
    as a text/csv body or as multipart/form-data in the field `file`, as the other uploads take
    files: the same upsert as the JSON form, with errors naming the CSV line."""
    if is_multipart(request):
        upload = await read_upload(request, "file", "Send the CSV in the multipart field `file`.", as_text=True)
        if len(upload.data) > request.app.state.settings.max_body_bytes:
            raise PayloadTooLarge("The CSV is over the body limit.")
        data = upload.data
    else:
        data = await request.body()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Unprocessable("The CSV must be UTF-8.") from exc
    body = employees.parse_employee_csv(text)
    unknown = await _unknown_roles(request, session, caller.org_id, body.employees)
    if unknown:
        line = unknown[0].index + employees.CSV_FIRST_RECORD_LINE
        employees.refuse_unknown_roles(
            unknown, lambda u: f"line {u.index + employees.CSV_FIRST_RECORD_LINE}: {u.column}", line=line
        )

    async def upsert() -> tuple[int, object]:
        outcome = await employees.upsert_employees(session, caller.org_id, body.employees)
        await received_credentials.claim_for_employees(session, caller.org_id, [e.hris_id for e in body.employees])
        return 200, outcome.model_dump(mode="json")

    return await create_once(session, IdempotencyRecord, request, body, org_id=caller.org_id, create=upsert)


@router.get("/employees", summary="List employees", response_model=Page[EmployeeOut], responses=ERRORS)
async def list_employees(
    caller: GapReader,
    cursor: Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    team: Annotated[str | None, Query(max_length=200)] = None,
    session: AsyncSession = Depends(get_session),
) -> Page[EmployeeOut]:
    """In HRIS-id order; filter by exact team."""
    repository = employees.repository(session, caller.org_id)
    statement = repository.select(*([Employee.team == team] if team is not None else []))
    rows, next_cursor = await repository.page(statement, [Employee.hris_id], cursor=cursor, limit=limit)
    return Page[EmployeeOut](items=[EmployeeOut.model_validate(row) for row in rows], next_cursor=next_cursor)


@router.get("/employees/{hris_id}", summary="Get an employee", response_model=EmployeeOut, responses=ERRORS)
async def get_employee(
    hris_id: HrisIdPath, caller: GapReader, session: AsyncSession = Depends(get_session)
) -> EmployeeOut:
    return EmployeeOut.model_validate(await employees.get_employee(session, caller.org_id, hris_id))


@router.post(
    "/kpi-observations",
    tags=["kpis"],
    summary="Record KPI observations",
    response_model=BulkUpsertOut,
    responses=WRITE_ERRORS,
)
async def record_kpi_observations(
    request: Request, body: KpiObservationBulkIn, caller: HrisWriter, session: AsyncSession = Depends(get_session)
) -> Response:
    """Values per employee, metric and period; a value for a period already recorded replaces it.
    Every HRIS id must be known (404 names the unknown ones, and nothing is written)."""

    async def record() -> tuple[int, object]:
        outcome = await employees.record_kpi_observations(session, caller.org_id, body.observations)
        return 200, outcome.model_dump(mode="json")

    return await create_once(session, IdempotencyRecord, request, body, org_id=caller.org_id, create=record)
