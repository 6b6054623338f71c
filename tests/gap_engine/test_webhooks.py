"""The issuer's credential events, received as signed webhooks: the issuer app issues and revokes for
real, its outbox event is delivered to the gap engine signed with the subscription's secret, and the
credential goes through the same verify → trust → map flow as an HRIS post.

Demo: Project Manager needs Active listening 2 (must); the "Active listening" badge certifies level 1 of it.
"""

import json
import uuid

import pytest
from sqlalchemy import select

from services.badge_issuer.db.tables import OutboxEvent
from services.gap_engine.db.tables import WebhookSource
from services.gap_engine.domain.taxonomy_client import certified_skills
from shared.rate_limit import SharedWindowLimiter
from shared.secret_box import MasterKeyError
from shared.webhooks import signed_headers
from tests.gap_engine.conftest import api_client_of
from tests.gap_engine.test_credentials import _listening, _trust


async def _setup(client, issuer_client, headers, roles) -> tuple[dict, str, str]:
    """An issuer, its subscription (secret registered at the gap engine) and an employee; returns
    (issuer, secret, webhook path)."""
    body = {"name": "CredStack Academy", "url": "https://academy.credstack.example", "email": "b@credstack.example"}
    issuer = (await issuer_client.post("/v1/issuers", json=body, headers=headers)).json()
    subscription = await issuer_client.post(
        "/v1/webhook-subscriptions", json={"url": "https://gap.credstack.test/hook"}, headers=headers
    )
    assert subscription.status_code == 201, subscription.text
    secret = subscription.json()["secret"]
    source = await client.post("/v1/webhook-sources", json={"name": "academy", "secret": secret}, headers=headers)
    assert source.status_code == 201, source.text
    assert "secret" not in source.json()
    role_id = str(roles["Project Manager"])
    assert (await client.post(f"/v1/roles/{role_id}/sync", headers=headers)).status_code == 200
    body = {"name": "Ada", "target_role_id": role_id}
    assert (await client.put("/v1/employees/E-1001", json=body, headers=headers)).status_code == 201
    return issuer, secret, source.json()["webhook_path"]


