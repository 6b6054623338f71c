"""Credential events: written to the outbox with the change, delivered signed, at least once, per organisation."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import select, update

from services.badge_issuer.db.tables import OutboxEvent, WebhookDelivery, WebhookSubscription
from services.badge_issuer.domain import outbox
from shared.db import utcnow
from shared.safe_fetch import SafeFetcher
from shared.webhooks import verified_payload
from tests.badge_issuer.conftest import ISSUER_BASE_URL, idempotent


class Receiver:
    """An in-process HRIS endpoint: checks the signature, records ids, answers with `status` (then 204)."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.received: list[tuple[str, str, Any]] = []
        self.fail_next: list[int] = []
        self.app = FastAPI()

        @self.app.post("/hooks/{name}")
        async def hook(name: str, request: Request) -> Response:
            if self.fail_next:
                return Response(status_code=self.fail_next.pop(0))
            message_id, payload = verified_payload(self.secrets[name], await request.body(), dict(request.headers))
            self.received.append((name, message_id, payload))
            return Response(status_code=204)


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def deliver(issuer_app, receiver):
    """Runs one delivery round at `now` against the receiver (no worker, no timing). The test database
    is shared by the whole run, so deliveries left pending by other tests are set aside first: the
    counts asserted here are this test's own."""
    async with issuer_app.state.database.sessions() as session:
        await session.execute(
            update(WebhookDelivery).where(WebhookDelivery.status == "pending").values(status="set-aside-by-test")
        )
        await session.commit()
    # The app's own outbound policy, in front of the in-process receiver.
    http = SafeFetcher(issuer_app.state.webhook_http.policy, transport=httpx.ASGITransport(app=receiver.app))

    async def run(now=None) -> int:  # noqa: ANN001
        state = issuer_app.state
        return await outbox.deliver_due(state.database.sessions, state.key_vault, http, now=now, metrics=state.metrics)

    yield run
    await http.aclose()


@pytest.fixture
def subscribe(client, receiver):
    async def create(headers: dict[str, str], name: str, **body: Any) -> dict[str, Any]:
        response = await client.post(
            "/v1/webhook-subscriptions",
            json={"url": f"http://receiver.test/hooks/{name}", **body},
            headers=idempotent(headers),
        )
        assert response.status_code == 201, response.text
        receiver.secrets[name] = response.json()["secret"]
        return response.json()

    return create


async def events(issuer_app, org_id: uuid.UUID) -> list[OutboxEvent]:
    async with issuer_app.state.database.sessions() as session:
        rows = await session.scalars(select(OutboxEvent).where(OutboxEvent.org_id == org_id))
        return sorted(rows, key=lambda event: event.created_at)


async def deliveries(issuer_app, org_id: uuid.UUID) -> list[WebhookDelivery]:
    async with issuer_app.state.database.sessions() as session:
        return list(await session.scalars(select(WebhookDelivery).where(WebhookDelivery.org_id == org_id)))


async def issue(client, headers, assessment) -> dict[str, Any]:
    response = await client.post("/v1/assessment-results", json=assessment(), headers=idempotent(headers))
    assert response.status_code == 201, response.text
    return response.json()["credential"]


async def test_subscriptions_show_the_secret_once_and_can_be_deleted(client, headers, bearer, org, subscribe):
    created = await subscribe(headers, "hris", event_types=["credential.revoked"])
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["credential.revoked"]
    listed = (await client.get("/v1/webhook-subscriptions", headers=headers)).json()["items"]
    assert [item["id"] for item in listed] == [created["id"]]
    assert "secret" not in listed[0]
    reader = bearer(org, "credentials:read")
    assert (await client.get("/v1/webhook-subscriptions", headers=reader)).status_code == 403
    assert (await client.delete(f"/v1/webhook-subscriptions/{created['id']}", headers=headers)).status_code == 204
    assert (await client.get("/v1/webhook-subscriptions", headers=headers)).json()["items"] == []


async def test_an_issuance_writes_one_credential_issued_event(client, issuer_app, headers, org, issuer, assessment):
    credential = await issue(client, headers, assessment)
    [event] = await events(issuer_app, org)
    assert event.type == "credential.issued"
    data = event.payload["data"]
    assert event.payload["type"] == "credential.issued"
    assert data["credential_id"] == credential["id"]
    assert data["org_id"] == str(org)
    assert data["achievement_id"] == credential["achievement_id"]
    assert data["learner"] == {"hris_id": "E-1001", "learner_key": "hris:E-1001"}
    assert data["issuer"] == {"id": issuer["id"], "did": issuer["did"]}
    assert data["credential_url"] == f"{ISSUER_BASE_URL}/v1/public/credentials/{credential['id']}"
    assert data["proof_format"] == credential["proof_format"]


