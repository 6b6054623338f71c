"""Recommendations (which achievements close an employee's gaps) and KPI linkage (what they did for a metric)."""

import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.gap_engine.analysis import kpi_linkage, recommendations
from services.gap_engine.api.deps import ERRORS, GapReader, taxonomy
from shared.db import get_session
from shared.etag import json_with_etag
from shared.schemas.gap_insights import KpiLinkage, Recommendation

router = APIRouter(prefix="/v1")
HrisIdPath = Annotated[str, Path(min_length=1, max_length=128)]
TAXONOMY_ERRORS = {
    **ERRORS,
    422: {"description": "No role given and the employee has none, or the catalogue exceeds its bound"},
    503: {"description": "taxonomy_api unreachable"},
}


@router.get(
    "/employees/{hris_id}/recommendations",
    tags=["recommendations"],
    summary="The shortest ordered list of achievements closing an employee's must-have gaps",
    response_model=Recommendation,
    responses={**TAXONOMY_ERRORS, 304: {"description": "Not modified"}},
)
async def employee_recommendations(
    request: Request,
    hris_id: HrisIdPath,
    caller: GapReader,
    role_id: Annotated[uuid.UUID | None, Query(description="Default: the target role, else the current one")] = None,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Achievements (with the pathway prerequisites the employee does not hold) whose certified levels
    close every must-have gap, prerequisites first; what each step closes, the should-have gaps it closes
    as a bonus, and the must-have gaps no achievement closes. The catalogue is read from taxonomy_api with
    the caller's token, which therefore also needs taxonomy:read."""
    recommendation = await recommendations.recommend_achievements(
        session,
        caller.org_id,
        hris_id,
        role_id,
        taxonomy=taxonomy(request),
        authorization=request.headers["authorization"],
    )
    return json_with_etag(request, recommendation)


@router.get(
    "/kpis/{metric}/linkage",
    tags=["kpis"],
    summary="How holders of each achievement score on a KPI, and the pairs over-represented in its top quartile",
    response_model=KpiLinkage,
    responses={
        **ERRORS,
        304: {"description": "Not modified"},
        404: {"description": "No observation of the metric in the caller's organisation (for that period)"},
        422: {"description": "Groups too small to say anything, or an invalid period"},
        503: {"description": "taxonomy_api unreachable"},
    },
)
async def kpi_achievement_linkage(
    request: Request,
    metric: Annotated[str, Path(min_length=1, max_length=200)],
    caller: GapReader,
    direction: Annotated[
        Literal["increase", "decrease"], Query(description="increase: higher is better; decrease: lower is better")
    ] = "increase",
    period_from: Annotated[date | None, Query(description="Only observations whose period starts on or after")] = None,
    period_to: Annotated[date | None, Query(description="Only observations whose period ends on or before")] = None,
    pairs: Annotated[int, Query(ge=0, le=50, description="How many top pairs to return")] = 10,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Per achievement: holders (earned before the observation's period) against non-holders, the
    difference in means with a seeded bootstrap 95 % interval, or insufficient_data when a group is
    smaller than the minimum; and the achievement pairs with the highest lift in the top quartile.
    Refused (422) when no achievement has large enough groups. Association, not causation."""
    names = await taxonomy(request).achievement_names(caller.org_id, request.headers["authorization"])
    linkage = await kpi_linkage.kpi_linkage(
        session,
        caller.org_id,
        metric,
        names=names,
        direction=direction,
        period_from=period_from,
        period_to=period_to,
        pairs=pairs,
    )
    return json_with_etag(request, linkage)
