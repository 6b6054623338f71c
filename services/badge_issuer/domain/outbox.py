"""Transactional outbox: events written with the change they announce, delivered at least once.

`emit` runs inside the caller's transaction, so a credential and its event commit (or vanish)
together. `deliver_due` sends what is owed; a delivery counts only after a 2xx, so a crash between
the POST and the commit re-sends (receivers deduplicate on webhook-id). Every POST goes through the
outbound policy again (DNS can change after registration): a refused URL is a failed attempt.
"""

import asyncio
import contextlib
import functools
import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Insert, Uuid, bindparam, cast, func, insert, literal, select, true
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
BATCH_SIZE = 50


async def emit(session: AsyncSession, org_id: uuid.UUID, event_type: str, data: dict[str, Any]) -> str:
    """Adds the event and one pending delivery per active subscription that wants it (not committed);
    returns the event's id.

    On PostgreSQL both go in one statement (the event inserted in a CTE, the deliveries selected from
    webhook_subscriptions), executed now: no subscription rows come back to Python, and a subscription
    committed before this statement runs gets the event. Loading them through the ORM on every
    issuance was about a tenth of its time."""
    now = utcnow()
    event_id = f"msg_{uuid.uuid4().hex}"
    values = {
        "id": event_id,
        "org_id": org_id,
        "type": event_type,
        "payload": {"type": event_type, "timestamp": now.isoformat(), "data": data},
        "created_at": now,
    }
    if session.bind.dialect.name == "postgresql":
        await session.execute(_emit_statement(), {**values, "wanted": [event_type]})
        return event_id
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


@functools.cache
def _emit_statement() -> Insert:
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


async def deliver_due(
    sessions: async_sessionmaker[AsyncSession],
    vault: KeyVault,
    http: SafeFetcher,
    *,
    now: datetime | None = None,
    limit: int = BATCH_SIZE,
    metrics: ServiceMetrics | None = None,
) -> int:
    """Attempts every delivery due at `now`; returns how many were attempted. On PostgreSQL the rows
    are claimed FOR UPDATE SKIP LOCKED, so replicas polling together never send the same one twice."""
    now = now or utcnow()
    async with sessions() as session:
        statement = (
            select(WebhookDelivery)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        )
        if session.bind.dialect.name == "postgresql":
            statement = statement.with_for_update(skip_locked=True)
        due = list(await session.scalars(statement))
        if not due:
            return 0
        events = {
            e.id: e
            for e in await session.scalars(select(OutboxEvent).where(OutboxEvent.id.in_({d.event_id for d in due})))
        }
        subscriptions = {
            s.id: s
            for s in await session.scalars(
                select(WebhookSubscription).where(WebhookSubscription.id.in_({d.subscription_id for d in due}))
            )
        }
        for delivery in due:
            await _attempt(
                delivery, events[delivery.event_id], subscriptions[delivery.subscription_id], vault, http, now
            )
        await session.commit()
        if metrics is not None:
            metrics.count("webhook_delivery_dead", sum(1 for delivery in due if delivery.status == "dead"))
        return len(due)


async def _attempt(
    delivery: WebhookDelivery,
    event: OutboxEvent,
    subscription: WebhookSubscription,
    vault: KeyVault,
    http: SafeFetcher,
    now: datetime,
) -> None:
    body = json.dumps(event.payload, separators=(",", ":"), sort_keys=True)
    delivery.attempts += 1
    try:
        secret = vault.open_bytes(subscription.encrypted_secret, secret_binding(subscription.id)).decode()
    except MasterKeyError:
        # One unreadable secret (a changed master key) must not stop every other delivery.
        _record_failure(delivery, "the subscription secret cannot be decrypted with this master key", now)
        return
    headers = signed_headers(secret, event.id, body, sent_at=now)
    try:
        status = await http.post(subscription.url, content=body.encode(), headers=headers)
        error = None if 200 <= status < 300 else f"HTTP {status}"
    except URLRefused as exc:
        error = f"refused by the outbound policy: {exc.reason}"[:1000]
    except FetchError as exc:
        error = f"{exc.code}: {exc.reason}"[:1000]
    if error is None:
        delivery.status, delivery.delivered_at, delivery.last_error = "delivered", now, None
        return
    _record_failure(delivery, error, now)


def _record_failure(delivery: WebhookDelivery, error: str, now: datetime) -> None:
    delivery.last_error = error
    if delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = "dead"
        logger.warning("webhook delivery %s gave up after %d attempts: %s", delivery.id, delivery.attempts, error)
    else:
        delivery.next_attempt_at = now + backoff(delivery.attempts)


async def run_worker(
    sessions: async_sessionmaker[AsyncSession],
    vault: KeyVault,
    http: SafeFetcher,
    stop: asyncio.Event,
    metrics: ServiceMetrics | None = None,
) -> None:
    """Polls until `stop` is set; a failing round (database away) is logged and retried, never fatal."""
    while not stop.is_set():
        try:
            attempted = await deliver_due(sessions, vault, http, metrics=metrics)
        except Exception:  # the worker must outlive a database outage
            logger.exception("webhook delivery round failed")
            attempted = 0
        if attempted:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL_INTERVAL_SECONDS)
