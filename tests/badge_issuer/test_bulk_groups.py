"""Bulk items committed in groups keep the single POST's promises: each item alone is all-or-nothing,
a key used twice in one batch issues once, and groups after the first see what the first committed."""

import uuid

from sqlalchemy import func, select

from services.badge_issuer.db.tables import AssessmentResult, Credential, IdempotencyRecord
from services.badge_issuer.domain import bulk_issuance


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
