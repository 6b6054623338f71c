"""Webhook subscriptions: where an organisation's events go, with a signing secret stored sealed."""

import uuid

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.db.tables import OutboxEvent, WebhookDelivery, WebhookSubscription
from services.badge_issuer.domain.key_vault import KeyVault
from shared.db import utcnow
from shared.errors import NotFound, Unprocessable
from shared.repository import TenantRepository
from shared.safe_fetch import SafeFetcher, URLRefused
from shared.schemas.issuer import (
    WebhookDeliveryOut,
    WebhookSubscriptionCreatedOut,
    WebhookSubscriptionIn,
    WebhookSubscriptionOut,
)
from shared.webhooks import generate_webhook_secret


def repository(session: AsyncSession, org_id: uuid.UUID) -> TenantRepository[WebhookSubscription]:
    return TenantRepository(session, org_id, WebhookSubscription, "webhook subscription")


def secret_binding(subscription_id: uuid.UUID) -> str:
    """Associated data: a sealed secret copied onto another subscription's row does not open."""
    return f"webhook-subscription:{subscription_id}"


async def check_destination(url: str, fetcher: SafeFetcher) -> None:
    """422 naming why, when the outbound policy refuses the URL (not https, a private or loopback
    address, credentials in it). A name that does not resolve yet is accepted: it points nowhere
    private today, and each delivery vets it again (DNS can change), failing the attempt if refused."""
    try:
        await fetcher.vet(url)
    except URLRefused as refusal:
        if refusal.code != "unresolvable":
            raise Unprocessable(f"The webhook URL is refused: {refusal.reason}.", field="url") from refusal


async def create_subscription(
    session: AsyncSession, org_id: uuid.UUID, data: WebhookSubscriptionIn, vault: KeyVault, fetcher: SafeFetcher
) -> WebhookSubscriptionCreatedOut:
    """Adds the subscription (not committed); the secret is returned here and never again."""
    await check_destination(str(data.url), fetcher)
    secret = generate_webhook_secret()
    subscription_id = uuid.uuid4()
    subscription = repository(session, org_id).add(
        WebhookSubscription(
            id=subscription_id,
            url=str(data.url),
            event_types=list(dict.fromkeys(data.event_types)),
            encrypted_secret=vault.seal_bytes(secret.encode(), secret_binding(subscription_id)),
            active=True,
        )
    )
    await session.flush()
    return WebhookSubscriptionCreatedOut(**describe(subscription).model_dump(), secret=secret)


async def delete_subscription(session: AsyncSession, org_id: uuid.UUID, subscription_id: uuid.UUID) -> None:
    """Removes it and what it is still owed (explicitly: SQLite may not enforce the cascade). Never
    waits on a delivery in flight: a sending worker holds a lease column, not a row lock, and its
    outcome then matches no row."""
    subscription = await repository(session, org_id).get(subscription_id)
    await session.execute(delete(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription.id))
    await repository(session, org_id).delete(subscription)


def describe(subscription: WebhookSubscription) -> WebhookSubscriptionOut:
    return WebhookSubscriptionOut(
        id=subscription.id,
        url=subscription.url,
        event_types=subscription.event_types,  # type: ignore[arg-type]
        active=subscription.active,
        created_at=subscription.created_at,
    )


async def delivery_page(
    session: AsyncSession,
    org_id: uuid.UUID,
    subscription_id: uuid.UUID,
    *,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[WebhookDeliveryOut], str | None]:
    """What the subscription was owed, oldest first, optionally one status: dead deliveries are
    never silently dropped, an admin sees and replays them."""
    subscription = await repository(session, org_id).get(subscription_id)
    deliveries = TenantRepository(session, org_id, WebhookDelivery, "webhook delivery")
    statement = deliveries.select(WebhookDelivery.subscription_id == subscription.id)
    if status is not None:
        statement = statement.where(WebhookDelivery.status == status)
    rows, next_cursor = await deliveries.page(
        statement, (WebhookDelivery.next_attempt_at, WebhookDelivery.id), cursor=cursor, limit=limit
    )
    types = dict(
        (
            await session.execute(
                select(OutboxEvent.id, OutboxEvent.type).where(OutboxEvent.id.in_({row.event_id for row in rows}))
            )
        ).all()
    )
    return [_describe_delivery(row, types.get(row.event_id, "unknown")) for row in rows], next_cursor


async def replay_deliveries(
    session: AsyncSession, org_id: uuid.UUID, subscription_id: uuid.UUID, delivery_id: uuid.UUID | None = None
) -> int:
    """Puts dead deliveries (one, or all of the subscription's) back in the queue with a fresh
    attempt budget; the receiver deduplicates by webhook-id, so a replay is always safe."""
    subscription = await repository(session, org_id).get(subscription_id)
    conditions = [
        WebhookDelivery.org_id == org_id,
        WebhookDelivery.subscription_id == subscription.id,
        WebhookDelivery.status == "dead",
    ]
    if delivery_id is not None:
        found = await session.scalar(
            select(WebhookDelivery.id).where(
                WebhookDelivery.org_id == org_id,
                WebhookDelivery.subscription_id == subscription.id,
                WebhookDelivery.id == delivery_id,
            )
        )
        if found is None:
            raise NotFound(f"No delivery {delivery_id} for this subscription.")
        conditions.append(WebhookDelivery.id == delivery_id)
    result = await session.execute(
        update(WebhookDelivery).where(*conditions).values(status="pending", attempts=0, next_attempt_at=utcnow())
    )
    # A replay asks for an attempt now: the subscription's backoff (from the failures that killed
    # these deliveries) is lifted too.
    subscription.consecutive_failures, subscription.backoff_until = 0, None
    return int(result.rowcount or 0)


def _describe_delivery(row: WebhookDelivery, event_type: str) -> WebhookDeliveryOut:
    return WebhookDeliveryOut(
        id=row.id,
        event_id=row.event_id,
        event_type=event_type,
        status=row.status,  # type: ignore[arg-type]
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        delivered_at=row.delivered_at,
        last_error=row.last_error,
    )
