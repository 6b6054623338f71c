"""Status that stays true: every credential that counts (or waits to) is checked again on a schedule.

A webhook can be missed, a third-party issuer sends none, and a validity window ends by itself, so
standing is re-read every `status_recheck_seconds`. The sweep goes by status list, not by credential:
each list the swept credentials point at (Bitstring Status List, or 1EdTech's revocation list) is
fetched once a round with If-None-Match, kept in `status_list_copies` (domain/status_list_copies.py),
and every credential on it is decided from the copy: a revoked or suspended one is rejected and its
facts go. A list is due one interval after it was last asked, so a revocation stops counting within
one interval. A credential with no status list the sweep can read (none at all, another status
type, an OB 2.0 hosted assertion) is re-asked of the issuer's verifier one by one, as before.

Whatever could not be asked (a list or the verifier unreachable, a list not believed) keeps counting
for `status_grace_seconds`, then shows status_unknown and stops counting until a check succeeds. A
credential whose validity window ended is rejected at its next check (its facts already stopped
counting at `expires_at`). No database transaction is open while anything is fetched.

One replica sweeps at a time: the sweep holds a lease row (`worker_leases`) that it renews each
round, so replicas never check the same credentials twice and a dead replica's lease lapses.
"""

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gap_engine.db.tables import (
    ReceivedCredential,
    ReceivedStatusEntry,
    StatusListCopy,
    WebhookSource,
    WorkerLease,
)
from services.gap_engine.domain import received_credentials, reconciliation, status_list_copies
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
from shared.safe_fetch import SafeFetcher
from shared.secret_box import MasterKeyError, SecretBox

logger = logging.getLogger(__name__)

LEASE_NAME = "status_sweep"
BATCH_SIZE = 200  # credentials re-asked of the verifier one by one, per round
LIST_BATCH = 1_000  # status lists asked per round
LISTS_IN_FLIGHT = 8
READ_BATCH = 2_000  # credentials whose credentialStatus is read (or decided) per transaction
# What is swept: everything valid at intake that could count, or counted and lost its verifier.
SWEPT = tuple(status for status in (*ACCEPTED, STATUS_UNKNOWN) if status != AWAITING_EMPLOYEE)
LISTS, VERIFIER = "lists", "verifier"


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
    lists_asked: int = 0
    lists_unchanged: int = 0
    lists_changed: int = 0
    lists_unreachable: int = 0
    verifier_calls: int = 0  # POST /v1/verify: changed Bitstring lists, and credentials on the verifier path
    verifier_checked: int = 0


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
    fetcher: SafeFetcher | None = None,
    now: datetime | None = None,
    limit: int = BATCH_SIZE,
    org_id: uuid.UUID | None = None,
    stop: asyncio.Event | None = None,
) -> SweepOutcome:
    """One round: the due status lists (at most LIST_BATCH) and the credentials on them, then up to
    `limit` credentials due on the verifier path, oldest first (of one organisation when `org_id` is
    given; then other organisations' credentials on a shared list wait for that list's next round).
    Without a `fetcher` every credential goes the verifier path. Once `stop` is set the verifier path
    ends after the credential in hand: a replica shutting down does not first ask 200 more."""
    now = now or utcnow()
    outcome = SweepOutcome()
    async with sessions() as session:
        if not await take_lease(session, holder, now, policy.lease):
            return outcome
        outcome.leased = True
    authorizations = _Authorizations(sessions, secret_box, tokens)
    if fetcher is not None:
        await _read_status_entries(sessions, org_id)
        await _sweep_lists(sessions, fetcher, verifier, authorizations, policy, now, org_id, outcome)
    await _sweep_verifier_path(
        sessions, verifier, authorizations, policy, now, org_id, outcome, limit, every=fetcher is None, stop=stop
    )
    return outcome


