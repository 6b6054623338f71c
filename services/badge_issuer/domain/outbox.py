"""Transactional outbox: events written with the change they announce, delivered at least once.

`emit` runs inside the caller's transaction, so a credential and its event commit (or vanish)
together. Delivery never holds a row lock or a transaction across an HTTP call: a short transaction
claims due deliveries by a lease (owner, expiry), the POSTs go out, and each outcome is recorded in
another short transaction, only by the lease's owner. Subscriptions are sent to in parallel (a bounded
number at once), so a hanging endpoint holds one slot for at most the fetch timeout and never another
organisation's events. Within a subscription a few learners' events are in flight at once (a receiver
that verifies each credential is latency-bound, one POST at a time), each learner's events in order, so
a credential's revocation never overtakes its issuance; after a failure the whole subscription backs
off (one attempt per backoff, not one per owed event). A lease left by a crashed worker lapses; a
stopping worker clears its own. A delivery counts only after a 2xx, so a crash between the POST and
the record re-sends (receivers deduplicate on webhook-id). Every POST goes through the outbound policy
again (DNS can change after registration): a refused URL is a failed attempt.
"""

import asyncio
import collections
import contextlib
import functools
import json
import logging
import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Insert, Uuid, bindparam, cast, func, insert, literal, or_, select, true, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.badge_issuer.db.tables import OutboxEvent, WebhookDelivery, WebhookSubscription
from services.badge_issuer.domain.key_vault import KeyVault, MasterKeyError
from services.badge_issuer.domain.webhooks import secret_binding
from shared.db import UTCDateTime, utcnow
from shared.observability import ServiceMetrics
from shared.safe_fetch import FetchError, SafeFetcher, URLRefused
from shared.webhooks import signed_headers

logger = logging.getLogger(__name__)

