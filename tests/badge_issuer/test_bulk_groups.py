"""Bulk items committed in groups keep the single POST's promises: each item alone is all-or-nothing,
a key used twice in one batch issues once, and groups after the first see what the first committed."""

import uuid

from sqlalchemy import event, func, select, text

from services.badge_issuer.db.tables import AssessmentResult, Credential, IdempotencyRecord
from services.badge_issuer.domain import bulk_issuance, capstones, credentials, issuance, issuance_rows
from shared.errors import ServiceUnavailable
from tests.badge_issuer.conftest import idempotent


def _item(assessment, key: str, **overrides) -> dict:
    return {**assessment(**overrides), "idempotency_key": key}


async def _count(issuer_app, model, org) -> int:
    async with issuer_app.state.database.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model).where(model.org_id == org))


async def test_a_key_twice_in_one_group_issues_once(client, issuer_app, headers, assessment, org):
    items = [_item(assessment, "dup-1"), _item(assessment, "dup-1"), _item(assessment, "dup-1", score=99)]
    report = (await client.post("/v1/assessment-results/bulk", json={"items": items}, headers=headers)).json()
    first, again, changed = report["items"]
    assert first["status"] == 201 and not first["replayed"]
    assert again["status"] == 201 and again["replayed"] and again["credential_id"] == first["credential_id"]
    assert changed["status"] == 422 and "different result" in changed["problem"]["detail"]
    assert await _count(issuer_app, Credential, org) == 1
    assert await _count(issuer_app, AssessmentResult, org) == 1  # the twin's rows rolled back with it
    assert await _count(issuer_app, IdempotencyRecord, org) == 1


async def test_items_across_groups_each_answer_as_alone(client, issuer_app, headers, assessment, org, monkeypatch):
    monkeypatch.setattr(bulk_issuance, "COMMIT_GROUP", 2)
    items = [
        _item(assessment, "g-1"),
        _item(assessment, "g-2", issuer_id=str(uuid.uuid4())),  # fails alone, mid-group
        _item(assessment, "g-3", score=10),  # refused: its result is kept
        _item(assessment, "g-4"),
        _item(assessment, "g-1"),  # the first group's key, replayed from what that group committed
    ]
    report = (await client.post("/v1/assessment-results/bulk", json={"items": items}, headers=headers)).json()
    assert [item["status"] for item in report["items"]] == [201, 404, 422, 201, 201]
    assert [item["replayed"] for item in report["items"]] == [False, False, False, False, True]
    assert report["items"][4]["credential_id"] == report["items"][0]["credential_id"]
    assert await _count(issuer_app, Credential, org) == 2
    assert await _count(issuer_app, AssessmentResult, org) == 3
    # Every answer given is the stored one: replaying the batch changes nothing.
    replay = (await client.post("/v1/assessment-results/bulk", json={"items": items}, headers=headers)).json()
    assert [item["credential_id"] for item in replay["items"]] == [item["credential_id"] for item in report["items"]]
    assert await _count(issuer_app, Credential, org) == 2


async def test_a_key_committed_meanwhile_by_another_request_settles_the_group_item_by_item(
    client, issuer_app, headers, assessment, org, monkeypatch
):
    """Another request commits one of the group's keys after the group read the stored keys: the group's
    records then meet the unique constraint, nothing of it is kept, and each item is settled alone."""
    single = await client.post(
        "/v1/assessment-results", json=assessment(), headers={**headers, "Idempotency-Key": "w-0"}
    )
    assert single.status_code == 201
    real_stored_many = bulk_issuance._stored_many

    async def stored_before_the_other_commit(session, org_id, items):
        seen = await real_stored_many(session, org_id, items)
        seen.pop("w-1", None)  # as read just before another request committed w-1 (below, for real)
        return seen

    items = [_item(assessment, "w-a"), _item(assessment, "w-1"), _item(assessment, "w-b")]
    first_time = (await client.post("/v1/assessment-results/bulk", json={"items": [items[1]]}, headers=headers)).json()
    monkeypatch.setattr(bulk_issuance, "_stored_many", stored_before_the_other_commit)
    report = (await client.post("/v1/assessment-results/bulk", json={"items": items}, headers=headers)).json()
    assert [item["status"] for item in report["items"]] == [201, 201, 201]
    assert [item["replayed"] for item in report["items"]] == [False, True, False]
    assert report["items"][1]["credential_id"] == first_time["items"][0]["credential_id"]
    # w-0, w-1, and w-a and w-b once each: the group's first attempt left nothing behind.
    assert await _count(issuer_app, Credential, org) == 4
    assert await _count(issuer_app, IdempotencyRecord, org) == 4