async def test_a_revocation_writes_one_credential_revoked_event(client, issuer_app, headers, org, issuer, assessment):
    credential = await issue(client, headers, assessment)
    revoked = await client.post(
        f"/v1/credentials/{credential['id']}/revoke", json={"reason": "issued in error"}, headers=headers
    )
    assert revoked.status_code == 200, revoked.text
    again = await client.post(f"/v1/credentials/{credential['id']}/revoke", json={"reason": "x"}, headers=headers)
    assert again.status_code == 409
    found = [event for event in await events(issuer_app, org) if event.type == "credential.revoked"]
    assert len(found) == 1
    data = found[0].payload["data"]
    assert data["credential_id"] == credential["id"]
    assert data["revocation_reason"] == "issued in error"
    assert data["revoked_at"]
    assert data["issuer"]["did"] == issuer["did"]
    assert data["credential_url"] == f"{ISSUER_BASE_URL}/v1/public/credentials/{credential['id']}"


async def test_a_delivery_is_signed_and_not_sent_again(
    client, issuer_app, headers, org, assessment, subscribe, receiver, deliver
):
    await subscribe(headers, "hris")
    credential = await issue(client, headers, assessment)
    assert await deliver() == 1
    [(name, message_id, payload)] = receiver.received
    [event] = await events(issuer_app, org)
    assert (name, message_id) == ("hris", event.id)
    assert payload["data"]["credential_id"] == credential["id"]
    [delivery] = await deliveries(issuer_app, org)
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    assert await deliver(utcnow() + timedelta(hours=2)) == 0
    assert len(receiver.received) == 1


async def test_a_failing_receiver_is_retried_with_backoff(
    client, issuer_app, headers, org, assessment, subscribe, receiver, deliver
):
    await subscribe(headers, "hris")
    await issue(client, headers, assessment)
    receiver.fail_next = [500, 500]
    start = utcnow()
    assert await deliver(start) == 1
    [delivery] = await deliveries(issuer_app, org)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, "HTTP 500")
    assert delivery.next_attempt_at == start + timedelta(seconds=2)
    assert await deliver(start + timedelta(seconds=1)) == 0  # not yet due
    assert await deliver(start + timedelta(seconds=2)) == 1
    [delivery] = await deliveries(issuer_app, org)
    assert delivery.next_attempt_at == start + timedelta(seconds=2 + 4)
    assert await deliver(start + timedelta(seconds=6)) == 1
    [delivery] = await deliveries(issuer_app, org)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 3, None)
    assert len(receiver.received) == 1


async def test_another_organisations_subscription_never_receives_these_events(
    client, issuer_app, headers, bearer, org, assessment, subscribe, receiver, deliver, new_org
):
    other_org, _ = await new_org("other")
    await subscribe(bearer(other_org), "other")
    await subscribe(headers, "owner")
    credential = await issue(client, headers, assessment)
    await client.post(f"/v1/credentials/{credential['id']}/revoke", json={"reason": "test"}, headers=headers)
    assert await deliver() == 2
    assert {name for name, _, _ in receiver.received} == {"owner"}
    assert await deliveries(issuer_app, other_org) == []
    assert await events(issuer_app, other_org) == []


async def test_an_undecryptable_secret_fails_its_delivery_without_blocking_the_others(
    client, issuer_app, headers, org, assessment, subscribe, receiver, deliver
):
    good = await subscribe(headers, "good")
    bad = await subscribe(headers, "bad")
    async with issuer_app.state.database.sessions() as session:
        row = await session.get(WebhookSubscription, uuid.UUID(bad["id"]))
        row.encrypted_secret = b"\x00" * 60  # as if sealed under another master key
        await session.commit()
    await issue(client, headers, assessment)
    await deliver()
    assert {name for name, _, _ in receiver.received} == {"good"}
    by_subscription = {str(d.subscription_id): d for d in await deliveries(issuer_app, org)}
    assert by_subscription[good["id"]].status == "delivered"
    failed = by_subscription[bad["id"]]
    assert failed.status == "pending" and "cannot be decrypted" in failed.last_error