DELIVERY_TIMEOUT_SECONDS = 5.0
MAX_ATTEMPTS = 10
MAX_BACKOFF_SECONDS = 3600
POLL_INTERVAL_SECONDS = 1.0
BATCH_SIZE = 200
# While one subscription's batch is being sent, its outcomes are written at least this often.
RECORD_EVERY_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How one worker shares its sending: at most `concurrency` subscriptions at once, at most
    `per_subscription` of one subscription's deliveries claimed at a time, `lanes` of them in flight
    at once (one learner's in one lane, in order), at most `batch` per claim, each claim a lease of
    `lease` (longer than the sends it covers: a send starts only while the lease outlasts the fetch
    timeout, so two workers never send the same delivery at once)."""

    concurrency: int = 8
    per_subscription: int = 25
    lanes: int = 4
    batch: int = BATCH_SIZE
    lease: timedelta = timedelta(seconds=60)


DEFAULT_POLICY = DeliveryPolicy()


async def emit(session: AsyncSession, org_id: uuid.UUID, event_type: str, data: dict[str, Any]) -> str:
    """Adds the event and one pending delivery per active subscription that wants it (not committed);
    returns the event's id.

    On PostgreSQL both go in one statement (the event inserted in a CTE, the deliveries selected from
    webhook_subscriptions), executed now: no subscription rows come back to Python, and a subscription
    committed before this statement runs gets the event. Loading them through the ORM on every
    issuance was about a tenth of its time."""
    values = event_parameters(org_id, event_type, data)
    event_id, now = values["id"], values["created_at"]
    if session.bind.dialect.name == "postgresql":
        await session.execute(emit_statement(), values)
        return event_id
    del values["wanted"]
    session.add(OutboxEvent(**values))
    subscriptions = await session.execute(
        select(WebhookSubscription.id, WebhookSubscription.event_types).where(
            WebhookSubscription.org_id == org_id, WebhookSubscription.active.is_(True)
        )
    )
    for subscription_id, event_types in subscriptions:
        if event_type in event_types:
            session.add(
                WebhookDelivery(
                    org_id=org_id,
                    event_id=event_id,
                    subscription_id=subscription_id,
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                )
            )
    return event_id


def event_parameters(org_id: uuid.UUID, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The bound parameters of emit_statement() for one event (its id under "id")."""
    now = utcnow()
    return {
        "id": f"msg_{uuid.uuid4().hex}",
        "org_id": org_id,
        "type": event_type,
        "payload": {"type": event_type, "timestamp": now.isoformat(), "data": data},
        "created_at": now,
        "wanted": [event_type],
    }


@functools.cache
def emit_statement() -> Insert:
    """WITH event AS (INSERT INTO outbox_events …) INSERT INTO webhook_deliveries SELECT … FROM
    webhook_subscriptions, event WHERE org, active, event_types @> [type]: the foreign key is checked
    at the end of the statement, when the event row exists. Built once (building it cost more than
    running it), on the tables (Core, not ORM bulk insert); the values are bound parameters."""
    events, deliveries, subscriptions = OutboxEvent.__table__, WebhookDelivery.__table__, WebhookSubscription.__table__
    org_id = bindparam("org_id", type_=Uuid)
    created_at = bindparam("created_at", type_=UTCDateTime)
    event = (
        insert(events)
        .values(
            id=bindparam("id"),
            org_id=org_id,
            type=bindparam("type"),
            payload=bindparam("payload", type_=events.c.payload.type),
            created_at=created_at,
        )
        .returning(events.c.id)
        .cte("event")
    )
    owed = (
        select(func.gen_random_uuid(), org_id, event.c.id, subscriptions.c.id)
        .add_columns(literal("pending"), literal(0), created_at)
        .select_from(subscriptions)
        .join(event, true())
        .where(
            subscriptions.c.org_id == org_id,
            subscriptions.c.active.is_(True),
            cast(subscriptions.c.event_types, JSONB).contains(bindparam("wanted", type_=JSONB)),
        )
    )
    columns = ["id", "org_id", "event_id", "subscription_id", "status", "attempts", "next_attempt_at"]
    return insert(deliveries).from_select(columns, owed)


def backoff(attempts: int) -> timedelta:
    """2^attempts seconds after the attempts-th failure, capped at an hour."""
    return timedelta(seconds=min(2**attempts, MAX_BACKOFF_SECONDS))


def new_worker_id() -> str:
    return f"outbox-{uuid.uuid4().hex[:16]}"


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    id: uuid.UUID
    event_id: str
    attempts: int
    next_attempt_at: datetime
    payload: dict[str, Any]
    lease_until: datetime


@dataclass(frozen=True, slots=True)
class ClaimedSubscription:
    """A subscription and the deliveries of it this worker leased, oldest first (plain values: no
    ORM object outlives the claim's transaction)."""

    id: uuid.UUID
    url: str
    encrypted_secret: bytes
    consecutive_failures: int
    deliveries: tuple[ClaimedDelivery, ...]


def _claimable(now: datetime) -> list[Any]:
    return [
        WebhookDelivery.status == "pending",
        WebhookDelivery.next_attempt_at <= now,
        or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until <= now),
    ]