async def test_a_group_writes_its_issuances_in_one_statement_without_a_savepoint_per_item(
    client, issuer_app, headers, assessment, org
):
    """On PostgreSQL a group's credentials (with their results, audit entries, events and deliveries)
    go to the database in one pipelined statement at the group's end, not an INSERT and two savepoint
    round trips per item; SQLite keeps one transaction per item (one writer: no commit to share)."""
    warm = await client.post("/v1/assessment-results/bulk", json={"items": [_item(assessment, "s-0")]}, headers=headers)
    assert warm.status_code == 200 and warm.json()["issued"] == 1
    seen: list[str] = []
    engine = issuer_app.state.database.engine.sync_engine

    def remember(_connection, _cursor, statement, *_):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", remember)
    try:
        items = [_item(assessment, f"s-{number}") for number in range(1, 11)]
        report = (await client.post("/v1/assessment-results/bulk", json={"items": items}, headers=headers)).json()
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    assert report["issued"] == 10, report
    assert await _count(issuer_app, Credential, org) == 11
    inserts = [statement for statement in seen if "INSERT INTO" in statement]
    savepoints = [statement for statement in seen if statement.lstrip().upper().startswith("SAVEPOINT")]
    if issuer_app.state.database.engine.dialect.name == "postgresql":
        assert len(inserts) == 2, inserts  # the issuances, then the idempotency records
        assert savepoints == []
    else:
        assert len(inserts) >= 10


async def test_an_item_failing_after_its_rows_were_kept_leaves_none_of_them(
    client, issuer_app, headers, assessment, org, monkeypatch
):
    """The item fails once its credential is signed and its rows kept (here: its pathway check fails):
    what it kept is forgotten, and the items beside it in the group are kept."""
    real_award = capstones.award_completed_pathways

    async def fails_for_one_learner(session, org_id, profile, issued, subject, context):
        if subject.hris_id == "E-FAIL":
            raise ServiceUnavailable("The taxonomy did not answer the pathway check.")
        return await real_award(session, org_id, profile, issued, subject, context)

    monkeypatch.setattr(capstones, "award_completed_pathways", fails_for_one_learner)
    items = [
        _item(assessment, "f-1"),
        _item(assessment, "f-2", learner={"hris_id": "E-FAIL", "email": "fail@example.com"}),
        _item(assessment, "f-3", learner={"hris_id": "E-1002", "email": "bo@example.com"}),
    ]
    report = (await client.post("/v1/assessment-results/bulk", json={"items": items}, headers=headers)).json()
    assert [item["status"] for item in report["items"]] == [201, 503, 201]
    assert await _count(issuer_app, Credential, org) == 2
    assert await _count(issuer_app, AssessmentResult, org) == 2
    assert await _count(issuer_app, IdempotencyRecord, org) == 2


async def test_an_item_failing_after_the_group_wrote_its_rows_early_settles_the_group_item_by_item(
    client, issuer_app, headers, assessment, demo, org, monkeypatch
):
    """The second step completes a pathway, so the group's rows are written before its capstone's steps
    are read; the capstone then fails. Only a rollback can undo the step's written rows: the group is
    rolled back and each item settled alone, so the failing item leaves nothing and the others stand."""
    real_sign = credentials.sign_and_store

    async def capstones_fail(*args, **kwargs):
        if kwargs.get("capstone_pathway_id") is not None:
            raise ServiceUnavailable("The capstone could not be signed.")
        return await real_sign(*args, **kwargs)

    monkeypatch.setattr(credentials, "sign_and_store", capstones_fail)
    items = [
        _item(assessment, "e-1"),
        _item(assessment, "e-2", achievement_id=str(demo["badge:Conflict navigation"])),
        _item(assessment, "e-3", learner={"hris_id": "E-1002", "email": "bo@example.com"}),
    ]
    report = (await client.post("/v1/assessment-results/bulk", json={"items": items}, headers=headers)).json()
    assert [item["status"] for item in report["items"]] == [201, 503, 201]
    assert await _count(issuer_app, Credential, org) == 2
    assert await _count(issuer_app, AssessmentResult, org) == 2
    monkeypatch.setattr(credentials, "sign_and_store", real_sign)
    again = (await client.post("/v1/assessment-results/bulk", json={"items": items}, headers=headers)).json()
    assert [item["replayed"] for item in again["items"]] == [True, False, True]
    assert again["items"][1]["status"] == 201 and len(again["items"][1]["capstone_ids"]) == 1


