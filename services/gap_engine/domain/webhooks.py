"""Credential events from the issuer, received as Standard Webhooks deliveries.

An admin registers the secret of the issuer's subscription as a webhook source; each delivery to
that source is checked against its secret, taken once per webhook-id (the issuer delivers at least
once), and then goes through the same received-credential flow as an HRIS post: fetched from the
issuer's public URL, verified by the issuer's verifier, trust-tiered and mapped to skills.

The deliveries come from the organisation's own badge issuer (the subscription's secret proves it),
so the issuer a credential.issued event names (its UUID there and its DID) is one of the
organisation's own: it is trusted automatically (trusted_issuers.ensure_own_issuer).
"""

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.gap_engine.db.tables import Employee, ReceivedCredential, ReceivedWebhook, WebhookSource
from services.gap_engine.domain import received_credentials, trusted_issuers
from services.gap_engine.domain.employees import get_employee
from services.gap_engine.domain.issuer_client import IssuerVerifier
from services.gap_engine.domain.received_credentials import REJECTED, sync_facts
from services.gap_engine.domain.service_tokens import ServiceTokens
from services.gap_engine.domain.taxonomy_client import TaxonomyClient
from shared.db import utcnow
from shared.errors import Conflict, NotFound, Unauthorized
from shared.schemas.gaps import ReceivedCredentialOut, WebhookReceiptOut, WebhookSourceIn, WebhookSourceOut
from shared.secret_box import SecretBox
from shared.webhooks import generate_webhook_secret, verified_payload

_SECRET_NOBODY_HOLDS = generate_webhook_secret()


def webhook_path(source_id: uuid.UUID) -> str:
    return f"/v1/webhooks/issuer/{source_id}"


async def create_source(
    session: AsyncSession, org_id: uuid.UUID, body: WebhookSourceIn, secret_box: SecretBox
) -> WebhookSourceOut:
    """Keeps the subscription secret, sealed and bound to the new row, for checking deliveries."""
    source_id = body.id or uuid.uuid4()
    if await session.get(WebhookSource, source_id) is not None:
        raise Conflict("A webhook source with this id exists; choose another id.")
    sealed = secret_box.seal_bytes(body.secret.encode(), bound_to=f"webhook_source:{source_id}")
    row = WebhookSource(id=source_id, org_id=org_id, name=body.name, sealed_secret=sealed, created_at=utcnow())
    if body.client_id and body.client_secret:
        row.client_id = body.client_id
        row.sealed_client_secret = secret_box.seal_bytes(
            body.client_secret.encode(), bound_to=f"webhook_source_client:{source_id}"
        )
    session.add(row)
    await session.flush()
    return WebhookSourceOut(
        id=row.id, name=row.name, created_at=row.created_at, webhook_path=webhook_path(row.id), client_id=row.client_id
    )


async def source_authorization(
    source: WebhookSource, secret_box: SecretBox, tokens: ServiceTokens | None
) -> str | None:
    """The token the gap engine calls the issuer with for this source's organisation, if it has a client."""
    if tokens is None or not source.client_id or source.sealed_client_secret is None:
        return None
    secret = secret_box.open_bytes(source.sealed_client_secret, bound_to=f"webhook_source_client:{source.id}")
    return await tokens.authorization(source.client_id, secret.decode())


async def receive_delivery(
    session: AsyncSession,
    source_id: uuid.UUID,
    body: bytes,
    headers: dict[str, str],
    *,
    verifier: IssuerVerifier,
    taxonomy: TaxonomyClient,
    secret_box: SecretBox,
    tokens: ServiceTokens | None = None,
) -> WebhookReceiptOut:
    """Checks the signature, records the webhook-id and acts on the event (not committed). An unknown
    source is checked against a secret nobody holds, so it fails with the very answer a bad signature
    on a known source gets: the route tells nothing about which source ids exist."""
    source = await session.get(WebhookSource, source_id)
    if source is None:
        verified_payload(_SECRET_NOBODY_HOLDS, body, headers)
        raise Unauthorized("Webhook signature check failed: No matching signature found.")  # no one can sign for it
    secret = secret_box.open_bytes(source.sealed_secret, bound_to=f"webhook_source:{source.id}").decode()
    message_id, payload = verified_payload(secret, body, headers)
    event = payload if isinstance(payload, dict) else {}
    event_type = str(event.get("type") or "unknown")[:100]
    if await _already_received(session, source.id, message_id):
        return WebhookReceiptOut(message_id=message_id, event_type=event_type, outcome="duplicate", duplicate=True)
    receipt = ReceivedWebhook(
        id=uuid.uuid4(),
        org_id=source.org_id,
        source_id=source.id,
        message_id=message_id,
        event_type=event_type,
        outcome="received",
        received_at=utcnow(),
    )
    session.add(receipt)
    try:
        await session.flush()
    except IntegrityError:  # the same delivery, racing in on another connection
        await session.rollback()
        return WebhookReceiptOut(message_id=message_id, event_type=event_type, outcome="duplicate", duplicate=True)
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    if event_type == "credential.issued":
        authorization = await source_authorization(source, secret_box, tokens)
        outcome = await _issued(session, source.org_id, data, verifier, taxonomy, authorization)
    elif event_type == "credential.revoked":
        outcome = await revoked_event(session, source.org_id, data)
    else:
        outcome = f"ignored: event type {event_type} is not handled"
    receipt.outcome = outcome[:1000]
    await session.flush()
    return WebhookReceiptOut(message_id=message_id, event_type=event_type, outcome=receipt.outcome, duplicate=False)


async def _already_received(session: AsyncSession, source_id: uuid.UUID, message_id: str) -> bool:
    found = await session.scalar(
        select(ReceivedWebhook.id).where(
            ReceivedWebhook.source_id == source_id, ReceivedWebhook.message_id == message_id
        )
    )
    return found is not None