async def claim_due(
    sessions: async_sessionmaker[AsyncSession],
    worker: str,
    now: datetime,
    policy: DeliveryPolicy = DEFAULT_POLICY,
    *,
    exclude: Collection[uuid.UUID] = (),
    max_subscriptions: int | None = None,
) -> list[ClaimedSubscription]:
    """Leases due deliveries of subscriptions not backed off (and not in `exclude`, the ones this
    worker is already sending to), in one short transaction: each subscription's first owed delivery
    before anyone's second, subscriptions by their oldest due delivery. On PostgreSQL the candidate
    rows are locked FOR UPDATE SKIP LOCKED for the claim's instant only; on SQLite the single UPDATE
    runs under the database's one write lock. Either way a delivery has one lease owner at a time."""
    deliveries = WebhookDelivery
    subscriptions = WebhookSubscription
    placed = (
        select(
            deliveries.id,
            deliveries.subscription_id,
            deliveries.next_attempt_at,
            func.row_number()
            .over(partition_by=deliveries.subscription_id, order_by=(deliveries.next_attempt_at, deliveries.id))
            .label("place"),
            func.min(deliveries.next_attempt_at).over(partition_by=deliveries.subscription_id).label("first_due"),
        )
        .join(subscriptions, subscriptions.id == deliveries.subscription_id)
        .where(
            *_claimable(now),
            subscriptions.active.is_(True),
            or_(subscriptions.backoff_until.is_(None), subscriptions.backoff_until <= now),
        )
    )
    if exclude:
        placed = placed.where(deliveries.subscription_id.not_in(list(exclude)))
    placed_rows = placed.subquery("placed")
    turns = select(
        placed_rows.c.id,
        placed_rows.c.place,
        placed_rows.c.next_attempt_at,
        func.dense_rank().over(order_by=(placed_rows.c.first_due, placed_rows.c.subscription_id)).label("turn"),
    ).subquery("turns")
    chosen = select(turns.c.id).where(turns.c.place <= policy.per_subscription)
    if max_subscriptions is not None:
        chosen = chosen.where(turns.c.turn <= max_subscriptions)
    chosen = chosen.order_by(turns.c.place, turns.c.next_attempt_at).limit(policy.batch)
    locked = select(deliveries.id).where(deliveries.id.in_(chosen), *_claimable(now)).with_for_update(skip_locked=True)
    lease_until = now + policy.lease
    table = WebhookDelivery.__table__
    async with sessions() as session:
        claimed_ids = list(
            await session.scalars(
                update(table)
                .where(table.c.id.in_(locked))
                .values(lease_owner=worker, lease_until=lease_until)
                .returning(table.c.id)
            )
        )
        if not claimed_ids:
            await session.commit()
            return []
        rows = (
            await session.execute(
                select(
                    deliveries.id,
                    deliveries.event_id,
                    deliveries.attempts,
                    deliveries.next_attempt_at,
                    OutboxEvent.payload,
                    subscriptions.id,
                    subscriptions.url,
                    subscriptions.encrypted_secret,
                    subscriptions.consecutive_failures,
                )
                .join(OutboxEvent, OutboxEvent.id == deliveries.event_id)
                .join(subscriptions, subscriptions.id == deliveries.subscription_id)
                .where(deliveries.id.in_(claimed_ids))
                .order_by(deliveries.next_attempt_at, deliveries.id)
            )
        ).all()
        await session.commit()
    grouped: dict[uuid.UUID, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row[5], []).append(row)
    return [
        ClaimedSubscription(
            id=subscription_id,
            url=owed[0][6],
            encrypted_secret=owed[0][7],
            consecutive_failures=owed[0][8],
            deliveries=tuple(ClaimedDelivery(*row[:5], lease_until=lease_until) for row in owed),
        )
        for subscription_id, owed in grouped.items()
    ]


async def release_leases(
    sessions: async_sessionmaker[AsyncSession], worker: str, delivery_ids: Sequence[uuid.UUID] | None = None
) -> int:
    """Gives back this worker's claims (the given ones, or all): another worker may take them at once
    instead of waiting for the lease to lapse."""
    if delivery_ids is not None and not delivery_ids:
        return 0
    async with sessions() as session:
        result = await session.execute(_release_statement(worker, delivery_ids))
        await session.commit()
    return int(result.rowcount or 0)


def _release_statement(worker: str, delivery_ids: Sequence[uuid.UUID] | None) -> Any:
    table = WebhookDelivery.__table__
    statement = update(table).where(table.c.lease_owner == worker).values(lease_owner=None, lease_until=None)
    if delivery_ids is not None:
        statement = statement.where(table.c.id.in_(list(delivery_ids)))
    return statement


@dataclass(frozen=True, slots=True)
class _Outcome:
    delivery: ClaimedDelivery
    error: str | None
    at: datetime


