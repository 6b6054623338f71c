"""Organisation, department and team gap reports, served from stored snapshots (analysis/snapshots.py)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from services.gap_engine.analysis import snapshots
from services.gap_engine.api.deps import ERRORS, GapReader
from shared.etag import if_none_match
from shared.schemas.gap_reports import BASIS_DESCRIPTION, Basis, GapGroupReport, Scope

router = APIRouter(prefix="/v1", tags=["reports"])
GroupPath = Annotated[str, Path(min_length=1, max_length=200)]
BasisQuery = Annotated[Basis, Query(description=BASIS_DESCRIPTION)]
RESPONSES = {**ERRORS, 304: {"description": "Not modified: the client's If-None-Match holds the current ETag"}}


async def _respond(request: Request, org_id: uuid.UUID, scope: Scope, name: str | None, basis: Basis) -> Response:
    """The stored report is read outside a transaction; a rebuild takes its own session."""
    body, etag = await snapshots.serve_report(
        request.app.state.database, org_id, scope, name, basis, lambda etag: if_none_match(request, etag)
    )
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if body is None:
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type="application/json", headers=headers)


@router.get(
    "/reports/organisation",
    summary="The organisation's gap report",
    response_model=GapGroupReport,
    responses=RESPONSES,
)
async def organisation_report(request: Request, caller: GapReader, basis: BasisQuery = "current") -> Response:
    """Role × skill heatmap cells, the top gaps by weighted shortfall, the readiness distribution, and a
    summary per department. Served from a stored snapshot kept current as facts, people and roles change;
    poll with If-None-Match (strong ETag) to get 304 until something changes."""
    return await _respond(request, caller.org_id, "organisation", None, basis)


@router.get(
    "/reports/departments/{department:path}",
    summary="A department's gap report",
    response_model=GapGroupReport,
    responses=RESPONSES,
)
async def department_report(
    request: Request,
    department: GroupPath,
    caller: GapReader,
    basis: BasisQuery = "current",
) -> Response:
    """As the organisation's, over the department's people, with a summary and a skill heatmap per team.
    Stored until a change to one of its people (or to role requirements) marks it stale."""
    return await _respond(request, caller.org_id, "department", department, basis)


@router.get(
    "/reports/teams/{team:path}",
    summary="A team's gap report",
    response_model=GapGroupReport,
    responses=RESPONSES,
)
async def team_report(
    request: Request,
    team: GroupPath,
    caller: GapReader,
    basis: BasisQuery = "current",
) -> Response:
    """As the organisation's, over the team's people. Stored until a change to one of them marks it stale."""
    return await _respond(request, caller.org_id, "team", team, basis)