async def _issued(
    session: AsyncSession,
    org_id: uuid.UUID,
    data: dict[str, Any],
    verifier: IssuerVerifier,
    taxonomy: TaxonomyClient,
    authorization: str | None,
) -> str:
    """The credential is fetched and verified rather than believed from the event, so a leaked
    secret alone cannot make a skill count. A learner the HRIS has not sent yet is no reason to drop
    it: it is kept as awaiting_employee and counts once they appear."""
    learner = data.get("learner") if isinstance(data.get("learner"), dict) else {}
    hris_id, url = learner.get("hris_id"), data.get("credential_url")
    learner_key = learner.get("learner_key") if isinstance(learner.get("learner_key"), str) else ""
    email = learner_key.split(":", 1)[1] if learner_key.startswith("email:") else None
    hint = received_credentials.learner_hint_of(hris_id if isinstance(hris_id, str) else None, email)
    if hint is None or len(hint) > 400:
        return "ignored: the credential names no learner (HRIS id or email)"
    if not isinstance(url, str):
        return "ignored: the event has no credential_url"
    presented = await verifier.fetch_credential(url, authorization)
    if presented is None:
        return f"ignored: the credential at {url} could not be fetched from the issuer"
    own = _own_issuer(org_id, data)
    received = await receive_from_own_issuer(
        session,
        org_id,
        hint,
        presented,
        verifier=verifier,
        taxonomy=taxonomy,
        authorization=authorization,
        issuer_ref=own[0] if own else None,
        own_did=own[1] if own else None,
    )
    if received is None:
        return "ignored: the credential is already recorded for this employee"
    return f"received: {received.status}"


async def receive_from_own_issuer(
    session: AsyncSession,
    org_id: uuid.UUID,
    hint: str,
    presented: dict[str, Any],
    *,
    verifier: IssuerVerifier,
    taxonomy: TaxonomyClient,
    authorization: str | None,
    issuer_ref: uuid.UUID | None,
    own_did: str | None = None,
    mapper: received_credentials.SkillMapper | None = None,
) -> ReceivedCredentialOut | None:
    """Intake of a credential the organisation's own issuer announced (a webhook) or listed
    (reconciliation): received for the learner `hint` names (or kept for them), and its issuer trusted
    as the organisation's own under the DID it verified under (`own_did` when the announcement names
    one: it must be that one). None when it is already recorded."""
    employee = await employee_for(session, org_id, hint)
    try:
        received = await received_credentials.receive_for_learner(
            session,
            org_id,
            employee,
            presented,
            verifier=verifier,
            taxonomy=taxonomy,
            authorization=None,
            learner_hint=hint,
            verifier_authorization=authorization,
            mapper=mapper,
        )
    except Conflict:
        return None
    did = received.issuer_id
    if issuer_ref is None or received.status == REJECTED or not did or (own_did is not None and did != own_did):
        return received
    await trusted_issuers.ensure_own_issuer(session, org_id, did, issuer_ref)
    row = await received_credentials.received_by_id(session, org_id, received.id)
    if row.status == received_credentials.NOT_TRUSTED:
        # Another replica's intake trusted the issuer after this one read the registry and before it
        # looked again: that entry's re-settling could not see this uncommitted row, so settle it here.
        await received_credentials.settle(session, row, row.skills, "")
    return received.model_copy(update={"status": row.status, "reasons": row.reasons})


async def employee_for(session: AsyncSession, org_id: uuid.UUID, hint: str) -> Employee | None:
    """The employee an event's learner is, by HRIS id or (for an email-only learner) email address."""
    kind, _, value = hint.partition(":")
    if kind == "hris":
        try:
            return await get_employee(session, org_id, value)
        except NotFound:
            return None
    return await session.scalar(
        select(Employee).where(Employee.org_id == org_id, func.lower(Employee.email) == value).limit(1)
    )


def _own_issuer(org_id: uuid.UUID, data: dict[str, Any]) -> tuple[uuid.UUID, str] | None:
    """(issuer UUID at the badge issuer, DID) the event names, when the event is this organisation's.
    It is trusted only once the credential fetched from the issuer verified under that same DID, so
    an event cannot make an arbitrary DID trusted."""
    issuer = data.get("issuer") if isinstance(data.get("issuer"), dict) else {}
    did, ref = issuer.get("did"), issuer.get("id")
    if str(data.get("org_id")) != str(org_id) or not isinstance(did, str) or not 0 < len(did) <= 500:
        return None
    try:
        return uuid.UUID(str(ref)), did
    except ValueError:
        return None


def _credential_ids(data: dict[str, Any]) -> set[str]:
    """The ids a received credential may be stored under: the document's own id is a URN or the URL."""
    ids = {str(data[key]) for key in ("credential_id", "credential_url") if data.get(key)}
    if data.get("credential_id"):
        ids.add(f"urn:uuid:{data['credential_id']}")
    return ids


async def revoked_event(session: AsyncSession, org_id: uuid.UUID, data: dict[str, Any]) -> str:
    """Every copy received for this organisation stops counting and is kept as rejected ("revoked")."""
    ids = _credential_ids(data)
    rows = list(
        await session.scalars(
            select(ReceivedCredential).where(
                ReceivedCredential.org_id == org_id,
                ReceivedCredential.credential_id.in_(ids),
                ReceivedCredential.status != REJECTED,
            )
        )
    )
    reason = data.get("revocation_reason")
    for row in rows:
        row.status = REJECTED
        row.reasons = [f"revoked: {reason}" if reason else "revoked"]
        await sync_facts(session, row, None)
    return f"revoked: {len(rows)} received credential(s) stopped counting"
