"""How far the outbox is behind, read from the database at scrape time (shared/observability.py):
whichever replica delivers, every replica reports the same backlog."""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.db.tables import OutboxEvent, WebhookDelivery
from shared.db import utcnow
from shared.observability import ServiceMetrics


async def pending_deliveries(session: AsyncSession) -> float:
    """Deliveries owed and not yet given up (retries waiting for their backoff included)."""
    return float(await session.scalar(select(func.count()).where(WebhookDelivery.status == "pending")) or 0)


async def oldest_pending_age_seconds(session: AsyncSession) -> float:
    """Seconds since the event of the oldest pending delivery was written; 0 when nothing is owed."""
    oldest = await session.scalar(
        select(func.min(OutboxEvent.created_at))
        .join(WebhookDelivery, WebhookDelivery.event_id == OutboxEvent.id)
        .where(WebhookDelivery.status == "pending")
    )
    return max((utcnow() - oldest).total_seconds(), 0.0) if oldest is not None else 0.0


def register_outbox_gauges(metrics: ServiceMetrics) -> None:
    metrics.gauge_from_database(
        "credstack_outbox_pending_deliveries",
        "Webhook deliveries pending (not yet delivered, not given up), all organisations",
        pending_deliveries,
    )
    metrics.gauge_from_database(
        "credstack_outbox_oldest_pending_age_seconds",
        "Age of the event of the oldest pending webhook delivery (0 when none is pending)",
        oldest_pending_age_seconds,
    )