async def send_to_subscription(
    sessions: async_sessionmaker[AsyncSession],
    vault: KeyVault,
    http: SafeFetcher,
    worker: str,
    subscription: ClaimedSubscription,
    *,
    now: datetime | None = None,
    stop: asyncio.Event | None = None,
    metrics: ServiceMetrics | None = None,
    lanes: int = DEFAULT_POLICY.lanes,
) -> int:
    """Sends one subscription's claimed deliveries, no transaction open during a POST, in up to `lanes`
    lanes at once, one learner's deliveries in one lane in their order; returns how many were
    attempted. Outcomes are recorded together (one short transaction for the batch, sooner if sending
    runs past RECORD_EVERY_SECONDS): a crash re-sends at most what was not recorded yet, which
    receivers deduplicate. The first failure backs the whole subscription off: no lane starts another
    send, and what is unsent is given back. `now` fixes the clock (tests); `stop` set means no new
    send starts."""
    try:
        secret: str | None = vault.open_bytes(subscription.encrypted_secret, secret_binding(subscription.id)).decode()
    except MasterKeyError:
        secret = None  # one unreadable secret (a changed master key) must not stop anyone else
    waiting = collections.deque(learner_lanes(subscription.deliveries))
    unsent: list[ClaimedDelivery] = []
    outcomes: list[_Outcome] = []
    sent: list[_Outcome] = []  # every outcome of this call, for the subscription's failure count
    recording = asyncio.Lock()
    recorded_at = time.monotonic()
    failed_at: datetime | None = None

    def halted() -> bool:
        return failed_at is not None or (stop is not None and stop.is_set())

    async def send(owed: collections.deque[ClaimedDelivery]) -> bool:
        """Sends the head of one learner's deliveries; False (and `owed` given back) when none may start."""
        nonlocal recorded_at, failed_at
        moment = now or utcnow()
        if halted() or moment + timedelta(seconds=http.policy.timeout_seconds) >= owed[0].lease_until:
            unsent.extend(owed)  # stopping, failed, or the lease would lapse mid-send: give it back
            owed.clear()
            return False
        delivery = owed.popleft()
        if secret is None:
            error: str | None = "the subscription secret cannot be decrypted with this master key"
        else:
            error = await _post(http, subscription.url, secret, delivery, moment)
        outcome = _Outcome(delivery, error, moment)
        outcomes.append(outcome)
        sent.append(outcome)
        if error is not None and failed_at is None:
            failed_at = moment
        if time.monotonic() - recorded_at > RECORD_EVERY_SECONDS and not recording.locked():
            async with recording:
                batch = outcomes[:]
                del outcomes[:]
                await _record(sessions, worker, subscription, batch, None, (), metrics)
                recorded_at = time.monotonic()
        return True

    async def lane() -> None:
        while waiting:
            owed = waiting.popleft()
            while owed and await send(owed):
                pass

    if waiting:
        # The first send goes alone, so a failing or hanging endpoint costs one attempt and one socket;
        # once it has answered, the other lanes open.
        head = waiting.popleft()
        await send(head)
        if head:
            waiting.appendleft(head)
        await asyncio.gather(*(lane() for _ in range(max(1, min(lanes, len(waiting))))))
    async with recording:
        failures = _failures_after(subscription, sent)
        await _record(sessions, worker, subscription, outcomes, failures, unsent, metrics, failed_at=failed_at)
    return len(sent)


def learner_lanes(deliveries: Sequence[ClaimedDelivery]) -> list[collections.deque[ClaimedDelivery]]:
    """Deliveries grouped by the learner their event is about (else by credential, else alone), each
    group in claim order, groups by their first delivery: what may be in flight side by side."""
    groups: dict[str, collections.deque[ClaimedDelivery]] = {}
    for delivery in deliveries:
        groups.setdefault(_lane_key(delivery), collections.deque()).append(delivery)
    return list(groups.values())


