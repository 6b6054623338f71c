"""Webhook subscriptions (organisation admins): where credential events are delivered."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.api.deps import ERRORS, Admin, key_vault
from services.badge_issuer.db.tables import IdempotencyRecord, WebhookSubscription
from services.badge_issuer.domain import webhooks
from shared.db import get_session
from shared.etag import json_with_etag
from shared.idempotency import HONOURS_IDEMPOTENCY_KEY, create_once
from shared.pagination import Page
from shared.schemas.issuer import (
    DeliveryStatus,
    WebhookDeliveryOut,
    WebhookReplayOut,
    WebhookSubscriptionCreatedOut,
    WebhookSubscriptionIn,
    WebhookSubscriptionOut,
)

router = APIRouter(prefix="/v1/webhook-subscriptions", tags=["webhooks"])


@router.post(
    "",
    summary="Subscribe to credential events",
    status_code=201,
    response_model=WebhookSubscriptionCreatedOut,
    dependencies=[HONOURS_IDEMPOTENCY_KEY],
    responses={
        **ERRORS,
        422: {"description": "Invalid body, or a URL the outbound policy refuses (not https, a private address)"},
    },
)
async def create_subscription(
    request: Request, body: WebhookSubscriptionIn, caller: Admin, session: AsyncSession = Depends(get_session)
) -> Response:
    """Returns the signing secret once (it is stored encrypted and never shown again). Events are
    signed per Standard Webhooks and delivered at least once. Honours `Idempotency-Key`. The URL must
    be https to a public address (unless the deployment allows a host or network): 422 says why not."""

    async def create() -> tuple[int, Any]:
        fetcher = request.app.state.webhook_http
        created = await webhooks.create_subscription(session, caller.org_id, body, key_vault(request), fetcher)
        return status.HTTP_201_CREATED, created.model_dump(mode="json")

    return await create_once(session, IdempotencyRecord, request, body, org_id=caller.org_id, create=create)


@router.get("", summary="List webhook subscriptions", response_model=Page[WebhookSubscriptionOut], responses=ERRORS)
async def list_subscriptions(
    request: Request,
    caller: Admin,
    cursor: Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """The organisation's subscriptions, oldest first, without their secrets."""
    repository = webhooks.repository(session, caller.org_id)
    rows, next_cursor = await repository.page(
        repository.select(), (WebhookSubscription.created_at, WebhookSubscription.id), cursor=cursor, limit=limit
    )
    return json_with_etag(request, {"items": [webhooks.describe(row) for row in rows], "next_cursor": next_cursor})


@router.delete("/{subscription_id}", summary="Delete a webhook subscription", status_code=204, responses=ERRORS)
async def delete_subscription(
    subscription_id: uuid.UUID, caller: Admin, session: AsyncSession = Depends(get_session)
) -> Response:
    """Stops deliveries to it, including ones still pending."""
    await webhooks.delete_subscription(session, caller.org_id, subscription_id)
    await session.commit()
    return Response(status_code=204)


@router.get(
    "/{subscription_id}/deliveries",
    summary="What a subscription was owed, and what became of it",
    response_model=Page[WebhookDeliveryOut],
    responses=ERRORS,
)
async def list_deliveries(
    subscription_id: uuid.UUID,
    caller: Admin,
    status_filter: Annotated[DeliveryStatus | None, Query(alias="status", description="e.g. dead")] = None,
    cursor: Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    session: AsyncSession = Depends(get_session),
) -> Page[WebhookDeliveryOut]:
    """Deliveries oldest first, with attempts and the last error. `?status=dead` lists the ones
    that exhausted their attempts: replay them once the receiver is fixed."""
    items, next_cursor = await webhooks.delivery_page(
        session, caller.org_id, subscription_id, status=status_filter, cursor=cursor, limit=limit
    )
    return Page[WebhookDeliveryOut](items=items, next_cursor=next_cursor)


@router.post(
    "/{subscription_id}/deliveries/replay",
    summary="Replay every dead delivery of a subscription",
    response_model=WebhookReplayOut,
    responses=ERRORS,
)
async def replay_dead_deliveries(
    subscription_id: uuid.UUID, caller: Admin, session: AsyncSession = Depends(get_session)
) -> WebhookReplayOut:
    """Each goes back in the queue with a fresh attempt budget; receivers deduplicate by webhook-id."""
    replayed = await webhooks.replay_deliveries(session, caller.org_id, subscription_id)
    await session.commit()
    return WebhookReplayOut(replayed=replayed)


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/replay",
    summary="Replay one dead delivery",
    response_model=WebhookReplayOut,
    responses=ERRORS,
)
async def replay_dead_delivery(
    subscription_id: uuid.UUID, delivery_id: uuid.UUID, caller: Admin, session: AsyncSession = Depends(get_session)
) -> WebhookReplayOut:
    """0 replayed when that delivery is not dead (pending or delivered)."""
    replayed = await webhooks.replay_deliveries(session, caller.org_id, subscription_id, delivery_id)
    await session.commit()
    return WebhookReplayOut(replayed=replayed)
