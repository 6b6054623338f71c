"""Reconciliation: the gap engine's holdings equal what the organisation's issuer issued, whether or
not every webhook arrived.

For each webhook source with an API client, the credentials the issuer issued since the last round
are listed (GET /v1/credentials?issued_since=…, an authenticated call) and every one the gap engine
does not hold yet goes through the same intake as a webhook delivery; a revoked one it holds stops
counting. The listing restarts a little before where the last round ended (LOOKBACK): a credential
whose transaction committed after a later one was listed is not skipped.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gap_engine.db.tables import ReceivedCredential, WebhookSource
from services.gap_engine.domain import received_credentials, webhooks
from services.gap_engine.domain.issuer_client import IssuerVerifier
from services.gap_engine.domain.service_tokens import ServiceTokens
from services.gap_engine.domain.taxonomy_client import TaxonomyClient
from shared.db import utcnow
from shared.secret_box import SecretBox

logger = logging.getLogger(__name__)

LOOKBACK = timedelta(minutes=5)
PAGE_SIZE = 200
MAX_PAGES_PER_ROUND = 50  # 10,000 credentials a round; the next round goes on from there


@dataclass(slots=True)
class ReconcileOutcome:
    listed: int = 0
    received: int = 0
    revoked: int = 0
    latest: datetime | None = None


async def reconcile_due(
    sessions: async_sessionmaker[AsyncSession],
    verifier: IssuerVerifier,
    taxonomy: TaxonomyClient,
    tokens: ServiceTokens,
    secret_box: SecretBox,
    *,
    every: timedelta,
    now: datetime | None = None,
    org_id: uuid.UUID | None = None,
) -> ReconcileOutcome:
    """Reconciles every source with an API client whose last round is older than `every`."""
    now = now or utcnow()
    total = ReconcileOutcome()
    async with sessions() as session:
        statement = select(WebhookSource.id).where(WebhookSource.client_id.is_not(None))
        if org_id is not None:
            statement = statement.where(WebhookSource.org_id == org_id)
        source_ids = list(await session.scalars(statement))
    for source_id in source_ids:
        async with sessions() as session:
            source = await session.get(WebhookSource, source_id)
            if source is None or (source.reconciled_at is not None and source.reconciled_at > now - every):
                continue
            outcome = await reconcile_source(session, source, verifier, taxonomy, tokens, secret_box, now=now)
        total.listed += outcome.listed
        total.received += outcome.received
        total.revoked += outcome.revoked
    return total


async def reconcile_source(
    session: AsyncSession,
    source: WebhookSource,
    verifier: IssuerVerifier,
    taxonomy: TaxonomyClient,
    tokens: ServiceTokens,
    secret_box: SecretBox,
    *,
    now: datetime,
) -> ReconcileOutcome:
    """One source's round, committed page by page (a crash keeps what was received). A pass over the
    listing may take several rounds: the issuer's cursor is kept between them, and only a finished
    pass moves `reconciled_until` (the next pass starts LOOKBACK before it)."""
    outcome = ReconcileOutcome()
    authorization = await webhooks.source_authorization(source, secret_box, tokens)
    if authorization is None:
        return outcome
    since = source.reconciled_until - LOOKBACK if source.reconciled_until is not None else None
    cursor = source.reconcile_cursor
    mapper = received_credentials.SkillMapper(session, source.org_id, taxonomy, None, authorization)
    for _ in range(MAX_PAGES_PER_ROUND):
        page = await verifier.credentials_page(authorization, issued_since=since, cursor=cursor, limit=PAGE_SIZE)
        for item in page.get("items", []):
            outcome.listed += 1
            await _reconcile_item(session, source.org_id, item, verifier, mapper, authorization, outcome)
            issued_at = datetime.fromisoformat(item["issued_at"])
            if outcome.latest is None or issued_at > outcome.latest:
                outcome.latest = issued_at
        cursor = page.get("next_cursor")
        source.reconcile_cursor = cursor
        await session.commit()
        if not cursor:
            if outcome.latest is not None and (
                source.reconciled_until is None or outcome.latest > source.reconciled_until
            ):
                source.reconciled_until = outcome.latest
            source.reconciled_at = now
            await session.commit()
            break
    if outcome.received or outcome.revoked:
        logger.info(
            "reconciled source %s: %d listed, %d received, %d revoked",
            source.id,
            outcome.listed,
            outcome.received,
            outcome.revoked,
        )
    return outcome


def _stored_ids(item: dict[str, Any]) -> set[str]:
    return {f"urn:uuid:{item['id']}", str(item["id"]), str(item.get("public_url") or "")} - {""}


async def _reconcile_item(
    session: AsyncSession,
    org_id: uuid.UUID,
    item: dict[str, Any],
    verifier: IssuerVerifier,
    mapper: received_credentials.SkillMapper,
    authorization: str,
    outcome: ReconcileOutcome,
) -> None:
    held = list(
        await session.scalars(
            select(ReceivedCredential).where(
                ReceivedCredential.org_id == org_id, ReceivedCredential.credential_id.in_(_stored_ids(item))
            )
        )
    )
    status = item.get("status") or {}
    if status.get("revoked"):
        if any(row.status != received_credentials.REJECTED for row in held):
            reason = status.get("reason")
            await webhooks.revoked_event(
                session, org_id, {"credential_id": str(item["id"]), "revocation_reason": reason}
            )
            outcome.revoked += 1
        return
    if held:
        return
    hint = received_credentials.learner_hint_of(item.get("learner_hris_id"), item.get("learner_email"))
    if hint is None:
        return
    presented = {"jwt": item["jwt"]} if item.get("jwt") else item["credential"]
    # Listed by the organisation's own issuer with the organisation's own client: its issuer is theirs.
    received = await webhooks.receive_from_own_issuer(
        session,
        org_id,
        hint,
        presented,
        verifier=verifier,
        taxonomy=mapper.taxonomy,
        authorization=authorization,
        issuer_ref=uuid.UUID(item["issuer_id"]),
        mapper=mapper,
    )
    if received is not None:
        outcome.received += 1