def _swept(org_id: uuid.UUID | None) -> list[Any]:
    return [
        ReceivedCredential.status.in_(SWEPT),
        ReceivedCredential.employee_id.is_not(None),
        *([ReceivedCredential.org_id == org_id] if org_id is not None else []),
    ]


async def _read_status_entries(sessions: async_sessionmaker[AsyncSession], org_id: uuid.UUID | None) -> None:
    """Credentials not read yet get their status entries (or the verifier path), a batch a transaction."""
    while True:
        async with sessions() as session:
            rows = (
                await session.execute(
                    select(ReceivedCredential.id, ReceivedCredential.org_id, ReceivedCredential.presented)
                    .where(ReceivedCredential.status_path.is_(None), *_swept(org_id))
                    .limit(READ_BATCH)
                )
            ).all()
            paths: dict[str, list[uuid.UUID]] = defaultdict(list)
            for received_id, row_org, presented in rows:
                entries = status_list_copies.status_entries(presented or {})
                paths[VERIFIER if entries is None else LISTS].append(received_id)
                for entry in entries or []:
                    session.add(
                        ReceivedStatusEntry(
                            id=uuid.uuid4(),
                            org_id=row_org,
                            received_credential_id=received_id,
                            list_url=entry.list_url,
                            kind=entry.kind,
                            purpose=entry.purpose,
                            list_index=entry.index,
                        )
                    )
            for path, ids in paths.items():
                await session.execute(
                    update(ReceivedCredential).where(ReceivedCredential.id.in_(ids)).values(status_path=path)
                )
            await session.commit()
        if len(rows) < READ_BATCH:
            return


async def _sweep_lists(
    sessions: async_sessionmaker[AsyncSession],
    fetcher: SafeFetcher,
    verifier: IssuerVerifier,
    authorizations: "_Authorizations",
    policy: SweepPolicy,
    now: datetime,
    org_id: uuid.UUID | None,
    outcome: SweepOutcome,
) -> None:
    """Asks each due list once (LISTS_IN_FLIGHT at a time, no transaction open), then writes each
    answer and decides the credentials on that list, each list in its own transactions."""
    async with sessions() as session:
        due = (
            await session.execute(
                select(ReceivedStatusEntry.list_url, ReceivedStatusEntry.kind, ReceivedCredential.org_id)
                .join(ReceivedCredential, ReceivedCredential.id == ReceivedStatusEntry.received_credential_id)
                .outerjoin(StatusListCopy, StatusListCopy.url == ReceivedStatusEntry.list_url)
                .where(
                    ReceivedCredential.status_path == LISTS,
                    *_swept(org_id),
                    or_(StatusListCopy.url.is_(None), StatusListCopy.checked_at <= now - policy.recheck),
                )
                .distinct()
                .limit(LIST_BATCH * 4)
            )
        ).all()
        lists: dict[str, tuple[str, uuid.UUID]] = {}
        for url, kind, row_org in due:
            lists.setdefault(url, (kind, row_org))
        lists = dict(list(lists.items())[:LIST_BATCH])
        etags = dict(
            (
                await session.execute(
                    select(StatusListCopy.url, StatusListCopy.etag).where(
                        StatusListCopy.url.in_(list(lists)), StatusListCopy.validated_at.is_not(None)
                    )
                )
            ).all()
        )
    for _, row_org in lists.values():
        await authorizations.of(row_org)
    in_flight = asyncio.Semaphore(LISTS_IN_FLIGHT)

    async def ask(url: str, kind: str, row_org: uuid.UUID) -> status_list_copies.ListAnswer:
        async with in_flight:
            return await status_list_copies.fetch_list(
                fetcher, verifier, url, kind, etags.get(url), await authorizations.of(row_org)
            )

    answers = await asyncio.gather(*(ask(url, kind, row_org) for url, (kind, row_org) in lists.items()))
    for answer in answers:
        outcome.lists_asked += 1
        outcome.lists_unchanged += answer.unchanged
        outcome.lists_changed += answer.changed is not None
        outcome.lists_unreachable += answer.unreachable
        outcome.verifier_calls += answer.changed is not None and lists[answer.url][0] == status_list_copies.BITSTRING
        async with sessions() as session:
            copy = await session.get(StatusListCopy, answer.url)
            if copy is None:
                copy = StatusListCopy(url=answer.url, kind=lists[answer.url][0], believed=False)
                session.add(copy)
            status_list_copies.keep(copy, answer, now)
            await session.commit()
        await _decide_list(sessions, answer.url, policy, now, org_id, outcome)


