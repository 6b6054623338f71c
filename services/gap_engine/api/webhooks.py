"""Webhook sources (admins) and the issuer's deliveries (public, signed): thin routes over domain/."""

import uuid

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.gap_engine.api.deps import WRITE_ERRORS, Admin, taxonomy, verifier
from services.gap_engine.domain import webhooks
from shared.db import get_session
from shared.schemas.gaps import WebhookReceiptOut, WebhookSourceIn, WebhookSourceOut

router = APIRouter(prefix="/v1")


@router.post(
    "/webhook-sources",
    tags=["webhooks"],
    summary="Register an issuer subscription's signing secret",
    status_code=201,
    response_model=WebhookSourceOut,
    responses=WRITE_ERRORS,
)
async def create_source(
    request: Request, body: WebhookSourceIn, caller: Admin, session: AsyncSession = Depends(get_session)
) -> WebhookSourceOut:
    """Point the issuer's subscription at the returned `webhook_path`; the secret is never shown again."""
    source = await webhooks.create_source(session, caller.org_id, body, request.app.state.secret_box)
    await session.commit()
    return source


@router.post(
    "/webhooks/issuer/{source_id}",
    tags=["public"],
    summary="Receive a credential event from the issuer (Standard Webhooks)",
    status_code=202,
    response_model=WebhookReceiptOut,
    responses={
        200: {"description": "A replay of a webhook-id already received: nothing was done again"},
        401: {"description": "Bad or missing signature, stale timestamp, or unknown source"},
        503: {"description": "The issuer or taxonomy_api is unreachable; the issuer retries later"},
    },
)
async def receive_delivery(
    request: Request, source_id: uuid.UUID, response: Response, session: AsyncSession = Depends(get_session)
) -> WebhookReceiptOut:
    """Authenticated by the webhook signature with the source's secret (no bearer token).
    credential.issued: the credential is fetched from its public URL and received like an HRIS post;
    credential.revoked: it stops counting. Events for unknown employees are recorded and ignored."""
    receipt = await webhooks.receive_delivery(
        session,
        source_id,
        await request.body(),
        dict(request.headers),
        verifier=verifier(request),
        taxonomy=taxonomy(request),
        secret_box=request.app.state.secret_box,
        tokens=request.app.state.service_tokens,
    )
    await session.commit()
    if receipt.duplicate:
        response.status_code = 200
    return receipt
