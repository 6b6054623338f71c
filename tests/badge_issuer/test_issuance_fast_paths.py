"""The issuance fast paths keep their guarantees: the outbox written in one statement still fans out only
to the subscriptions that want the event, an opened key is reused but never picked in place of the
active one, and an Idempotency-Key is settled at commit rather than read first."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import func, select

from services.badge_issuer.db.tables import Credential, IssuerKey, OutboxEvent, WebhookDelivery, WebhookSubscription
from services.badge_issuer.domain import outbox
from services.badge_issuer.domain.key_vault import KeyVault, MasterKeyError
from services.badge_issuer.proofs import keys
from shared.db import utcnow
from tests.badge_issuer.conftest import idempotent


async def _subscription(session, org_id: uuid.UUID, event_types: list[str], *, active: bool = True) -> uuid.UUID:
    row = WebhookSubscription(
        id=uuid.uuid4(),
        org_id=org_id,
        url="http://receiver.test/hooks/x",
        event_types=event_types,
        encrypted_secret=b"sealed",
        active=active,
    )
    session.add(row)
    await session.flush()
    return row.id


async def test_emit_owes_the_event_only_to_active_subscriptions_of_its_org_that_want_it(issuer_app):
    org_id, other_org = uuid.uuid4(), uuid.uuid4()
    async with issuer_app.state.database.sessions() as session:
        wants = await _subscription(session, org_id, ["credential.revoked", "credential.issued"])
        await _subscription(session, org_id, ["credential.revoked"])
        await _subscription(session, org_id, ["credential.issued"], active=False)
        await _subscription(session, other_org, ["credential.issued"])
        await session.commit()
        event_id = await outbox.emit(session, org_id, "credential.issued", {"credential_id": "c-1"})
        await session.commit()
    async with issuer_app.state.database.sessions() as session:
        event = await session.get(OutboxEvent, event_id)
        owed = list(await session.scalars(select(WebhookDelivery).where(WebhookDelivery.event_id == event_id)))
    assert event is not None and event.org_id == org_id and event.type == "credential.issued"
    assert event.payload["data"] == {"credential_id": "c-1"} and event.payload["type"] == "credential.issued"
    assert [(d.subscription_id, d.org_id, d.status, d.attempts) for d in owed] == [(wants, org_id, "pending", 0)]
    assert owed[0].next_attempt_at == event.created_at


async def test_an_emitted_event_rolls_back_with_its_transaction(issuer_app):
    org_id = uuid.uuid4()
    async with issuer_app.state.database.sessions() as session:
        await _subscription(session, org_id, ["credential.issued"])
        await session.commit()
        event_id = await outbox.emit(session, org_id, "credential.issued", {})
        await session.rollback()
    async with issuer_app.state.database.sessions() as session:
        assert await session.get(OutboxEvent, event_id) is None
        count = select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.event_id == event_id)
        assert await session.scalar(count) == 0


def test_an_opened_key_is_reused_only_for_the_same_ciphertext_binding_and_master_key():
    master = os.urandom(32)
    vault = KeyVault(master)
    private_key = keys.generate_private_key("Ed25519")
    sealed = vault.seal(private_key, "org/issuer/kid-1")
    first = vault.open(sealed, "org/issuer/kid-1")
    assert vault.open(sealed, "org/issuer/kid-1") is first
    assert keys.private_key_to_pem(first) == keys.private_key_to_pem(private_key)
    with pytest.raises(MasterKeyError):
        vault.open(sealed, "org/issuer/kid-2")
    with pytest.raises(MasterKeyError):
        KeyVault(os.urandom(32)).open(sealed, "org/issuer/kid-1")
    assert KeyVault(master).open(sealed, "org/issuer/kid-1") is not first


async def test_after_a_rotation_credentials_are_signed_with_the_new_key(client, headers, issuer, assessment):
    before = await client.post("/v1/assessment-results", json=assessment(), headers=idempotent(headers))
    assert before.status_code == 201, before.text
    rotated = await client.post(f"/v1/issuers/{issuer['id']}/keys/rotate", headers=headers)
    assert rotated.status_code == 200, rotated.text
    new_method = rotated.json()["keys"][1]["verification_method"]
    after = await client.post("/v1/assessment-results", json=assessment(), headers=idempotent(headers))
    assert after.status_code == 201, after.text
    old_method = _verification_method(before.json()["credential"]["credential"])
    assert _verification_method(after.json()["credential"]["credential"]) == new_method != old_method


def _verification_method(document: dict) -> str:
    proof = document["proof"]
    return (proof[0] if isinstance(proof, list) else proof)["verificationMethod"]


async def test_a_used_key_with_a_request_that_now_fails_still_answers_key_reused(client, headers, assessment):
    request_headers = idempotent(headers)
    first = await client.post("/v1/assessment-results", json=assessment(), headers=request_headers)
    assert first.status_code == 201, first.text
    unknown_issuer = assessment(issuer_id=str(uuid.uuid4()))
    reused = await client.post("/v1/assessment-results", json=unknown_issuer, headers=request_headers)
    assert reused.status_code == 422 and "different request" in reused.json()["detail"]
    fresh = await client.post("/v1/assessment-results", json=unknown_issuer, headers=idempotent(headers))
    assert fresh.status_code == 404


async def test_a_replay_adds_no_rows_and_answers_the_first_response(client, headers, assessment, issuer_app, org):
    request_headers = idempotent(headers)
    first = await client.post("/v1/assessment-results", json=assessment(), headers=request_headers)
    replays = [
        await client.post("/v1/assessment-results", json=assessment(), headers=request_headers) for _ in range(3)
    ]
    assert all(r.status_code == 201 and r.json() == first.json() for r in replays)
    assert all(r.headers["idempotent-replay"] == "true" for r in replays)
    async with issuer_app.state.database.sessions() as session:
        credentials = await session.scalar(select(func.count()).select_from(Credential).where(Credential.org_id == org))
        events = await session.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.org_id == org))
        key_rows = await session.scalar(select(func.count()).select_from(IssuerKey).where(IssuerKey.org_id == org))
    assert (credentials, events, key_rows) == (1, 1, 1)


async def test_json_columns_round_trip_through_orjson(issuer_app):
    """Non-ASCII text, nesting and numbers come back as written."""
    payload = {"name": "Zoë – ünïcode ✓", "nested": {"list": [1, 2.5, None, True]}, "n": 2**40}
    event_id = f"msg_{uuid.uuid4().hex}"
    database = issuer_app.state.database
    async with database.sessions() as session:
        session.add(OutboxEvent(id=event_id, org_id=uuid.uuid4(), type="t", payload=payload, created_at=utcnow()))
        await session.commit()
    async with database.sessions() as session:
        assert await session.scalar(select(OutboxEvent.payload).where(OutboxEvent.id == event_id)) == payload
