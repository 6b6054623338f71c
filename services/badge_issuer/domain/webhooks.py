"""Webhook subscriptions: where an organisation's events go, with a signing secret stored sealed."""

import uuid

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.db.tables import WebhookDelivery, WebhookSubscription
from services.badge_issuer.domain.key_vault import KeyVault
from shared.errors import Unprocessable
from shared.repository import TenantRepository
from shared.safe_fetch import SafeFetcher, URLRefused
from shared.schemas.issuer import WebhookSubscriptionCreatedOut, WebhookSubscriptionIn, WebhookSubscriptionOut
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
    """Removes it and what it is still owed (explicitly: SQLite may not enforce the cascade)."""
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
