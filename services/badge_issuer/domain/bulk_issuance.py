"""Bulk issuance: a batch of assessment results, each issued or refused on its own.

Every item runs in its own transaction with its own idempotency key, in the same key space as the
single POST (a result sent once alone and once in a batch yields one credential). A failing item
rolls back only itself; the report says, per item, what a single POST would have answered.
"""

import time
import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.db.tables import IdempotencyRecord
from services.badge_issuer.domain import credentials, issuance
from services.badge_issuer.domain.issuance_metrics import record_answer
from shared.errors import ProblemError, problem_body, validation_detail, validation_errors
from shared.idempotency import request_fingerprint
from shared.schemas.issuer import AssessmentResultIn, BulkAssessmentItemIn, BulkItemOut, BulkOut

# The path whose Idempotency-Key space the items share.
SINGLE_PATH = "/v1/assessment-results"


async def issue_batch(
    session: AsyncSession, org_id: uuid.UUID, items: list[dict[str, Any]], context: "credentials.IssuanceContext"
) -> BulkOut:
    reports = []
    for index, item in enumerate(items):
        started = time.perf_counter()
        key, status, body, replayed = await _issue_item(session, org_id, item, context)
        record_answer(context.metrics, status, body, time.perf_counter() - started, replayed=replayed)
        reports.append(_report(index, key, status, body, replayed=replayed))
    return BulkOut(
        issued=sum(report.outcome == "issued" for report in reports),
        refused=sum(report.outcome == "refused" for report in reports),
        failed=sum(report.outcome == "failed" for report in reports),
        items=reports,
    )


async def _issue_item(
    session: AsyncSession, org_id: uuid.UUID, raw: dict[str, Any], context: "credentials.IssuanceContext"
) -> tuple[str | None, int, dict[str, Any], bool]:
    """(idempotency key, status, body, replayed): the answer a single POST of the item would give."""
    key = raw.get("idempotency_key") if isinstance(raw.get("idempotency_key"), str) else None
    try:
        item = BulkAssessmentItemIn.model_validate(raw)
    except ValidationError as error:
        errors = validation_errors(error, within=("body",))  # as the single POST would name them
        problem = problem_body(422, "Invalid request", validation_detail(errors), "validation", errors=errors)
        return key, 422, problem, False
    key = item.idempotency_key
    result = AssessmentResultIn.model_validate(item.model_dump(exclude={"idempotency_key"}))
    fingerprint = request_fingerprint("POST", SINGLE_PATH, result.model_dump(mode="json"))
    stored = await _stored(session, org_id, key, fingerprint)
    if stored is not None:
        return key, *stored, True
    try:
        status, body = await issuance.issue_from_assessment(session, org_id, result, context)
        session.add(
            IdempotencyRecord(org_id=org_id, key=key, request_hash=fingerprint, status_code=status, response_body=body)
        )
        await session.commit()
    except ProblemError as error:
        await session.rollback()
        problem = problem_body(error.status, error.title, error.detail, error.type_slug, **error.extensions)
        return key, error.status, problem, False
    except IntegrityError:
        await session.rollback()  # the same key, committed concurrently: answer as it did
        stored = await _stored(session, org_id, key, fingerprint)
        if stored is None:
            raise
        return key, *stored, True
    return key, status, body, False


async def _stored(
    session: AsyncSession, org_id: uuid.UUID, key: str, fingerprint: str
) -> tuple[int, dict[str, Any]] | None:
    record = await session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.org_id == org_id, IdempotencyRecord.key == key)
    )
    if record is None:
        return None
    if record.request_hash != fingerprint:
        detail = "This idempotency_key was already used with a different result; use a new key."
        return 422, problem_body(422, "Unprocessable content", detail, "unprocessable")
    return record.status_code, record.response_body


def _report(index: int, key: str | None, status: int, body: dict[str, Any], *, replayed: bool) -> BulkItemOut:
    if status == 201:
        return BulkItemOut(
            index=index,
            idempotency_key=key,
            status=status,
            outcome="issued",
            replayed=replayed,
            assessment_result_id=body["assessment_result_id"],
            credential_id=body["credential"]["id"],
            capstone_ids=[capstone["id"] for capstone in body.get("capstones", [])],
        )
    refused = body.get("outcome") == "refused"
    return BulkItemOut(
        index=index,
        idempotency_key=key,
        status=status,
        outcome="refused" if refused else "failed",
        replayed=replayed,
        assessment_result_id=body.get("assessment_result_id") if refused else None,
        problem=body,
    )