async def _decide_list(
    sessions: async_sessionmaker[AsyncSession],
    url: str,
    policy: SweepPolicy,
    now: datetime,
    org_id: uuid.UUID | None,
    outcome: SweepOutcome,
) -> None:
    """Every swept credential on the list, READ_BATCH a transaction: those whose standing holds are
    stamped in one UPDATE; those that change (revoked, expired, status_unknown, restored) go the
    explicit path, so their facts and the stored reports follow."""
    after: uuid.UUID | None = None
    while True:
        async with sessions() as session:
            rows = (
                await session.execute(
                    select(
                        ReceivedCredential.id,
                        ReceivedCredential.status,
                        ReceivedCredential.issuer_id,
                        ReceivedCredential.credential_id,
                        ReceivedCredential.expires_at,
                        ReceivedCredential.unreachable_since,
                    )
                    .join(ReceivedStatusEntry, ReceivedStatusEntry.received_credential_id == ReceivedCredential.id)
                    .where(
                        ReceivedStatusEntry.list_url == url,
                        ReceivedCredential.status_path == LISTS,
                        *_swept(org_id),
                        *([ReceivedCredential.id > after] if after is not None else []),
                    )
                    .distinct()
                    .order_by(ReceivedCredential.id)
                    .limit(READ_BATCH)
                )
            ).all()
            if not rows:
                return
            entries: dict[uuid.UUID, list[ReceivedStatusEntry]] = defaultdict(list)
            for entry in await session.scalars(
                select(ReceivedStatusEntry).where(ReceivedStatusEntry.received_credential_id.in_([r.id for r in rows]))
            ):
                entries[entry.received_credential_id].append(entry)
            urls = {entry.list_url for listed in entries.values() for entry in listed}
            copies = {
                copy.url: copy
                for copy in await session.scalars(select(StatusListCopy).where(StatusListCopy.url.in_(urls)))
            }
            holding: dict[str, list[uuid.UUID]] = defaultdict(list)
            waiting: dict[str, list[uuid.UUID]] = defaultdict(list)
            for row in rows:
                outcome.checked += 1
                if row.expires_at is not None and row.expires_at <= now:
                    await _reject(session, row.id, f"validity_window: expired at {row.expires_at.isoformat()}", now)
                    outcome.rejected += 1
                    continue
                found = status_list_copies.standing(row.issuer_id, row.credential_id, entries[row.id], copies)
                if found.state == "revoked":
                    await _reject(session, row.id, f"status: {found.reason}", now)
                    outcome.rejected += 1
                elif found.state == "unknown":
                    outcome.unreachable += 1
                    since = row.unreachable_since or now
                    if now - since >= policy.grace and row.status != STATUS_UNKNOWN:
                        await _status_unknown(session, row.id, found.reason, policy, now)
                        outcome.status_unknown += 1
                    else:
                        waiting[f"could not check: {found.reason}"[:500]].append(row.id)
                elif row.status == STATUS_UNKNOWN:
                    await _restore(session, row.id, found.reason, now)
                    outcome.still_valid += 1
                else:
                    holding[found.reason[:500]].append(row.id)
                    outcome.still_valid += 1
            for reason, ids in holding.items():
                await session.execute(
                    update(ReceivedCredential)
                    .where(ReceivedCredential.id.in_(ids))
                    .values(checked_at=now, check_outcome=reason, unreachable_since=None)
                )
            for reason, ids in waiting.items():
                await session.execute(
                    update(ReceivedCredential)
                    .where(ReceivedCredential.id.in_(ids))
                    .values(
                        checked_at=now,
                        check_outcome=reason,
                        unreachable_since=func.coalesce(ReceivedCredential.unreachable_since, now),
                    )
                )
            await session.commit()
        if len(rows) < READ_BATCH:
            return
        after = rows[-1].id


