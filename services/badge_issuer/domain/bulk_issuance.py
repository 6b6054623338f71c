"""Bulk issuance: a batch of assessment results, each issued or refused on its own.

Every item has its own idempotency key, in the same key space as the single POST (a result sent once
alone and once in a batch yields one credential), and is all-or-nothing. Items are committed in
groups of COMMIT_GROUP (one transaction, one commit, one read of the stored keys per group) instead
of one transaction each: that commit and the read before every item were most of what an item cost
beyond issuing itself. A group's credentials are kept in memory (issuance_rows.DeferredIssuances)
and written in one pipelined statement before its commit, so a failing item is undone by forgetting
what it kept, with no savepoint pair per item; should an item fail after a read had to write the
group's rows early (a capstone's steps are read from the database), the group is rolled back and
settled item by item. An
item whose key meets the unique constraint (the same key earlier in the group, or committed meanwhile
by another request) is settled after its group's commit, on its own, as before. Groups are
PostgreSQL's; on SQLite (one writer) each item keeps its own transaction. The report says, per
item, what a single POST would have answered, and is only written once every item in it is committed.
"""

import time
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.db.tables import IdempotencyRecord
from services.badge_issuer.domain import capstones, credentials, issuance, issuance_rows
from services.badge_issuer.domain.issuance_metrics import record_answer
from shared.db import utcnow
from shared.errors import ProblemError, problem_body, validation_detail, validation_errors
from shared.idempotency import request_fingerprint
from shared.schemas.issuer import AssessmentResultIn, BulkAssessmentItemIn, BulkItemOut, BulkOut

# The path whose Idempotency-Key space the items share.
SINGLE_PATH = "/v1/assessment-results"
# Items per transaction: long enough to share a commit, short enough that a capstone's per-learner lock
# (held to the commit) and the transaction itself stay well within the lock and idle bounds.
COMMIT_GROUP = 50


@dataclass(slots=True)
class _Item:
    """One item on its way: its key, its parsed result and fingerprint, and its answer once known."""

    key: str | None
    result: AssessmentResultIn | None = None
    fingerprint: str = ""
    answer: tuple[int, dict[str, Any], bool] | None = None  # (status, body, replayed)
    started: float = 0.0


async def issue_batch(
    session: AsyncSession, org_id: uuid.UUID, items: list[dict[str, Any]], context: "credentials.IssuanceContext"
) -> BulkOut:
    reports = []
    for start in range(0, len(items), COMMIT_GROUP):
        group = await _issue_group(session, org_id, items[start : start + COMMIT_GROUP], context)
        for offset, item in enumerate(group):
            assert item.answer is not None
            status, body, replayed = item.answer
            record_answer(context.metrics, status, body, time.perf_counter() - item.started, replayed=replayed)
            reports.append(_report(start + offset, item.key, status, body, replayed=replayed))
    return BulkOut(
        issued=sum(report.outcome == "issued" for report in reports),
        refused=sum(report.outcome == "refused" for report in reports),
        failed=sum(report.outcome == "failed" for report in reports),
        items=reports,
    )


async def _issue_group(
    session: AsyncSession, org_id: uuid.UUID, raws: list[dict[str, Any]], context: "credentials.IssuanceContext"
) -> list[_Item]:
    """Answer every item of the group: replays and invalid items first, then the new ones in one
    transaction, their rows and then their idempotency records in one statement each, committed together.
    A key seen earlier in the group is settled after the commit, alone (it replays, or is refused as
    reused). Should a record meet a key committed meanwhile by another request, nothing of the group
    is kept and its items are settled one at a time instead, as they were before groups."""
    if session.bind.dialect.name != "postgresql":
        return await _issue_one_by_one(session, org_id, raws, context)
    group = [_parse(raw) for raw in raws]
    stored = await _stored_many(session, org_id, [item for item in group if item.answer is None])
    deferred: list[tuple[_Item, dict[str, Any]]] = []
    records: list[dict[str, Any]] = []
    keys_in_group: set[str] = set()
    profiles: dict[uuid.UUID, credentials.IssuingProfile] = {}
    issuing: list[_Item] = []
    for item, raw in zip(group, raws, strict=True):
        if item.answer is not None:
            continue
        if item.key in stored:
            item.answer = (*_stored_answer(stored[item.key], item.fingerprint), True)
        elif item.key in keys_in_group:
            deferred.append((item, raw))
        else:
            assert item.result is not None and item.key is not None
            keys_in_group.add(item.key)
            issuing.append(item)
    rows = issuance_rows.DeferredIssuances()
    rows.start(session)
    redo = False
    try:
        await _prepare_pathway_checks(session, org_id, issuing, context)
        for item in issuing:
            assert item.result is not None
            item.started = time.perf_counter()
            mark = rows.mark()
            try:
                status, body = await issuance.issue_from_assessment(
                    session, org_id, item.result, context, profiles=profiles
                )
                item.answer = (status, body, False)
                records.append(_record(org_id, item, status, body))
            except ProblemError as error:
                if not rows.rollback_to(mark):  # some of its rows were written already: only a rollback undoes them
                    redo = True
                    break
                problem = problem_body(error.status, error.title, error.detail, error.type_slug, **error.extensions)
                item.answer = (error.status, problem, False)
    finally:
        issuance_rows.DeferredIssuances.stop(session)
    if not redo:
        try:
            await rows.send(session)
            if records:
                await session.execute(insert(IdempotencyRecord.__table__), records)
            await session.commit()
        except IntegrityError:  # e.g. a key committed meanwhile by another request
            redo = True
    if redo:  # nothing of the group is kept: each item is settled alone
        await session.rollback()
        deferred = [(item, raw) for item, raw in zip(group, raws, strict=True) if item.key not in stored]
    for item, raw in deferred:
        item.started = time.perf_counter()
        _key, status, body, replayed = await _issue_item(session, org_id, raw, context)
        item.answer = (status, body, replayed)
    return group