def _lane_key(delivery: ClaimedDelivery) -> str:
    data = delivery.payload.get("data") if isinstance(delivery.payload, dict) else None
    data = data if isinstance(data, dict) else {}
    learner = data.get("learner") if isinstance(data.get("learner"), dict) else {}
    for key, value in (("learner", learner.get("learner_key")), ("credential", data.get("credential_id"))):
        if isinstance(value, str) and value:
            return f"{key}:{value}"
    return f"event:{delivery.event_id}"


def _failures_after(subscription: ClaimedSubscription, sent: Sequence[_Outcome]) -> int | None:
    """The subscription's consecutive failures once this batch is recorded: None when it has none to
    record (nothing failed, nothing was owed); a failure after a success in the batch counts from 1."""
    if not any(outcome.error is not None for outcome in sent):
        return 0 if sent else None
    return 1 if any(outcome.error is None for outcome in sent) else subscription.consecutive_failures + 1


async def _post(http: SafeFetcher, url: str, secret: str, delivery: ClaimedDelivery, now: datetime) -> str | None:
    """One signed POST, bounded by the fetch policy's whole-exchange timeout; the error, or None."""
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True)
    headers = signed_headers(secret, delivery.event_id, body, sent_at=now)
    try:
        status = await http.post(url, content=body.encode(), headers=headers)
    except URLRefused as exc:
        return f"refused by the outbound policy: {exc.reason}"[:1000]
    except FetchError as exc:
        return f"{exc.code}: {exc.reason}"[:1000]
    return None if 200 <= status < 300 else f"HTTP {status}"


def _outcome_values(outcome: _Outcome) -> dict[str, Any]:
    delivery, error, at = outcome.delivery, outcome.error, outcome.at
    attempts = delivery.attempts + 1
    values = {
        "b_id": delivery.id,
        "b_attempts": attempts,
        "b_error": error,
        "b_status": "pending",
        "b_next": delivery.next_attempt_at,
        "b_delivered": None,
    }
    if error is None:
        values |= {"b_status": "delivered", "b_delivered": at}
    elif attempts >= MAX_ATTEMPTS:
        values["b_status"] = "dead"
        logger.warning("webhook delivery %s gave up after %d attempts: %s", delivery.id, attempts, error)
    else:
        values["b_next"] = at + backoff(attempts)
    return values


@functools.cache
def _outcome_statement() -> Any:
    """One UPDATE for a batch of outcomes (executemany), each row only while this worker holds it."""
    table = WebhookDelivery.__table__
    return (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.lease_owner == bindparam("b_worker"))
        .values(
            status=bindparam("b_status"),
            attempts=bindparam("b_attempts"),
            last_error=bindparam("b_error"),
            next_attempt_at=bindparam("b_next"),
            delivered_at=bindparam("b_delivered"),
            lease_owner=None,
            lease_until=None,
        )
    )


async def _record(
    sessions: async_sessionmaker[AsyncSession],
    worker: str,
    subscription: ClaimedSubscription,
    outcomes: Sequence[_Outcome],
    failures: int | None,
    unsent: Sequence[ClaimedDelivery],
    metrics: ServiceMetrics | None,
    *,
    failed_at: datetime | None = None,
) -> None:
    """Outcomes, the subscription's backoff (`failures` > 0: set from `failed_at`; 0: lifted if it had
    failures; None: left as it is) and the release of what was not sent, in one short transaction. A
    subscription deleted meanwhile simply matches no row."""
    lifting = failures == 0 and subscription.consecutive_failures > 0
    if not outcomes and not unsent and not failures and not lifting:
        return
    rows = [{**_outcome_values(outcome), "b_worker": worker} for outcome in outcomes]
    subscriptions = WebhookSubscription.__table__
    async with sessions() as session:
        if rows:
            await session.execute(_outcome_statement(), rows)
        if failures:
            await session.execute(
                update(subscriptions)
                .where(subscriptions.c.id == subscription.id)
                .values(consecutive_failures=failures, backoff_until=(failed_at or utcnow()) + backoff(failures))
            )
        elif lifting:
            await session.execute(
                update(subscriptions)
                .where(subscriptions.c.id == subscription.id, subscriptions.c.consecutive_failures != 0)
                .values(consecutive_failures=0, backoff_until=None)
            )
        if unsent:
            await session.execute(_release_statement(worker, [delivery.id for delivery in unsent]))
        await session.commit()
    if metrics is not None:
        metrics.count("webhook_delivery_dead", sum(1 for row in rows if row["b_status"] == "dead"))