async def _reject(session: AsyncSession, received_id: uuid.UUID, reason: str, now: datetime) -> None:
    row = await session.get(ReceivedCredential, received_id)
    assert row is not None
    row.status, row.reasons = REJECTED, [reason]
    row.checked_at, row.unreachable_since, row.check_outcome = now, None, f"rejected: {reason}"[:500]
    await received_credentials.sync_facts(session, row, None)


async def _status_unknown(
    session: AsyncSession, received_id: uuid.UUID, reason: str, policy: SweepPolicy, now: datetime
) -> None:
    row = await session.get(ReceivedCredential, received_id)
    assert row is not None
    row.unreachable_since = row.unreachable_since or now
    row.checked_at, row.check_outcome = now, f"could not check: {reason}"[:500]
    _mark_status_unknown(row, policy)
    await received_credentials.sync_facts(session, row, None)


def _mark_status_unknown(row: ReceivedCredential, policy: SweepPolicy) -> None:
    assert row.unreachable_since is not None
    row.status = STATUS_UNKNOWN
    row.reasons = [
        f"status unknown: its status could not be checked since {row.unreachable_since.isoformat()}, "
        f"longer than the grace period of {policy.grace}"
    ]


async def _restore(session: AsyncSession, received_id: uuid.UUID, reason: str, now: datetime) -> None:
    row = await session.get(ReceivedCredential, received_id)
    assert row is not None
    row.checked_at, row.unreachable_since, row.check_outcome = now, None, reason[:500]
    await received_credentials.settle(session, row, row.skills, "mapping: none of its skills maps to ours")


async def _sweep_verifier_path(
    sessions: async_sessionmaker[AsyncSession],
    verifier: IssuerVerifier,
    authorizations: "_Authorizations",
    policy: SweepPolicy,
    now: datetime,
    org_id: uuid.UUID | None,
    outcome: SweepOutcome,
    limit: int,
    *,
    every: bool,
    stop: asyncio.Event | None = None,
) -> None:
    """Credentials due on the verifier path, one by one: read, asked (no transaction open), written;
    until `stop` is set (the rest stay due, for the next round or another replica)."""
    path = [] if every else [ReceivedCredential.status_path == VERIFIER]
    async with sessions() as session:
        due = list(
            await session.scalars(
                select(ReceivedCredential.id)
                .where(
                    *_swept(org_id),
                    *path,
                    or_(ReceivedCredential.checked_at.is_(None), ReceivedCredential.checked_at <= now - policy.recheck),
                )
                .order_by(ReceivedCredential.checked_at.is_not(None), ReceivedCredential.checked_at)
                .limit(limit)
            )
        )
    for received_id in due:
        if stop is not None and stop.is_set():
            break
        async with sessions() as session:
            row = await session.get(ReceivedCredential, received_id)
            if row is None or row.status not in SWEPT:
                continue
            presented, row_org = row.presented, row.org_id
        authorization = await authorizations.of(row_org)
        try:
            answer: dict[str, Any] | ServiceUnavailable = await verifier.verify(presented, authorization)
        except ServiceUnavailable as unavailable:
            answer = unavailable
        outcome.verifier_calls += 1
        outcome.verifier_checked += 1
        async with sessions() as session:
            row = await session.get(ReceivedCredential, received_id)
            if row is None or row.status not in SWEPT:
                continue
            await recheck(session, row, answer, policy, now, outcome)
            await session.commit()


