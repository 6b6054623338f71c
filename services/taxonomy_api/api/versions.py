"""Governance routes: versions (draft, submit, review, publish), frozen objects, diffs, the review
policy, overdue reviews and the audit log. Reviewing, publishing, the policy and the log need `admin`;
reading versions `taxonomy:read`; submitting a draft `taxonomy:write`."""

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.api.resources import ERRORS, TaxonomyReader, TaxonomyWriter
from services.taxonomy_api.db.tables import GovernanceEvent, IdempotencyRecord, TaxonomyVersion
from services.taxonomy_api.domain import governance_log, versions
from shared.auth import requires
from shared.db import get_session
from shared.etag import bytes_with_etag, json_bytes
from shared.idempotency import create_once
from shared.pagination import Page, paginate

router = APIRouter(prefix="/v1", tags=["versions"])
GovernanceAdmin = requires("admin")
VersionName = Annotated[str, Path(max_length=64, description="A version id, `draft` or `published`.")]
Text = Annotated[str, StringConstraints(max_length=10_000)]
KIND_PATHS = {
    "skills": "skill",
    "capabilities": "capability",
    "roles": "role",
    "achievements": "achievement",
    "pathways": "pathway",
    "scales": "scale",
}
GOVERNANCE_ERRORS = {
    **ERRORS,
    409: {"description": "The version is not in the state this needs (or nothing changed)"},
    422: {"description": "Invalid body (the problem names the field)"},
}


class VersionOut(BaseModel):
    id: uuid.UUID
    number: int
    status: str = Field(description="draft, in_review, approved, rejected, published or superseded.")
    title: str
    notes: str
    authors: list[str] = Field(description="Everyone who changed the draft: none of them may review it.")
    digest: str | None
    entity_count: int
    created_at: str | None
    submitted_by: str | None
    submitted_at: str | None
    decided_at: str | None
    published_by: str | None
    published_at: str | None
    gap_engine_refresh: str | None = Field(
        None, description="On publication: whether the gap engine was asked to follow, and what it said."
    )


class SubmitIn(BaseModel):
    title: Annotated[str, StringConstraints(max_length=200)] = ""
    notes: Text = ""


class CriterionScore(BaseModel):
    criterion: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    score: float = Field(ge=0, le=100)
    comment: Text = ""


class ReviewIn(BaseModel):
    decision: Literal["approve", "reject"]
    scores: list[CriterionScore] = Field(default_factory=list, max_length=50)
    comment: Text = ""


class ReviewOut(BaseModel):
    id: uuid.UUID
    version_id: uuid.UUID
    reviewer: str
    decision: str
    scores: list[CriterionScore]
    weighted_score: float = Field(description="Σ weight·score / Σ weight·max_score over the rubric (1 without one).")
    comment: str
    created_at: str


class Criterion(BaseModel):
    key: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$")]
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: Text = ""
    weight: float = Field(gt=0, le=100)
    max_score: float = Field(gt=0, le=100)


class PolicyIn(BaseModel):
    criteria: list[Criterion] = Field(default_factory=list, max_length=50)
    required_approvals: int = Field(1, ge=1, le=10)
    pass_score: float = Field(0.0, ge=0, le=1, description="The weighted score (a fraction) an approval needs.")


def _version(version: TaxonomyVersion) -> dict[str, Any]:
    return versions.describe_version(version)


@router.get("/versions", response_model=Page[VersionOut], summary="List versions", responses=ERRORS)
async def list_versions(
    caller: TaxonomyReader,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    session: AsyncSession = Depends(get_session),
) -> Any:
    """The organisation's versions, oldest first (by number)."""
    statement = select(TaxonomyVersion).where(TaxonomyVersion.org_id == caller.org_id)
    found, next_cursor = await paginate(session, statement, [TaxonomyVersion.number], cursor=cursor, limit=limit)
    return {"items": [_version(v) for v in found], "next_cursor": next_cursor}


@router.get("/versions/{version}", response_model=VersionOut, summary="Get a version", responses=ERRORS)
async def get_version(
    version: VersionName, caller: TaxonomyReader, session: AsyncSession = Depends(get_session)
) -> Any:
    """One version; `draft` is the open draft (404 when nothing changed since the last submission)."""
    return _version(await versions.get_version(session, caller.org_id, version))


