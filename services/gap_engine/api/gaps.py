"""Role snapshots, skill facts, gap reports, internal mobility and ROI."""

import asyncio
import uuid
import weakref
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.gap_engine.analysis import gaps, profiles
from services.gap_engine.api.deps import ERRORS, WRITE_ERRORS, Admin, GapReader, HrisWriter, taxonomy
from services.gap_engine.db.tables import IdempotencyRecord
from services.gap_engine.domain import roi, roles, skill_facts
from shared.db import Database, get_session
from shared.etag import bytes_with_etag, json_with_etag
from shared.idempotency import create_once
from shared.schemas.gaps import (
    CandidateList,
    GapReport,
    RoiIn,
    RoiOut,
    RoleSnapshotOut,
    SkillFactIn,
    SkillFactOut,
    SkillProfile,
    TeamGapReport,
)

router = APIRouter(prefix="/v1")
HrisIdPath = Annotated[str, Path(min_length=1, max_length=128)]


@router.post(
    "/roles/{role_id}/sync",
    tags=["roles"],
    summary="Copy a role's requirements from taxonomy_api",
    response_model=RoleSnapshotOut,
    responses={**ERRORS, 503: {"description": "taxonomy_api unreachable"}},
)
async def sync_role(
    request: Request, role_id: uuid.UUID, caller: HrisWriter, session: AsyncSession = Depends(get_session)
) -> RoleSnapshotOut:
    """Replaces this role's snapshot with what taxonomy_api says now, read with the caller's own token
    (which therefore also needs taxonomy:read, or admin)."""
    snapshot = await roles.sync_role(
        session, caller.org_id, role_id, taxonomy(request), request.headers["authorization"]
    )
    await session.commit()
    return snapshot


@router.get(
    "/roles/{role_id}/requirements",
    tags=["roles"],
    summary="The synced requirements of a role",
    response_model=RoleSnapshotOut,
    responses=ERRORS,
)
async def role_requirements(
    role_id: uuid.UUID, caller: GapReader, session: AsyncSession = Depends(get_session)
) -> RoleSnapshotOut:
    """The snapshot gap reports use; 404 until the role has been synced."""
    return await roles.role_snapshot(session, caller.org_id, role_id)


@router.post(
    "/skill-facts",
    tags=["skill facts"],
    summary="Record a verified skill fact",
    status_code=201,
    response_model=SkillFactOut,
    responses=WRITE_ERRORS,
)
async def record_skill_fact(
    request: Request, body: SkillFactIn, caller: Admin, session: AsyncSession = Depends(get_session)
) -> Response:
    """Admin only, for this slice: a fact the admin vouches for. Credentials arriving by the issuer's
    webhooks, verified and checked against trusted issuers, will produce these facts later."""

    async def record() -> tuple[int, object]:
        fact = await skill_facts.record_skill_fact(session, caller.org_id, body)
        return 201, fact.model_dump(mode="json")

    return await create_once(session, IdempotencyRecord, request, body, org_id=caller.org_id, create=record)


@router.get(
    "/employees/{hris_id}/gap",
    tags=["gaps"],
    summary="An employee's gap against a role",
    response_model=GapReport,
    responses={**ERRORS, 422: {"description": "No role given and the employee has none"}},
)
async def employee_gap(
    request: Request,
    hris_id: HrisIdPath,
    caller: GapReader,
    role_id: Annotated[uuid.UUID | None, Query(description="Default: the target role, else the current one")] = None,
) -> Response:
    """Per requirement: required vs verified level, shortfall, weight, criticality; must-have gaps first.
    Tagged with an ETag: a dashboard polling with If-None-Match gets 304 until something changes."""
    # One read statement, on a connection without a transaction (no BEGIN/ROLLBACK round trips, no ORM),
    # serialised without building the response models (the bytes are GapReport's JSON).
    database = request.app.state.database
    async with _read_slots(database), database.autocommit_engine.connect() as connection:
        body = await gaps.role_gap_json(connection, caller.org_id, hris_id, role_id)
    return bytes_with_etag(request, body)


_READ_SLOTS: "weakref.WeakKeyDictionary[Database, asyncio.Semaphore]" = weakref.WeakKeyDictionary()


def _read_slots(database: Database) -> asyncio.Semaphore:
    """At most the pool's size of these reads at once. Past it, SQLAlchemy opens an overflow connection
    (TLS negotiation, a new backend) and closes it straight after: under 32 clients that churn, not the
    query, was most of the time. Waiting here for a pooled connection costs far less."""
    slots = _READ_SLOTS.get(database)
    if slots is None:
        size = database.engine.pool.size() if hasattr(database.engine.pool, "size") else 64
        slots = _READ_SLOTS[database] = asyncio.Semaphore(max(size, 1))
    return slots


@router.get(
    "/employees/{hris_id}/skills",
    tags=["gaps"],
    summary="An employee's verified skill profile",
    response_model=SkillProfile,
    responses=ERRORS,
)
async def employee_skills(
    request: Request,
    hris_id: HrisIdPath,
    caller: GapReader,
    expiring_within_days: Annotated[int, Query(ge=0, le=3650)] = 90,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Per skill: the highest current verified level, the credentials behind it, when it was earned,
    and whether it lapses within `expiring_within_days`."""
    profile = await profiles.verified_skill_profile(
        session, caller.org_id, hris_id, expiring_within=timedelta(days=expiring_within_days)
    )
    return json_with_etag(request, profile)


@router.get(
    "/roles/{role_id}/candidates",
    tags=["gaps"],
    summary="Rank employees for a role",
    response_model=CandidateList,
    responses=ERRORS,
)
async def role_candidates(
    role_id: uuid.UUID,
    caller: GapReader,
    team: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    session: AsyncSession = Depends(get_session),
) -> CandidateList:
    """Internal mobility: employees by readiness (highest first), each with the gaps that remain."""
    return await gaps.rank_candidates(session, caller.org_id, role_id, team=team, limit=limit)


@router.get(
    "/teams/{team:path}/gaps",
    tags=["gaps"],
    summary="A team's gaps",
    response_model=TeamGapReport,
    responses=ERRORS,
)
async def team_gaps(
    team: Annotated[str, Path(min_length=1, max_length=200)],
    caller: GapReader,
    role_id: Annotated[uuid.UUID | None, Query(description="Default: each member's target, else current, role")] = None,
    session: AsyncSession = Depends(get_session),
) -> TeamGapReport:
    """Heatmap data (share of the team meeting each requirement), the largest weighted shortfalls, and
    the readiness distribution. Members with no synced role are counted in headcount, not assessed."""
    return await gaps.compute_team_gaps(session, caller.org_id, team, role_id)


@router.post("/roi", tags=["roi"], summary="Estimate the ROI of a credential programme", response_model=RoiOut)
async def estimate_roi(body: RoiIn, _: GapReader) -> RoiOut:
    """Pure arithmetic on the inputs, nothing stored: first-year gain = seats × revenue per head ×
    expected uplift (a fraction) × retention (the share of the uplift that sticks), set against
    seats × cost per seat. The worked example, 5,000 seats at $500 with $150,000 revenue per head and a
    20 % uplift of which half sticks, is a thought experiment from reported figures (about 29× net in
    the first year), not a measurement."""
    return roi.estimate_roi(body)