async def _prepare_pathway_checks(
    session: AsyncSession, org_id: uuid.UUID, issuing: list[_Item], context: "credentials.IssuanceContext"
) -> None:
    """The group's pathway reads and learner locks, taken together (capstones.prepare_group). Should the
    taxonomy not say which pathways there are, nothing is prepared: each item asks on its own and is
    answered as alone (a 503 for that item, not for the whole request)."""
    intended = []
    for item in issuing:
        assert item.result is not None
        intended.append((credentials.Subject.of(item.result.learner).key, item.result.achievement_id))
    try:
        await capstones.prepare_group(session, org_id, intended, context)
    except ProblemError:
        return


async def _issue_one_by_one(
    session: AsyncSession, org_id: uuid.UUID, raws: list[dict[str, Any]], context: "credentials.IssuanceContext"
) -> list[_Item]:
    """SQLite: each item in its own transaction. Its driver begins a transaction only before a write,
    so a savepoint opened first would be the outermost and its release a commit of the item alone;
    and SQLite has one writer, so a group would save no lock, only a commit."""
    answered = []
    for raw in raws:
        started = time.perf_counter()
        key, status, body, replayed = await _issue_item(session, org_id, raw, context)
        answered.append(_Item(key, answer=(status, body, replayed), started=started))
    return answered


def _record(org_id: uuid.UUID, item: _Item, status: int, body: dict[str, Any]) -> dict[str, Any]:
    """The item's idempotency record, as the single POST stores it."""
    return {
        "id": uuid.uuid4(),
        "org_id": org_id,
        "key": item.key,
        "request_hash": item.fingerprint,
        "status_code": status,
        "response_body": body,
        "created_at": utcnow(),
    }


def _parse(raw: dict[str, Any]) -> _Item:
    """The item validated as the single POST's body and fingerprinted as its request; or its 422."""
    item = _Item(raw.get("idempotency_key") if isinstance(raw.get("idempotency_key"), str) else None)
    item.started = time.perf_counter()
    try:
        parsed = BulkAssessmentItemIn.model_validate(raw)
    except ValidationError as error:
        errors = validation_errors(error, within=("body",))  # as the single POST would name them
        problem = problem_body(422, "Invalid request", validation_detail(errors), "validation", errors=errors)
        item.answer = (422, problem, False)
        return item
    item.key = parsed.idempotency_key
    item.result, item.fingerprint = _as_single_post(parsed)
    return item


def _as_single_post(item: BulkAssessmentItemIn) -> tuple[AssessmentResultIn, str]:
    """The item as the single POST's body (it is one: the bulk model only adds the key) and the
    fingerprint that POST would have, without validating and dumping it a second time."""
    return item, request_fingerprint("POST", SINGLE_PATH, item.model_dump(mode="json", exclude={"idempotency_key"}))


async def _stored_many(session: AsyncSession, org_id: uuid.UUID, items: list[_Item]) -> dict[str, IdempotencyRecord]:
    """The stored answers of the items' keys, in one read."""
    keys = sorted({item.key for item in items if item.key is not None})
    if not keys:
        return {}
    records = await session.scalars(
        select(IdempotencyRecord).where(IdempotencyRecord.org_id == org_id, IdempotencyRecord.key.in_(keys))
    )
    return {record.key: record for record in records}


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
    result, fingerprint = _as_single_post(item)
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
    return None if record is None else _stored_answer(record, fingerprint)


def _stored_answer(record: IdempotencyRecord, fingerprint: str) -> tuple[int, dict[str, Any]]:
    """The stored answer, or a 422 when the key was used with a different result."""
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