@router.post(
    "/versions/draft/submit",
    status_code=201,
    response_model=VersionOut,
    summary="Submit the draft for review",
    responses=GOVERNANCE_ERRORS,
)
async def submit_draft(
    request: Request, body: SubmitIn, caller: TaxonomyWriter, session: AsyncSession = Depends(get_session)
) -> Response:
    """Freezes the working taxonomy into a version in review; later changes open the next draft.
    Send an `Idempotency-Key` to make a retry safe."""

    async def build() -> tuple[int, Any]:
        base_url = request.app.state.settings.public_base_url
        version = await versions.submit(session, caller.org_id, caller.client_id, body.title, body.notes, base_url)
        return 201, _version(version)

    return await create_once(session, IdempotencyRecord, request, body, org_id=caller.org_id, create=build)


@router.post(
    "/versions/{version_id}/reviews",
    status_code=201,
    response_model=ReviewOut,
    summary="Review a version",
    responses={**GOVERNANCE_ERRORS, 403: {"description": "Not admin, or an author of the version"}},
)
async def review_version(
    request: Request,
    version_id: uuid.UUID,
    body: ReviewIn,
    caller: GovernanceAdmin,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Approve or reject against the organisation's rubric, every criterion scored. The draft's authors
    and its submitter may not review it; enough approvals (the policy's setting) approve it."""

    async def build() -> tuple[int, Any]:
        scores = [score.model_dump() for score in body.scores]
        entry = await versions.review(
            session, caller.org_id, version_id, caller.client_id, body.decision, scores, body.comment
        )
        return 201, versions.describe_review(entry)

    return await create_once(session, IdempotencyRecord, request, body, org_id=caller.org_id, create=build)


@router.get(
    "/versions/{version_id}/reviews", response_model=list[ReviewOut], summary="A version's reviews", responses=ERRORS
)
async def list_reviews(
    version_id: uuid.UUID, caller: TaxonomyReader, session: AsyncSession = Depends(get_session)
) -> Any:
    """Who reviewed the version, with each criterion's score and comments."""
    version = await versions.get_version(session, caller.org_id, str(version_id))
    return [versions.describe_review(entry) for entry in await versions.reviews_of(session, version.id)]


@router.post(
    "/versions/{version_id}/publish",
    response_model=VersionOut,
    summary="Publish a version",
    responses=GOVERNANCE_ERRORS,
)
async def publish_version(
    request: Request, version_id: uuid.UUID, caller: GovernanceAdmin, session: AsyncSession = Depends(get_session)
) -> Any:
    """Makes an approved version the one the issuer and the gap engine read; the previous one is
    superseded, still resolvable, and neither ever changes. Then the gap engine is asked to follow
    (re-read its roles, re-map credentials) with the caller's token; `gap_engine_refresh` says how it went."""
    version = await versions.publish(session, caller.org_id, version_id, caller.client_id)
    described = _version(version)
    await session.commit()
    settings = request.app.state.settings
    described["gap_engine_refresh"] = await versions.tell_gap_engine(
        settings.gap_engine_url, request.headers["authorization"], settings.gap_engine_timeout_seconds
    )
    return described


@router.get(
    "/versions/{version_a}/diff/{version_b}",
    summary="Compare two versions",
    responses={**ERRORS, 200: {"content": {"application/json": {}, "text/plain": {}}, "description": "The diff"}},
)
async def diff_versions(
    request: Request,
    version_a: VersionName,
    version_b: VersionName,
    caller: TaxonomyReader,
    format: Annotated[Literal["json", "text"], Query()] = "json",
    session: AsyncSession = Depends(get_session),
) -> Response:
    """What changed from A to B (`draft` and `published` allowed): objects added, removed and changed,
    field by field (a role's requirements per skill). `format=text` (or `Accept: text/plain`) gives
    a summary for people."""
    base_url = request.app.state.settings.public_base_url
    difference = await versions.diff(session, caller.org_id, version_a, version_b, base_url)
    if format == "text" or request.headers.get("accept", "").startswith("text/plain"):
        return Response(versions.summary_text(difference), media_type="text/plain; charset=utf-8")
    return Response(json_bytes(difference), media_type="application/json")


@router.get(
    "/versions/{version}/{kind}/{entity_id}",
    summary="An object as a version holds it",
    responses={**ERRORS, 304: {"description": "Not modified"}},
)
async def frozen_object(
    request: Request,
    version: VersionName,
    kind: Literal["skills", "capabilities", "roles", "achievements", "pathways", "scales"],
    entity_id: uuid.UUID,
    caller: TaxonomyReader,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """The object as it was frozen in the version; a published version never changes, so this is what
    a credential's alignment cites."""
    found = await versions.get_version(session, caller.org_id, version)
    body = await versions.frozen_body(session, found.id, KIND_PATHS[kind], str(entity_id))
    response = bytes_with_etag(request, json_bytes(body))
    if found.status != "draft" and version not in ("draft", "published"):
        # Addressed by its id, a frozen version's object never changes.
        response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    return response


@router.get("/review-policy", response_model=PolicyIn, summary="The review policy", responses=ERRORS, tags=["reviews"])
async def get_review_policy(caller: TaxonomyReader, session: AsyncSession = Depends(get_session)) -> Any:
    """The rubric reviewers score against, how many approvals approve, and the pass score."""
    return (await versions.get_policy(session, caller.org_id)).as_dict()


@router.put(
    "/review-policy",
    response_model=PolicyIn,
    summary="Set the review policy",
    responses=GOVERNANCE_ERRORS,
    tags=["reviews"],
)
async def set_review_policy(
    body: PolicyIn, caller: GovernanceAdmin, session: AsyncSession = Depends(get_session)
) -> Any:
    """Replace the rubric (criteria with weights and ranges), the number of approvals and the pass score."""
    policy = versions.Policy(
        criteria=[criterion.model_dump() for criterion in body.criteria],
        required_approvals=body.required_approvals,
        pass_score=body.pass_score,
    )
    saved = await versions.set_policy(session, caller.org_id, caller.client_id, policy)
    await session.commit()
    return saved.as_dict()


class OverdueOut(BaseModel):
    kind: str
    id: uuid.UUID
    name: str
    owner: str
    review_by: date


@router.get(
    "/reviews/overdue", response_model=list[OverdueOut], summary="Overdue reviews", responses=ERRORS, tags=["reviews"]
)
async def overdue_reviews(
    caller: TaxonomyReader,
    before: Annotated[date | None, Query(description="Default: today.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    session: AsyncSession = Depends(get_session),
) -> Any:
    """Skills, capabilities, roles and achievements due for review before the day, with their owners."""
    return await versions.overdue(session, caller.org_id, before or date.today(), limit)


class EventOut(BaseModel):
    sequence: int
    at: str
    actor: str
    action: str
    subject: str
    detail: dict[str, Any]
    previous_hash: str
    hash: str


class ChainCheck(BaseModel):
    valid: bool
    events: int
    first_broken_sequence: int | None


@router.get(
    "/governance/events",
    response_model=Page[EventOut],
    summary="Export the audit log",
    responses=ERRORS,
    tags=["audit"],
)
async def governance_events(
    caller: GovernanceAdmin,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 200,
    session: AsyncSession = Depends(get_session),
) -> Any:
    """Every governance event, oldest first, with the hashes that chain them: an auditor recomputes
    each `hash` as SHA-256(previous_hash + newline + the event's canonical JSON)."""
    statement = select(GovernanceEvent).where(GovernanceEvent.org_id == caller.org_id)
    events, next_cursor = await paginate(session, statement, [GovernanceEvent.sequence], cursor=cursor, limit=limit)
    return {"items": [governance_log.describe_event(e) for e in events], "next_cursor": next_cursor}


@router.get(
    "/governance/events/verification",
    response_model=ChainCheck,
    summary="Check the audit log's chain",
    responses=ERRORS,
    tags=["audit"],
)
async def verify_governance_events(caller: GovernanceAdmin, session: AsyncSession = Depends(get_session)) -> Any:
    """Recomputes the chain from the first event: valid, or the first sequence that does not follow."""
    return await governance_log.verify(session, caller.org_id)
