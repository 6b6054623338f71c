"""Status that stays true: every credential that counts (or waits to) is verified again on a schedule.

A webhook can be missed, a third-party issuer sends none, and a validity window ends by itself, so
a credential's standing is re-asked of the issuer's verifier every `status_recheck_seconds`: its
signature, validity window and status list (revoked, suspended) all at once. A credential that no
longer verifies is rejected and its facts go; one whose verifier cannot be asked keeps counting for
`status_grace_seconds`, then shows status_unknown and stops counting until a check succeeds.

One replica sweeps at a time: the sweep holds a lease row (`worker_leases`) that it renews each
round, so replicas never check the same credentials twice and a dead replica's lease lapses.
"""

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gap_engine.db.tables import ReceivedCredential, WebhookSource, WorkerLease
from services.gap_engine.domain import received_credentials, reconciliation
from services.gap_engine.domain.issuer_client import IssuerVerifier
from services.gap_engine.domain.received_credentials import (
    ACCEPTED,
    AWAITING_EMPLOYEE,
    REJECTED,
    STATUS_UNKNOWN,
    VERIFIED,
)
from services.gap_engine.domain.service_tokens import ServiceTokens
from services.gap_engine.domain.taxonomy_client import TaxonomyClient
from services.gap_engine.domain.webhooks import source_authorization
from shared.db import utcnow
from shared.errors import ServiceUnavailable
from shared.observability import ServiceMetrics
from shared.secret_box import MasterKeyError, SecretBox

logger = logging.getLogger(__name__)

LEASE_NAME = "status_sweep"
BATCH_SIZE = 200
# What is swept: everything valid at intake that could count, or counted and lost its verifier.
SWEPT = tuple(status for status in (*ACCEPTED, STATUS_UNKNOWN) if status != AWAITING_EMPLOYEE)


@dataclass(frozen=True, slots=True)
class SweepPolicy:
    recheck: timedelta
    grace: timedelta
    lease: timedelta


@dataclass(slots=True)
class SweepOutcome:
    leased: bool = False
    checked: int = 0
    still_valid: int = 0
    rejected: int = 0
    unreachable: int = 0
    status_unknown: int = 0