async def test_a_group_reads_a_learner_again_once_it_takes_their_lock(
    client, issuer_app, headers, assessment, demo, org
):
    """A group answers a learner's held achievements from its first read, but the read after it takes
    the learner's capstone lock is fresh: a step another transaction committed before the lock counts."""
    first = await client.post("/v1/assessment-results", json=assessment(), headers=idempotent(headers, "h-1"))
    assert first.status_code == 201
    listening, conflict = demo["badge:Active listening"], demo["badge:Conflict navigation"]
    among = {listening, conflict}
    async with issuer_app.state.database.sessions() as session:
        issuance_rows.DeferredIssuances().start(session)
        assert await capstones.held_achievements(session, org, "hris:E-1001", among=among) == {listening}
        body = assessment(achievement_id=str(conflict))
        other = await client.post("/v1/assessment-results", json=body, headers=idempotent(headers, "h-2"))
        assert other.status_code == 201  # committed by another transaction
        assert await capstones.held_achievements(session, org, "hris:E-1001", among=among) == {listening}
        await capstones._one_transaction_per_learner(session, org, "hris:E-1001")
        assert await capstones.held_achievements(session, org, "hris:E-1001", among=among) == among
        await session.rollback()


def _pathway_statement(statement: str) -> bool:
    """A read of what a learner holds for their pathways, or a learner's pathway lock."""
    return "pg_advisory_xact_lock" in statement or ("credentials.learner_key" in statement and "DISTINCT" in statement)


async def test_a_group_checks_its_learners_pathways_in_three_statements_not_three_an_item(
    client, issuer_app, headers, assessment, org
):
    """Ten learners each earn a step of a pathway: on PostgreSQL their held achievements are read once
    before the group's lock, once after it, and the ten locks taken in one statement; SQLite has no
    groups (one transaction an item) and reads per item."""
    seen: list[str] = []
    engine = issuer_app.state.database.engine.sync_engine

    def remember(_connection, _cursor, statement, *_):
        seen.append(statement)

    items = [
        _item(assessment, f"p-{n}", learner={"hris_id": f"E-20{n:02d}", "email": f"p{n}@example.com"})
        for n in range(10)
    ]
    event.listen(engine, "before_cursor_execute", remember)
    try:
        report = (await client.post("/v1/assessment-results/bulk", json={"items": items}, headers=headers)).json()
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    assert report["issued"] == 10, report
    checks = [statement for statement in seen if _pathway_statement(statement)]
    if issuer_app.state.database.engine.dialect.name == "postgresql":
        assert len(checks) == 3, checks
    else:
        assert len(checks) >= 10


async def test_a_group_holds_every_new_steps_learner_lock_before_its_first_item(
    client, issuer_app, headers, assessment, demo, org, monkeypatch
):
    """The locks the items would take one by one are taken together, before the first item: while the
    first is issued, another transaction can take none of the group's learners' locks; a learner whose
    item is no new step (the achievement is held already) is not locked."""
    held_first = await client.post("/v1/assessment-results", json=assessment(), headers=idempotent(headers, "k-0"))
    assert held_first.status_code == 201  # E-1001 holds Active listening: issuing it again is no new step
    postgres = issuer_app.state.database.engine.dialect.name == "postgresql"
    learners = ["hris:E-3001", "hris:E-3002", "hris:E-1001"]
    lockable: list[dict[str, bool]] = []
    real_issue = issuance.issue_from_assessment

    async def first_checks_the_locks(session, org_id, data, context, **kwargs):
        if not lockable and postgres:
            async with issuer_app.state.database.engine.connect() as other:
                free = {}
                for learner in learners:
                    name = f"capstones:{org}:{learner}"
                    statement = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:name, 0))")
                    free[learner] = (await other.execute(statement, {"name": name})).scalar_one()
                await other.rollback()
            lockable.append(free)
        return await real_issue(session, org_id, data, context, **kwargs)

    monkeypatch.setattr(issuance, "issue_from_assessment", first_checks_the_locks)
    items = [
        _item(assessment, "k-1", learner={"hris_id": "E-3001", "email": "k1@example.com"}),
        _item(assessment, "k-2", learner={"hris_id": "E-3002", "email": "k2@example.com"}),
        _item(assessment, "k-3"),
    ]
    report = (await client.post("/v1/assessment-results/bulk", json={"items": items}, headers=headers)).json()
    assert report["issued"] == 3, report
    if postgres:
        assert lockable == [{"hris:E-3001": False, "hris:E-3002": False, "hris:E-1001": True}]
    else:
        assert lockable == []  # one writer: no locks to take