async def deliver_due(
    sessions: async_sessionmaker[AsyncSession],
    vault: KeyVault,
    http: SafeFetcher,
    *,
    now: datetime | None = None,
    limit: int = BATCH_SIZE,
    metrics: ServiceMetrics | None = None,
    worker: str | None = None,
    policy: DeliveryPolicy = DEFAULT_POLICY,
) -> int:
    """One round: claims what is due at `now` and sends it, subscriptions in parallel (at most
    policy.concurrency at once); returns how many deliveries were attempted."""
    worker = worker or new_worker_id()
    policy = replace(policy, batch=limit)
    claimed = await claim_due(sessions, worker, now or utcnow(), policy)
    slots = asyncio.Semaphore(policy.concurrency)

    async def send(subscription: ClaimedSubscription) -> int:
        async with slots:
            return await send_to_subscription(
                sessions, vault, http, worker, subscription, now=now, metrics=metrics, lanes=policy.lanes
            )

    try:
        return sum(await asyncio.gather(*(send(subscription) for subscription in claimed)))
    finally:
        if claimed:
            with contextlib.suppress(Exception):  # what an error left claimed is not held till expiry
                await release_leases(sessions, worker)


async def run_worker(
    sessions: async_sessionmaker[AsyncSession],
    vault: KeyVault,
    http: SafeFetcher,
    stop: asyncio.Event,
    metrics: ServiceMetrics | None = None,
    *,
    policy: DeliveryPolicy = DEFAULT_POLICY,
    worker: str | None = None,
) -> None:
    """Delivers until `stop` is set. Claims as soon as a sending slot is free (never waiting for a
    slow subscription to finish a round), sends each subscription in its own task, and on stop lets
    the POSTs in flight end (each is bounded by the fetch timeout), starts none, and releases every
    lease it holds, so another replica takes the work at once. A failing claim (database away) is
    logged and retried, never fatal."""
    worker = worker or new_worker_id()
    senders: dict[uuid.UUID, asyncio.Task[int]] = {}

    async def send(subscription: ClaimedSubscription) -> int:
        try:
            return await send_to_subscription(
                sessions, vault, http, worker, subscription, stop=stop, metrics=metrics, lanes=policy.lanes
            )
        except Exception:  # its leases are given back when the worker stops, or lapse
            logger.exception("webhook deliveries to subscription %s failed", subscription.id)
            return 0
        finally:
            senders.pop(subscription.id, None)

    try:
        while not stop.is_set():
            claimed: list[ClaimedSubscription] = []
            free = policy.concurrency - len(senders)
            if free > 0:
                try:
                    claimed = await claim_due(
                        sessions, worker, utcnow(), policy, exclude=set(senders), max_subscriptions=free
                    )
                except Exception:  # the worker must outlive a database outage
                    logger.exception("webhook delivery claim failed")
            for subscription in claimed:
                senders[subscription.id] = asyncio.create_task(send(subscription))
            if claimed and len(senders) < policy.concurrency:
                continue  # more may be due for other subscriptions
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait(
                {stopping, *senders.values()}, timeout=POLL_INTERVAL_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
            stopping.cancel()
    finally:
        in_flight = list(senders.values())
        if in_flight:
            # Each POST in flight ends within the fetch timeout; none starts after stop.
            await asyncio.wait(in_flight, timeout=http.policy.timeout_seconds + 1)
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
        with contextlib.suppress(Exception):  # best effort: otherwise the leases lapse by themselves
            released = await release_leases(sessions, worker)
            if released:
                logger.info("webhook worker %s released %d leases on stop", worker, released)