async def test_a_subscription_url_must_be_https_to_a_public_address(client, headers):
    """422 naming why; an unresolvable name is accepted (each delivery checks it again)."""
    refused = {
        "http://hooks.example/in": "scheme 'http' is refused",
        "https://localhost/in": "loopback",
        "https://127.0.0.1:8443/in": "loopback",
        "https://10.0.0.5/in": "private",
        "https://[::1]/in": "loopback",
        "https://169.254.169.254/latest/meta-data/": "metadata",
        "https://[::ffff:192.168.0.1]/in": "private",
    }
    for url, why in refused.items():
        response = await client.post("/v1/webhook-subscriptions", json={"url": url}, headers=idempotent(headers))
        assert response.status_code == 422, (url, response.text)
        problem = response.json()
        assert response.headers["content-type"].startswith("application/problem+json")
        assert why in problem["detail"] and problem["field"] == "url", (url, problem)
    later = await client.post(
        "/v1/webhook-subscriptions", json={"url": "https://hooks.unresolved.example/in"}, headers=idempotent(headers)
    )
    assert later.status_code == 201, later.text


async def test_a_destination_that_now_resolves_privately_fails_its_delivery(
    client, issuer_app, headers, org, assessment, deliver, receiver, remote_web
):
    """DNS changed after registration: the delivery is refused, recorded as a failed attempt, retried."""
    response = await client.post(
        "/v1/webhook-subscriptions", json={"url": "https://hooks.rebound.example/in"}, headers=idempotent(headers)
    )
    assert response.status_code == 201, response.text
    remote_web.host("hooks.rebound.example", "10.9.8.7")
    await issue(client, headers, assessment)
    # The app's policy and resolver; the transport is the in-process receiver, so nothing could leave.
    fetcher = SafeFetcher(
        issuer_app.state.webhook_http.policy,
        transport=httpx.ASGITransport(app=receiver.app),
        resolver=remote_web.resolve,
    )
    start = utcnow()
    assert await outbox.deliver_due(issuer_app.state.database.sessions, issuer_app.state.key_vault, fetcher) == 1
    await fetcher.aclose()
    [delivery] = await deliveries(issuer_app, org)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.next_attempt_at >= start + timedelta(seconds=2)
    assert "refused by the outbound policy" in delivery.last_error
    assert "10.9.8.7, a private address" in delivery.last_error
    assert receiver.received == []


async def test_a_dead_delivery_is_listed_and_replayed_until_it_is_processed(
    client, issuer_app, headers, bearer, org, assessment, subscribe, receiver, deliver
):
    subscription = await subscribe(headers, "hris")
    await issue(client, headers, assessment)
    receiver.fail_next = [503] * outbox.MAX_ATTEMPTS
    moment = utcnow()
    for _ in range(outbox.MAX_ATTEMPTS):
        assert await deliver(moment) == 1
        moment += timedelta(hours=2)
    path = f"/v1/webhook-subscriptions/{subscription['id']}/deliveries"
    dead = (await client.get(path, params={"status": "dead"}, headers=headers)).json()["items"]
    assert [(d["event_type"], d["attempts"], d["last_error"]) for d in dead] == [
        ("credential.issued", outbox.MAX_ATTEMPTS, "HTTP 503")
    ]
    assert receiver.received == [] and await deliver(moment) == 0  # dead: no longer attempted by itself
    metrics = (await client.get("/metrics")).text
    assert 'credstack_background_events_total{event="webhook_delivery_dead",service="badge_issuer"} 1.0' in metrics

    other = bearer(uuid.uuid4(), "admin")
    assert (await client.get(path, headers=other)).status_code == 404
    assert (await client.post(f"{path}/replay", headers=other)).status_code == 404

    replayed = await client.post(f"{path}/{dead[0]['id']}/replay", headers=headers)
    assert replayed.status_code == 200 and replayed.json() == {"replayed": 1}
    assert await deliver(utcnow()) == 1
    assert [payload["type"] for _, _, payload in receiver.received] == ["credential.issued"]
    listed = (await client.get(path, headers=headers)).json()["items"]
    assert [d["status"] for d in listed] == ["delivered"]
    again = await client.post(f"{path}/replay", headers=headers)
    assert again.json() == {"replayed": 0}
