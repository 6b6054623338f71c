"""Holdings that equal the issuer's: credentials issued through bulk with no webhook delivered at all
reach the gap engine by reconciliation (the issuer's listing, read with the organisation's API client),
a learner the HRIS sends later is matched when they appear, and a revocation is picked up too."""

import time
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from services.gap_engine.db.tables import ReceivedCredential
from services.gap_engine.domain import reconciliation
from tests.gap_engine.conftest import api_client_of

# Enough for the listing to span pages (200 each) and for a tenth to wait for the HRIS; the intake of
# each is what costs (1,000 took 78-155 s of CI in two processes), not what the test proves.
LEARNERS = 500
NOT_YET_IN_HRIS = 50


async def _holdings(gap_app, org) -> dict[str, int]:
    async with gap_app.state.database.sessions() as session:
        rows = await session.execute(
            select(ReceivedCredential.status, func.count())
            .where(ReceivedCredential.org_id == org)
            .group_by(ReceivedCredential.status)
        )
        return dict(rows.all())


async def _issued_at_the_issuer(issuer_client, headers) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = (await issuer_client.get("/v1/credentials", params=params, headers=headers)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


async def _reconcile(gap_app, org):
    state = gap_app.state
    return await reconciliation.reconcile_due(
        state.database.sessions,
        state.verifier,
        state.taxonomy,
        state.service_tokens,
        state.secret_box,
        every=timedelta(0),
        org_id=org,
    )


async def test_reconciliation_makes_the_holdings_equal_the_issuers(
    client, issuer_client, gap_app, taxonomy_app, headers, org, roles, demo, issuer
):
    api_client = await api_client_of(taxonomy_app, headers)
    subscription = await issuer_client.post(
        "/v1/webhook-subscriptions", json={"url": "https://gap.credstack.test/hook"}, headers=headers
    )
    source = await client.post(
        "/v1/webhook-sources",
        json={
            "name": "academy",
            "secret": subscription.json()["secret"],
            "client_id": api_client["client_id"],
            "client_secret": api_client["client_secret"],
        },
        headers=headers,
    )
    assert source.status_code == 201, source.text
    role_id = str(roles["Project Manager"])
    hris_ids = [f"E-R{n:04d}" for n in range(LEARNERS)]
    known = [{"hris_id": h, "name": f"Learner {h}", "target_role_id": role_id} for h in hris_ids[NOT_YET_IN_HRIS:]]
    assert (await client.post("/v1/employees/bulk", json={"employees": known}, headers=headers)).status_code == 200

    started = time.perf_counter()
    for start in range(0, LEARNERS, 500):
        items = [
            {
                "learner": {"hris_id": hris_id},
                "achievement_id": str(demo["badge:Active listening"]),
                "issuer_id": issuer["id"],
                "score": 90,
                "completed_at": "2026-05-08T09:30:00Z",
                "idempotency_key": f"reconcile-{org}-{hris_id}",
            }
            for hris_id in hris_ids[start : start + 500]
        ]
        response = await issuer_client.post(
            "/v1/assessment-results/bulk",
            json={"items": items},
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 200, response.text
    issued = await _issued_at_the_issuer(issuer_client, headers)
    assert len(issued) == LEARNERS

    issuing = time.perf_counter() - started
    outcome = await _reconcile(gap_app, org)  # no webhook was delivered: reconciliation alone
    reconciling = time.perf_counter() - started - issuing
    assert outcome.received == LEARNERS, outcome
    assert await _holdings(gap_app, org) == {
        "verified": LEARNERS - NOT_YET_IN_HRIS,
        "awaiting_employee": NOT_YET_IN_HRIS,
    }
    assert (await _reconcile(gap_app, org)).received == 0  # a second round finds nothing new

    late = [{"hris_id": h, "name": f"Learner {h}", "target_role_id": role_id} for h in hris_ids[:NOT_YET_IN_HRIS]]
    assert (await client.post("/v1/employees/bulk", json={"employees": late}, headers=headers)).status_code == 200
    assert await _holdings(gap_app, org) == {"verified": LEARNERS}

    revoked = await issuer_client.post(
        f"/v1/credentials/{issued[0]['id']}/revoke", json={"reason": "assessment voided"}, headers=headers
    )
    assert revoked.status_code == 200
    assert (await _reconcile(gap_app, org)).revoked == 1
    assert await _holdings(gap_app, org) == {"verified": LEARNERS - 1, "rejected": 1}
    print(f"\n{LEARNERS} issued through bulk in {issuing:.1f} s, reconciled in {reconciling:.1f} s")


async def test_a_listing_longer_than_one_round_still_advances(
    client, issuer_client, gap_app, taxonomy_app, headers, org, roles, demo, issuer, monkeypatch
):
    """More credentials within the lookback than one round lists (found by bench/status_sweep.py at
    10,000; here at 1/100 scale): the next round goes on from the issuer's cursor instead of listing
    the same first page again for ever."""
    monkeypatch.setattr(reconciliation, "PAGE_SIZE", 40)
    monkeypatch.setattr(reconciliation, "MAX_PAGES_PER_ROUND", 1)
    api_client = await api_client_of(taxonomy_app, headers)
    source = await client.post(
        "/v1/webhook-sources",
        json={
            "name": "academy",
            "secret": "whsec_" + "c2lnbmluZy1zZWNyZXQtZm9yLXRlc3Rz",
            "client_id": api_client["client_id"],
            "client_secret": api_client["client_secret"],
        },
        headers=headers,
    )
    assert source.status_code == 201, source.text
    hris_ids = [f"E-L{n:03d}" for n in range(100)]
    people = [{"hris_id": h, "name": h, "target_role_id": str(roles["Project Manager"])} for h in hris_ids]
    assert (await client.post("/v1/employees/bulk", json={"employees": people}, headers=headers)).status_code == 200
    items = [
        {
            "learner": {"hris_id": hris_id},
            "achievement_id": str(demo["badge:Active listening"]),
            "issuer_id": issuer["id"],
            "score": 90,
            "completed_at": "2026-05-08T09:30:00Z",
            "idempotency_key": f"long-{org}-{hris_id}",
        }
        for hris_id in hris_ids
    ]
    response = await issuer_client.post(
        "/v1/assessment-results/bulk", json={"items": items}, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert response.status_code == 200, response.text
    received = [(await _reconcile(gap_app, org)).received for _ in range(4)]
    assert received == [40, 40, 20, 0]
    assert await _holdings(gap_app, org) == {"verified": 100}