async def _issue(issuer_client, headers, demo, issuer, hris_id: str = "E-1001") -> dict:
    body = {
        "learner": {"hris_id": hris_id, "email": "ada@example.com"},
        "achievement_id": str(demo["badge:Active listening"]),
        "issuer_id": issuer["id"],
        "score": 86,
        "completed_at": "2026-01-15T09:30:00Z",
    }
    response = await issuer_client.post(
        "/v1/assessment-results", json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert response.status_code == 201, response.text
    return response.json()["credential"]


async def _event(issuer_app, org, event_type: str) -> OutboxEvent:
    """The issuer's own outbox event (what its worker would send), newest of that type."""
    async with issuer_app.state.database.sessions() as session:
        return await session.scalar(
            select(OutboxEvent)
            .where(OutboxEvent.org_id == org, OutboxEvent.type == event_type)
            .order_by(OutboxEvent.created_at.desc())
            .limit(1)
        )


async def _deliver(client, path: str, secret: str, event: OutboxEvent):
    body = json.dumps(event.payload, separators=(",", ":"), sort_keys=True)
    return await client.post(path, content=body, headers=signed_headers(secret, event.id, body))


async def test_a_signed_issued_event_counts_once_and_a_revoked_event_stops_it(
    client, issuer_client, issuer_app, headers, org, roles, demo
):
    issuer, secret, path = await _setup(client, issuer_client, headers, roles)
    await _trust(client, headers, issuer["did"])
    before = await _listening(client, headers, "E-1001", demo)
    issued = await _issue(issuer_client, headers, demo, issuer)

    event = await _event(issuer_app, org, "credential.issued")
    response = await _deliver(client, path, secret, event)
    assert response.status_code == 202, response.text
    assert response.json()["outcome"] == "received: verified"
    level, readiness = await _listening(client, headers, "E-1001", demo)
    assert before[0] is None and level == 1 and readiness > before[1]

    replay = await _deliver(client, path, secret, event)
    assert replay.status_code == 200 and replay.json()["duplicate"] is True
    listed = (await client.get("/v1/employees/E-1001/credentials", headers=headers)).json()["items"]
    assert [item["status"] for item in listed] == ["verified"]

    revoked = await issuer_client.post(
        f"/v1/credentials/{issued['id']}/revoke", json={"reason": "withdrawn"}, headers=headers
    )
    assert revoked.status_code == 200, revoked.text
    response = await _deliver(client, path, secret, await _event(issuer_app, org, "credential.revoked"))
    assert response.status_code == 202 and response.json()["outcome"].startswith("revoked: 1 ")
    assert await _listening(client, headers, "E-1001", demo) == before
    listed = (await client.get("/v1/employees/E-1001/credentials", headers=headers)).json()["items"]
    assert [(item["status"], item["reasons"]) for item in listed] == [("rejected", ["revoked: withdrawn"])]


async def test_a_bad_signature_is_401_and_does_nothing(client, issuer_client, issuer_app, headers, org, roles, demo):
    issuer, secret, path = await _setup(client, issuer_client, headers, roles)
    await _trust(client, headers, issuer["did"])
    before = await _listening(client, headers, "E-1001", demo)
    await _issue(issuer_client, headers, demo, issuer)
    event = await _event(issuer_app, org, "credential.issued")

    wrong = await _deliver(client, path, "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=", event)
    assert wrong.status_code == 401 and wrong.headers["content-type"].startswith("application/problem+json")
    unsigned = await client.post(path, json=event.payload)
    assert unsigned.status_code == 401
    unknown = await _deliver(client, f"/v1/webhooks/issuer/{uuid.uuid4()}", secret, event)
    assert unknown.status_code == 401
    assert await _listening(client, headers, "E-1001", demo) == before
    # The genuine delivery still goes through: the bad ones did not consume its webhook-id.
    assert (await _deliver(client, path, secret, event)).status_code == 202


async def test_an_event_for_an_unknown_employee_waits_and_counts_when_the_hris_creates_them(
    client, issuer_client, issuer_app, headers, org, roles, demo
):
    issuer, secret, path = await _setup(client, issuer_client, headers, roles)
    await _trust(client, headers, issuer["did"])
    await _issue(issuer_client, headers, demo, issuer, hris_id="E-later")
    response = await _deliver(client, path, secret, await _event(issuer_app, org, "credential.issued"))
    assert response.status_code == 202
    assert response.json()["outcome"] == "received: awaiting_employee"

    role_id = str(roles["Project Manager"])
    body = {"name": "Lin", "target_role_id": role_id}
    assert (await client.put("/v1/employees/E-later", json=body, headers=headers)).status_code == 201
    listed = (await client.get("/v1/employees/E-later/credentials", headers=headers)).json()["items"]
    assert [(item["status"], item["recipient"]) for item in listed] == [("verified", "bound")]
    level, _ = await _listening(client, headers, "E-later", demo)
    assert level == 1


def test_certified_levels_are_parsed_from_the_public_alignments():
    skill, other = uuid.uuid4(), uuid.uuid4()
    document = {
        "alignment": [
            {
                "targetFramework": "CredStack",
                "targetCode": str(skill),
                "targetDescription": "Certified at level 3 (x).",
            },
            {"targetFramework": "CredStack", "targetCode": str(skill), "targetDescription": "Certified at level 2."},
            {"targetFramework": "ESCO", "targetCode": "http://data.europa.eu/esco/skill/1", "targetDescription": "L4"},
            {"targetFramework": "CredStack", "targetCode": "not-a-uuid", "targetDescription": "Certified at level 1."},
            {"targetFramework": "CredStack", "targetCode": str(other)},
            {"targetFramework": "CredStack", "targetCode": str(other), "targetDescription": "no level here"},
            "junk",
        ]
    }
    assert certified_skills(document) == [{"skill_id": str(skill), "level": 3}]
    assert certified_skills({"alignment": "junk"}) == [] and certified_skills({}) == []


async def test_a_source_id_can_be_chosen_up_front_but_not_twice(client, headers):
    """The subscription URL needs the id before the issuer hands out the secret."""
    source = {"id": str(uuid.uuid4()), "name": "academy", "secret": "whsec_c2VjcmV0LXNlY3JldA=="}
    created = await client.post("/v1/webhook-sources", json=source, headers=headers)
    assert created.status_code == 201 and created.json()["webhook_path"] == f"/v1/webhooks/issuer/{source['id']}"
    assert (await client.post("/v1/webhook-sources", json=source, headers=headers)).status_code == 409


async def test_the_source_secret_is_stored_sealed_to_its_row(client, gap_app, headers):
    secret = "whsec_c2VjcmV0LXNlY3JldA=="
    source_id = uuid.uuid4()
    body = {"id": str(source_id), "name": "sealed", "secret": secret}
    assert (await client.post("/v1/webhook-sources", json=body, headers=headers)).status_code == 201
    async with gap_app.state.database.sessions() as session:
        row = await session.get(WebhookSource, source_id)
    assert secret.encode() not in row.sealed_secret and b"c2VjcmV0" not in row.sealed_secret
    box = gap_app.state.secret_box
    assert box.open_bytes(row.sealed_secret, bound_to=f"webhook_source:{source_id}").decode() == secret
    with pytest.raises(MasterKeyError):
        box.open_bytes(row.sealed_secret, bound_to=f"webhook_source:{uuid.uuid4()}")


async def test_intake_with_the_sources_api_client_is_not_bound_by_the_public_rate_limit(
    client, issuer_client, issuer_app, taxonomy_app, headers, org, roles, demo
):
    """The gap engine signs in with the organisation's API client registered on the source, so its
    verifier calls are authenticated: with the public budget exhausted, intake still verifies."""
    issuer, secret, _ = await _setup(client, issuer_client, headers, roles)
    api_client = await api_client_of(taxonomy_app, headers)
    subscription = await issuer_client.post(
        "/v1/webhook-subscriptions", json={"url": "https://gap.credstack.test/hook2"}, headers=headers
    )
    signed_in_secret = subscription.json()["secret"]
    source = await client.post(
        "/v1/webhook-sources",
        json={
            "name": "academy, signed in",
            "secret": signed_in_secret,
            "client_id": api_client["client_id"],
            "client_secret": api_client["client_secret"],
        },
        headers=headers,
    )
    assert source.status_code == 201, source.text
    assert source.json()["client_id"] == api_client["client_id"] and "client_secret" not in source.json()
    await _trust(client, headers, issuer["did"])
    await _issue(issuer_client, headers, demo, issuer)

    limiter = issuer_app.state.public_limiter = SharedWindowLimiter(1, budget=f"public-{uuid.uuid4().hex}")
    for address in ("testclient", "127.0.0.1"):  # the public budget of this address is spent
        await limiter.spend(issuer_app.state.database, address)
    response = await _deliver(
        client, source.json()["webhook_path"], signed_in_secret, await _event(issuer_app, org, "credential.issued")
    )
    assert response.status_code == 202, response.text
    assert response.json()["outcome"] == "received: verified"
    assert (await _listening(client, headers, "E-1001", demo))[0] == 1
