"""Bulk issuance: every item issued or refused on its own, reported per item, replayable by its key."""

import uuid

from sqlalchemy import func, select

from services.badge_issuer.db.tables import Credential
from tests.badge_issuer.conftest import idempotent


def _item(assessment, key: str, **overrides) -> dict:
    return {**assessment(**overrides), "idempotency_key": key}


async def _credential_count(issuer_app, org) -> int:
    async with issuer_app.state.database.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Credential).where(Credential.org_id == org))


async def test_a_mixed_batch_is_reported_per_item(client, issuer_app, headers, assessment, demo, org):
    items = [
        _item(assessment, "r-1"),
        _item(assessment, "r-2", score=12),  # under the pass mark: refused, with the reason
        _item(assessment, "r-3", issuer_id=str(uuid.uuid4())),  # no such issuer: fails alone
        {"idempotency_key": "r-4", "learner": {}},  # invalid: fails alone
        _item(assessment, "r-5", achievement_id=str(demo["badge:Conflict navigation"]), proof_format="vc-jwt"),
        {"score": 80},  # no key at all
    ]
    response = await client.post("/v1/assessment-results/bulk", json={"items": items}, headers=headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["issued"], report["refused"], report["failed"]) == (2, 1, 3)
    by_index = report["items"]
    assert [item["index"] for item in by_index] == list(range(6))
    assert [item["status"] for item in by_index] == [201, 422, 404, 422, 201, 422]
    assert [item["outcome"] for item in by_index] == ["issued", "refused", "failed", "failed", "issued", "failed"]
    assert by_index[0]["credential_id"] and by_index[0]["problem"] is None
    assert by_index[1]["problem"]["type"].endswith("criteria-not-met") and by_index[1]["assessment_result_id"]
    assert by_index[2]["problem"]["detail"].startswith("No issuer")
    assert by_index[3]["problem"]["type"].endswith("validation")
    assert by_index[5]["idempotency_key"] is None
    # The second step completes the pathway: its capstone is issued with it.
    assert len(by_index[4]["capstone_ids"]) == 1
    assert await _credential_count(issuer_app, org) == 3

    credential = await client.get(f"/v1/credentials/{by_index[4]['credential_id']}", headers=headers)
    assert credential.status_code == 200 and credential.json()["proof_format"] == "vc-jwt"

    # Replaying the batch replays each stored answer; the failed items are tried again (and fail again).
    replay = (await client.post("/v1/assessment-results/bulk", json={"items": items}, headers=headers)).json()
    assert [item["replayed"] for item in replay["items"]] == [True, True, False, False, True, False]
    assert [item["credential_id"] for item in replay["items"]] == [item["credential_id"] for item in by_index]
    assert await _credential_count(issuer_app, org) == 3


async def test_an_item_shares_the_key_space_of_the_single_post(client, issuer_app, headers, assessment, org):
    single = await client.post("/v1/assessment-results", json=assessment(), headers=idempotent(headers, "lms-77"))
    assert single.status_code == 201
    batch = {"items": [_item(assessment, "lms-77"), _item(assessment, "lms-77", score=99)]}
    report = (await client.post("/v1/assessment-results/bulk", json=batch, headers=headers)).json()
    first, reused = report["items"]
    assert first["replayed"] is True and first["credential_id"] == single.json()["credential"]["id"]
    assert reused["status"] == 422 and "different result" in reused["problem"]["detail"]
    assert await _credential_count(issuer_app, org) == 1


async def test_the_batch_is_bounded_and_needs_the_scope(client, bearer, headers, org, assessment):
    too_many = {"items": [_item(assessment, f"k-{n}") for n in range(501)]}
    assert (await client.post("/v1/assessment-results/bulk", json=too_many, headers=headers)).status_code == 422
    assert (await client.post("/v1/assessment-results/bulk", json={"items": []}, headers=headers)).status_code == 422
    reader = bearer(org, "credentials:read")
    one = {"items": [_item(assessment, "k-1")]}
    assert (await client.post("/v1/assessment-results/bulk", json=one, headers=reader)).status_code == 403


async def test_an_intruders_batch_cannot_use_another_organisations_issuer(client, bearer, assessment, new_org):
    intruder_org, intruder_demo = await new_org("intruder")
    item = _item(assessment, "x-1", achievement_id=str(intruder_demo["badge:Active listening"]))
    report = (
        await client.post("/v1/assessment-results/bulk", json={"items": [item]}, headers=bearer(intruder_org))
    ).json()
    [outcome] = report["items"]
    assert outcome["status"] == 404 and outcome["problem"]["detail"].startswith("No issuer")
    assert report["issued"] == 0


async def test_an_invalid_item_reports_its_errors_as_a_single_post_would(client, headers, assessment):
    """Issue 15: bulk item errors were {loc, msg} where every other problem says {field, message}."""
    bad = {**assessment(score=-1), "idempotency_key": "bad-score"}
    batch = await client.post("/v1/assessment-results/bulk", json={"items": [bad]}, headers=headers)
    assert batch.status_code == 200, batch.text
    [item] = batch.json()["items"]
    single = await client.post("/v1/assessment-results", json=assessment(score=-1), headers=idempotent(headers))
    assert single.status_code == item["status"] == 422
    assert item["problem"]["errors"] == single.json()["errors"]
    assert [error["field"] for error in item["problem"]["errors"]] == ["body.score"]
    assert item["problem"]["detail"] == single.json()["detail"]
