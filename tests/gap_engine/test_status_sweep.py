"""Status that stays true without webhooks: the sweep re-verifies counted credentials through the
issuer's verifier (the real issuer app, in process), and the gap and the organisation report follow.

Demo: Project Manager needs Active listening 2 (must); the "Active listening" badge certifies level 1 of it.
"""

from datetime import timedelta

import httpx
import pytest

from services.gap_engine.domain import status_sweep
from services.gap_engine.domain.issuer_client import IssuerVerifier
from shared.db import utcnow
from tests.gap_engine.test_credentials import _listening, _post, _trust

POLICY = status_sweep.SweepPolicy(
    recheck=timedelta(seconds=5), grace=timedelta(seconds=60), lease=timedelta(seconds=30)
)


@pytest.fixture
async def counted(client, issuer_client, headers, roles, issuer, demo) -> dict:
    """Ada (E-5001) holding a counted listening badge; returns the issuer's credential record."""
    role_id = str(roles["Project Manager"])
    assert (await client.post(f"/v1/roles/{role_id}/sync", headers=headers)).status_code == 200
    body = {"name": "Ada", "email": "ada@example.com", "target_role_id": role_id}
    assert (await client.put("/v1/employees/E-5001", json=body, headers=headers)).status_code == 201
    await _trust(client, headers, issuer["did"])
    response = await issuer_client.post(
        "/v1/assessment-results",
        json={
            "learner": {"hris_id": "E-5001"},
            "achievement_id": str(demo["badge:Active listening"]),
            "issuer_id": issuer["id"],
            "score": 90,
            "completed_at": "2026-05-08T09:30:00Z",
        },
        headers={**headers, "Idempotency-Key": "sweep-" + role_id},
    )
    assert response.status_code == 201, response.text
    record = response.json()["credential"]
    received = await _post(client, headers, "E-5001", record["credential"])
    assert received["status"] == "verified"
    return record


async def _sweep(gap_app, *, now, verifier=None, holder="test-sweeper", org_id=None) -> status_sweep.SweepOutcome:
    state = gap_app.state
    return await status_sweep.sweep_once(
        state.database.sessions,
        verifier or state.verifier,
        state.service_tokens,
        state.secret_box,
        POLICY,
        holder=holder,
        now=now,
        org_id=org_id,
    )


async def _statuses(client, headers) -> list[tuple[str, str | None]]:
    items = (await client.get("/v1/employees/E-5001/credentials", headers=headers)).json()["items"]
    return [(item["status"], item["check_outcome"]) for item in items]


async def _mean_readiness(client, headers) -> float | None:
    report = (await client.get("/v1/reports/organisation", params={"basis": "target"}, headers=headers)).json()
    return report["mean_readiness"]


async def test_a_revocation_without_a_webhook_stops_counting_within_one_interval(
    client, issuer_client, gap_app, headers, counted, demo, org
):
    assert (await _listening(client, headers, "E-5001", demo))[0] == 1
    counting_readiness = await _mean_readiness(client, headers)
    revoked = await issuer_client.post(
        f"/v1/credentials/{counted['id']}/revoke", json={"reason": "assessment voided"}, headers=headers
    )
    assert revoked.status_code == 200, revoked.text
    # No webhook: until the next check it still counts; one interval later it does not.
    assert (await _listening(client, headers, "E-5001", demo))[0] == 1
    outcome = await _sweep(gap_app, now=utcnow() + POLICY.recheck + timedelta(seconds=1), org_id=org)
    assert outcome.leased and outcome.rejected >= 1
    [(status, check)] = await _statuses(client, headers)
    assert status == "rejected" and "revoked" in check.lower()
    assert (await _listening(client, headers, "E-5001", demo))[0] is None
    assert (await _mean_readiness(client, headers)) < counting_readiness


async def test_an_unreachable_verifier_counts_until_the_grace_period_then_status_unknown(
    client, gap_app, headers, counted, demo, org
):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    down = IssuerVerifier(
        httpx.AsyncClient(base_url="https://issuer.credstack.test", transport=httpx.MockTransport(refuse))
    )
    start = utcnow() + POLICY.recheck + timedelta(seconds=1)
    await _sweep(gap_app, now=start, verifier=down, org_id=org)
    [(status, check)] = await _statuses(client, headers)
    assert status == "verified" and check.startswith("could not check")
    assert (await _listening(client, headers, "E-5001", demo))[0] == 1

    later = start + POLICY.grace + POLICY.recheck
    outcome = await _sweep(gap_app, now=later, verifier=down, org_id=org)
    assert outcome.status_unknown == 1
    assert [s for s, _ in await _statuses(client, headers)] == ["status_unknown"]
    assert (await _listening(client, headers, "E-5001", demo))[0] is None

    # The issuer answers again: the credential is verified and counts once more.
    await _sweep(gap_app, now=later + POLICY.recheck + timedelta(seconds=1), org_id=org)
    assert await _statuses(client, headers) == [("verified", "verified")]
    assert (await _listening(client, headers, "E-5001", demo))[0] == 1
    await down.http.aclose()


async def test_one_replica_sweeps_at_a_time(gap_app, org):
    now = utcnow() + timedelta(days=30)  # beyond any lease another test left
    first = await _sweep(gap_app, now=now, holder="replica-a", org_id=org)
    second = await _sweep(gap_app, now=now + timedelta(seconds=1), holder="replica-b", org_id=org)
    assert first.leased and not second.leased
    after_expiry = await _sweep(gap_app, now=now + POLICY.lease + timedelta(seconds=1), holder="replica-b", org_id=org)
    assert after_expiry.leased
    await status_sweep.release_lease(gap_app.state.database.sessions, "replica-b")
    assert (await _sweep(gap_app, now=now + timedelta(seconds=2), holder="replica-c", org_id=org)).leased
    await status_sweep.release_lease(gap_app.state.database.sessions, "replica-c")