async def recheck(
    session: AsyncSession,
    row: ReceivedCredential,
    answer: dict[str, Any] | ServiceUnavailable,
    policy: SweepPolicy,
    now: datetime,
    outcome: SweepOutcome,
) -> None:
    """One credential's verifier answer (or why it could not be asked) applied: its status, facts and
    check fields follow."""
    outcome.checked += 1
    if isinstance(answer, ServiceUnavailable):
        outcome.unreachable += 1
        row.unreachable_since = row.unreachable_since or now
        row.checked_at = now
        row.check_outcome = f"could not check: {answer.detail}"[:500]
        if now - row.unreachable_since >= policy.grace and row.status != STATUS_UNKNOWN:
            _mark_status_unknown(row, policy)
            await received_credentials.sync_facts(session, row, None)
            outcome.status_unknown += 1
        return
    result = answer
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


class _Authorizations:
    """Each organisation's API client authorization, asked once a round (outside any transaction)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], secret_box: SecretBox, tokens: ServiceTokens | None
    ) -> None:
        self.sessions, self.secret_box, self.tokens = sessions, secret_box, tokens
        self._known: dict[uuid.UUID, str | None] = {}

    async def of(self, org_id: uuid.UUID) -> str | None:
        if org_id not in self._known:
            self._known[org_id] = await _organisation_authorization(self.sessions, org_id, self.secret_box, self.tokens)
        return self._known[org_id]


async def _organisation_authorization(
    sessions: async_sessionmaker[AsyncSession], org_id: uuid.UUID, secret_box: SecretBox, tokens: ServiceTokens | None
) -> str | None:
    """The organisation's API client (from a webhook source that has one), so re-checks are
    authenticated calls; None (the public path) when it has registered none."""
    async with sessions() as session:
        sources = list(
            await session.scalars(
                select(WebhookSource)
                .where(WebhookSource.org_id == org_id, WebhookSource.client_id.is_not(None))
                .limit(1)
            )
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
    fetcher: SafeFetcher | None = None,
) -> None:
    """Sweeps (and, holding the same lease, reconciles intake with the issuer) until `stop`; a
    failing round (database or issuer away) is logged and retried, never fatal."""
    holder = f"sweeper-{uuid.uuid4().hex[:12]}"
    try:
        while not stop.is_set():
            try:
                outcome = await sweep_once(
                    sessions, verifier, tokens, secret_box, policy, holder=holder, fetcher=fetcher, stop=stop
                )
                if outcome.leased:
                    # Not begun once stopping: it is due again on the next replica's round.
                    reconciled = reconciliation.ReconcileOutcome()
                    if not stop.is_set():
                        reconciled = await reconciliation.reconcile_due(
                            sessions, verifier, taxonomy, tokens, secret_box, every=reconcile_every
                        )
                    if metrics is not None:
                        for event, amount in (
                            ("status_recheck", outcome.checked),
                            ("status_recheck_rejected", outcome.rejected),
                            ("status_recheck_unreachable", outcome.unreachable),
                            ("status_unknown", outcome.status_unknown),
                            ("status_lists_asked", outcome.lists_asked),
                            ("status_lists_unchanged", outcome.lists_unchanged),
                            ("status_lists_unreachable", outcome.lists_unreachable),
                            ("reconciled_received", reconciled.received),
                            ("reconciled_revoked", reconciled.revoked),
                        ):
                            metrics.count(event, amount)
            except Exception:  # the sweeper must outlive a database or verifier outage
                logger.exception("status sweep round failed")
                outcome = SweepOutcome()
            if outcome.verifier_checked >= BATCH_SIZE or outcome.lists_asked >= LIST_BATCH:
                continue  # more are due: go on at once
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll_seconds)
    finally:
        # Also when cancelled (the app's shutdown wait ran out): another replica need not wait for
        # the lease to lapse. Best effort: otherwise it lapses by itself.
        with contextlib.suppress(Exception):
            await release_lease(sessions, holder)