async def take_lease(session: AsyncSession, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Whether `holder` may sweep now: the lease is free, lapsed, or already its own (then renewed).
    On PostgreSQL the row is locked while deciding, so two replicas cannot both take it."""
    statement = select(WorkerLease).where(WorkerLease.name == LEASE_NAME)
    if session.bind.dialect.name == "postgresql":
        statement = statement.with_for_update()
    lease = await session.scalar(statement)
    if lease is None:
        session.add(WorkerLease(name=LEASE_NAME, holder=holder, expires_at=now + ttl))
        try:
            await session.commit()
        except IntegrityError:  # another replica inserted it first
            await session.rollback()
            return False
        return True
    if lease.holder != holder and lease.expires_at > now:
        await session.rollback()
        return False
    lease.holder, lease.expires_at = holder, now + ttl
    await session.commit()
    return True


async def release_lease(sessions: async_sessionmaker[AsyncSession], holder: str) -> None:
    """On shutdown: another replica need not wait for the lease to lapse."""
    async with sessions() as session:
        await session.execute(delete(WorkerLease).where(WorkerLease.name == LEASE_NAME, WorkerLease.holder == holder))
        await session.commit()


async def sweep_once(
    sessions: async_sessionmaker[AsyncSession],
    verifier: IssuerVerifier,
    tokens: ServiceTokens | None,
    secret_box: SecretBox,
    policy: SweepPolicy,
    *,
    holder: str,
    now: datetime | None = None,
    limit: int = BATCH_SIZE,
    org_id: uuid.UUID | None = None,
) -> SweepOutcome:
    """Re-verifies up to `limit` credentials whose last check is older than the recheck interval,
    oldest first (of one organisation when `org_id` is given), each committed on its own so a failure
    midway loses no other outcome."""
    now = now or utcnow()
    outcome = SweepOutcome()
    async with sessions() as session:
        if not await take_lease(session, holder, now, policy.lease):
            return outcome
        outcome.leased = True
        due = list(
            await session.scalars(
                select(ReceivedCredential.id)
                .where(
                    ReceivedCredential.status.in_(SWEPT),
                    ReceivedCredential.employee_id.is_not(None),
                    or_(ReceivedCredential.checked_at.is_(None), ReceivedCredential.checked_at <= now - policy.recheck),
                    *([ReceivedCredential.org_id == org_id] if org_id is not None else []),
                )
                .order_by(ReceivedCredential.checked_at.is_not(None), ReceivedCredential.checked_at)
                .limit(limit)
            )
        )
    authorizations: dict[uuid.UUID, str | None] = {}
    for received_id in due:
        async with sessions() as session:
            row = await session.get(ReceivedCredential, received_id)
            if row is None or row.status not in SWEPT:
                continue
            if row.org_id not in authorizations:
                authorizations[row.org_id] = await _organisation_authorization(session, row.org_id, secret_box, tokens)
            await recheck(session, row, verifier, authorizations[row.org_id], policy, now, outcome)
            await session.commit()
    return outcome


async def recheck(
    session: AsyncSession,
    row: ReceivedCredential,
    verifier: IssuerVerifier,
    authorization: str | None,
    policy: SweepPolicy,
    now: datetime,
    outcome: SweepOutcome,
) -> None:
    """One credential asked again; its status, facts and check fields follow the answer."""
    outcome.checked += 1
    try:
        result = await verifier.verify(row.presented, authorization)
    except ServiceUnavailable as unavailable:
        outcome.unreachable += 1
        row.unreachable_since = row.unreachable_since or now
        row.checked_at = now
        row.check_outcome = f"could not check: {unavailable.detail}"[:500]
        if now - row.unreachable_since >= policy.grace and row.status != STATUS_UNKNOWN:
            row.status = STATUS_UNKNOWN
            row.reasons = [
                f"status unknown: the verifier could not be asked since {row.unreachable_since.isoformat()}, "
                f"longer than the grace period of {policy.grace}"
            ]
            await received_credentials.sync_facts(session, row, None)
            outcome.status_unknown += 1
        return
    row.checked_at, row.unreachable_since = now, None
    if not result.get("verified") or result.get("issuer_bound") is False:
        failures = list(result.get("failures") or ["issuer: the signing key is not bound to the issuer"])
        row.status, row.reasons = REJECTED, failures
        row.check_outcome = f"rejected: {failures[0]}"[:500]
        await received_credentials.sync_facts(session, row, None)
        outcome.rejected += 1
        return
    row.check_outcome = "verified"
    outcome.still_valid += 1
    # Bind again too (a credential received before binding existed, or an HRIS change) and restore
    # one that was status_unknown; settle touches facts only where they differ.
    was_counting = row.status == VERIFIED
    await received_credentials.settle(session, row, row.skills, "mapping: none of its skills maps to ours")
    if was_counting and row.status != VERIFIED:
        logger.info("received credential %s stopped counting at its re-check: %s", row.id, row.status)


async def _organisation_authorization(
    session: AsyncSession, org_id: uuid.UUID, secret_box: SecretBox, tokens: ServiceTokens | None
) -> str | None:
    """The organisation's API client (from a webhook source that has one), so re-checks are
    authenticated calls; None (the public path) when it has registered none."""
    sources = await session.scalars(
        select(WebhookSource).where(WebhookSource.org_id == org_id, WebhookSource.client_id.is_not(None)).limit(1)
    )
    for source in sources:
        try:
            return await source_authorization(source, secret_box, tokens)
        except (ServiceUnavailable, MasterKeyError) as error:
            # Re-check on the public path rather than not at all; the operator sees why.
            logger.warning("webhook source %s cannot sign the gap engine in: %s", source.id, error)
    return None


async def run_sweeper(
    sessions: async_sessionmaker[AsyncSession],
    verifier: IssuerVerifier,
    taxonomy: TaxonomyClient,
    tokens: ServiceTokens,
    secret_box: SecretBox,
    policy: SweepPolicy,
    stop: asyncio.Event,
    poll_seconds: float,
    reconcile_every: timedelta,
    metrics: ServiceMetrics | None = None,
) -> None:
    """Sweeps (and, holding the same lease, reconciles intake with the issuer) until `stop`; a
    failing round (database or issuer away) is logged and retried, never fatal."""
    holder = f"sweeper-{uuid.uuid4().hex[:12]}"
    while not stop.is_set():
        try:
            outcome = await sweep_once(sessions, verifier, tokens, secret_box, policy, holder=holder)
            if outcome.leased:
                reconciled = await reconciliation.reconcile_due(
                    sessions, verifier, taxonomy, tokens, secret_box, every=reconcile_every
                )
                if metrics is not None:
                    for event, amount in (
                        ("status_recheck", outcome.checked),
                        ("status_recheck_rejected", outcome.rejected),
                        ("status_recheck_unreachable", outcome.unreachable),
                        ("status_unknown", outcome.status_unknown),
                        ("reconciled_received", reconciled.received),
                        ("reconciled_revoked", reconciled.revoked),
                    ):
                        metrics.count(event, amount)
        except Exception:  # the sweeper must outlive a database or verifier outage
            logger.exception("status sweep round failed")
            outcome = SweepOutcome()
        if outcome.checked >= BATCH_SIZE:
            continue  # more are due: go on at once
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), poll_seconds)
    with contextlib.suppress(Exception):  # best effort: the lease lapses by itself otherwise
        await release_lease(sessions, holder)
