"""The employee's wallet: the page (signed in, or by a signed link), its portable export, and the
links that share it (made on the page by the employee, or through the API by the organisation)."""

import uuid
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Form, Request, Response, status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.api.deps import ERRORS, CredentialsReader, base_url, taxonomy
from services.badge_issuer.domain import wallet
from shared.db import get_session, utcnow
from shared.errors import ServiceUnavailable
from shared.rate_limit import public_rate_limit
from shared.web.session import PageUser, check_csrf, signed_in

pages = APIRouter(tags=["pages"], include_in_schema=False)
router = APIRouter(prefix="/v1/wallet-links", tags=["wallet links"])
WalletOwner = signed_in("employee", "manager", "analyst", "admin")


class WalletLinkIn(BaseModel):
    learner_hris_id: str = Field(min_length=1, max_length=200, description="Whose wallet the link shows.")
    days: int = Field(30, ge=1, le=wallet.MAX_LINK_DAYS, description="How long the link works.")
    holder_name: str | None = Field(
        None, min_length=1, max_length=200, description="Shown on the shared page (else no name is)."
    )


class WalletLinkOut(BaseModel):
    id: uuid.UUID
    url: str | None = Field(description="The link itself; returned only when it is created.")
    expires_at: datetime
    revoked_at: datetime | None


def _page_base(request: Request) -> str:
    return request.app.state.pages.site.issuer


def _holder(user: PageUser) -> wallet.Holder:
    return wallet.Holder(user.org_id, user.hris_id, user.email, user.name)


async def _render_wallet(
    request: Request, session: AsyncSession, holder: wallet.Holder, *, shared: bool, export_url: str, **context: Any
) -> Response:
    opened = await wallet.open_wallet(session, holder, base_url(request))
    standings, pathways_unavailable = [], None
    try:
        standings = await wallet.pathway_standings(taxonomy(request), opened.held_achievements)
    except ServiceUnavailable as error:
        pathways_unavailable = error.detail
    headers = {"X-Robots-Tag": "noindex"} if shared else None
    heading = "My wallet"
    if shared:
        heading = f"Shared wallet of {holder.name}" if holder.name else "Shared wallet"
    return request.app.state.pages.render(
        request,
        "wallet.html",
        headers=headers,
        wallet=opened,
        standings=standings,
        pathways_unavailable=pathways_unavailable,
        shared=shared,
        heading=heading,
        export_url=export_url,
        max_link_days=wallet.MAX_LINK_DAYS,
        **context,
    )


def _export(rows: list, today: datetime) -> Response:
    body = orjson.dumps(wallet.portable_export(rows), option=orjson.OPT_INDENT_2)
    filename = f"credstack-wallet-{today:%Y-%m-%d}.json"
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@pages.get("/wallet")
async def wallet_page(request: Request, user: WalletOwner, session: AsyncSession = Depends(get_session)) -> Response:
    """Signed in, any role: the person's own credentials (by the HRIS id and email their account
    carries), their pathway progress, and the links they have shared the wallet by."""
    holder = _holder(user)
    links = await wallet.holder_links(session, holder)
    return await _render_wallet(
        request,
        session,
        holder,
        shared=False,
        export_url="/wallet/export",
        links=[(link, wallet.link_state(link)) for link in links],
    )


@pages.get("/wallet/export")
async def wallet_export(user: WalletOwner, request: Request, session: AsyncSession = Depends(get_session)) -> Response:
    """Signed in, any role: the person's current credentials as a downloadable presentation."""
    opened = await wallet.open_wallet(session, _holder(user), base_url(request))
    return _export(opened.rows, utcnow())


@pages.post("/wallet/links")
async def create_wallet_link_from_page(
    request: Request,
    user: WalletOwner,
    csrf_token: Annotated[str | None, Form()] = None,
    days: Annotated[int, Form()] = 30,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Signed in, any role, CSRF-checked: a new link to the person's own wallet, shown once."""
    check_csrf(request, user, csrf_token)
    link, token = await wallet.create_link(session, _holder(user), days=days, created_by=user.principal.client_id)
    await session.commit()
    return request.app.state.pages.render(
        request, "wallet_link_created.html", link=link, url=wallet.shared_wallet_url(_page_base(request), token)
    )


@pages.post("/wallet/links/{link_id}/revoke")
async def revoke_wallet_link_from_page(
    request: Request,
    link_id: uuid.UUID,
    user: WalletOwner,
    csrf_token: Annotated[str | None, Form()] = None,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Signed in, any role, CSRF-checked: ends one of the person's own links, then back to the wallet."""
    check_csrf(request, user, csrf_token)
    holder = _holder(user)
    await wallet.revoke_link(session, user.org_id, link_id, user.principal.client_id, holder=holder)
    await session.commit()
    return RedirectResponse("/wallet#links", status_code=status.HTTP_303_SEE_OTHER)


@pages.get("/wallet/shared/{token}", tags=["public"], dependencies=[Depends(public_rate_limit)])
async def shared_wallet_page(request: Request, token: str, session: AsyncSession = Depends(get_session)) -> Response:
    """Public, with a live link: the same wallet, read-only (no links, no forms); 410 once the link
    expired or was revoked."""
    link = await wallet.open_link(session, token)
    return await _render_wallet(
        request, session, wallet.link_holder(link), shared=True, export_url=f"/wallet/shared/{token}/export", link=link
    )


@pages.get("/wallet/shared/{token}/export", tags=["public"], dependencies=[Depends(public_rate_limit)])
async def shared_wallet_export(request: Request, token: str, session: AsyncSession = Depends(get_session)) -> Response:
    """Public, with a live link: the wallet's portable export."""
    link = await wallet.open_link(session, token)
    opened = await wallet.open_wallet(session, wallet.link_holder(link), base_url(request))
    return _export(opened.rows, utcnow())


@router.post(
    "",
    summary="Create a signed link to a learner's wallet",
    status_code=201,
    response_model=WalletLinkOut,
    responses={**ERRORS, 422: {"description": "Invalid body"}},
)
async def create_wallet_link(
    request: Request, body: WalletLinkIn, caller: CredentialsReader, session: AsyncSession = Depends(get_session)
) -> WalletLinkOut:
    """A link anyone can open, without an account, to see the learner's wallet read-only for `days`
    (at most 90) and download its export, until it is revoked. The URL is returned only here: only a
    hash of its token is stored. No Idempotency-Key replay, since that would store the URL for the
    replay; a retried request makes a second link, which can be revoked."""
    holder = wallet.Holder(caller.org_id, body.learner_hris_id.strip(), None, body.holder_name)
    link, token = await wallet.create_link(session, holder, days=body.days, created_by=caller.client_id)
    await session.commit()
    url = wallet.shared_wallet_url(_page_base(request), token)
    return WalletLinkOut(id=link.id, url=url, expires_at=link.expires_at, revoked_at=None)


@router.post("/{link_id}/revoke", summary="Revoke a wallet link", response_model=WalletLinkOut, responses=ERRORS)
async def revoke_wallet_link(
    link_id: uuid.UUID, caller: CredentialsReader, session: AsyncSession = Depends(get_session)
) -> WalletLinkOut:
    """The link stops working at once; revoking it again changes nothing."""
    link = await wallet.revoke_link(session, caller.org_id, link_id, caller.client_id)
    await session.commit()
    return WalletLinkOut(id=link.id, url=None, expires_at=link.expires_at, revoked_at=link.revoked_at)
