"""Assessment results from learning platforms: the door through which credentials are issued."""

import time
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.api.deps import ERRORS, AssessmentsWriter, base_url, key_vault, metrics, taxonomy
from services.badge_issuer.db.tables import IdempotencyRecord
from services.badge_issuer.domain import bulk_issuance, credentials, issuance
from services.badge_issuer.domain.issuance_metrics import record_answer
from shared.db import get_session
from shared.errors import PROBLEM_MEDIA_TYPE, ProblemError, problem_body
from shared.idempotency import IdempotencyKeyHeader, create_once
from shared.schemas.issuer import AssessmentResultIn, BulkAssessmentIn, BulkOut, IssuanceOut

router = APIRouter(prefix="/v1/assessment-results", tags=["issuance"])
# The platform's id for the result: without it a retry after a lost answer would issue twice.
_RESULT_KEY = IdempotencyKeyHeader(required=True, description="send the platform's unique id for this result.")


@router.post(
    "",
    summary="Post an assessment result; get the credential it earns",
    status_code=201,
    response_model=IssuanceOut,
    responses={
        **ERRORS,
        422: {"description": "Invalid body, no Idempotency-Key, or the criteria are not met (reason given)"},
        503: {"description": "The taxonomy service is unreachable"},
    },
)
async def post_assessment_result(
    request: Request,
    body: AssessmentResultIn,
    caller: AssessmentsWriter,
    _: Annotated[str | None, Depends(_RESULT_KEY)],
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Judges the result against the achievement's criteria in taxonomy_api (fetched with the caller's
    token, which needs taxonomy:read too) and issues a signed Open Badges 3.0 credential, or answers 422
    with the reason, which is recorded. The same Idempotency-Key always yields the same answer."""
    context = _context(request, caller.client_id)
    started = time.perf_counter()
    try:
        response = await create_once(
            session,
            IdempotencyRecord,
            request,
            body,
            org_id=caller.org_id,
            create=lambda: issuance.issue_from_assessment(session, caller.org_id, body, context),
        )
    except ProblemError as error:  # answered by the problem handler; counted here, as a bulk item's is
        problem = problem_body(error.status, error.title, error.detail, error.type_slug)
        record_answer(context.metrics, error.status, problem, time.perf_counter() - started, replayed=False)
        raise
    replayed = response.headers.get("idempotent-replay") == "true"
    seconds = time.perf_counter() - started
    record_answer(context.metrics, response.status_code, orjson.loads(response.body), seconds, replayed=replayed)
    if response.status_code >= 400:
        response.headers["content-type"] = PROBLEM_MEDIA_TYPE
    return response


@router.post(
    "/bulk",
    summary="Post a batch of assessment results; each is issued or refused on its own",
    response_model=BulkOut,
    responses={
        **ERRORS,
        422: {"description": "The batch itself is invalid (no items, more than 500)"},
        503: {"description": "The database is unreachable (items already reported issued stay issued)"},
    },
)
async def post_assessment_results_in_bulk(
    request: Request, body: BulkAssessmentIn, caller: AssessmentsWriter, session: AsyncSession = Depends(get_session)
) -> BulkOut:
    """Up to 500 results. Each item is all-or-nothing in its own transaction, keyed by its own
    `idempotency_key` (the same key space as the single POST), and reported with the status a single
    POST would have answered: its credential (and capstones), or its problem. Replaying a batch
    replays every item."""
    return await bulk_issuance.issue_batch(session, caller.org_id, body.items, _context(request, caller.client_id))


def _context(request: Request, actor: str) -> credentials.IssuanceContext:
    return credentials.IssuanceContext(
        taxonomy=taxonomy(request),
        authorization=request.headers["authorization"],
        vault=key_vault(request),
        base_url=base_url(request),
        actor=actor,
        metrics=metrics(request),
    )
