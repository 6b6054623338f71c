"""Single sign-on pages (public) and the identity-provider settings (admin).

A person types their email and is sent to their organisation's OpenID Connect provider, then comes
back to the callback, which signs them in exactly as the password form does. The trip leaves through
a page of ours rather than a redirect: the sign-in page's Content-Security-Policy (form-action) only
lets its forms lead to the platform's own services, and the provider is somewhere else.
"""

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.api.page_forms import next_or_landing, pages, signed_in_response
from services.taxonomy_api.db.tables import IdentityProvider
from services.taxonomy_api.domain import people, single_sign_on
from services.taxonomy_api.domain.single_sign_on import SignInRefused
from shared.auth import requires
from shared.db import get_session
from shared.web.session import cookie_options

router = APIRouter(tags=["pages", "public"])
api = APIRouter(prefix="/v1", tags=["single sign-on"])
Admin = requires("admin")
STATE_COOKIE = "credstack_sso"
STATE_COOKIE_PATH = "/sign-in/sso"


def _redirect_uri(request: Request) -> str:
    return f"{pages(request).site.taxonomy}/sign-in/sso/callback"


def _state_cookie_options(request: Request) -> dict[str, object]:
    return {**cookie_options(request.app.state.settings), "path": STATE_COOKIE_PATH}


def _sso_page(
    request: Request, *, status: int = 200, error: str | None = None, email: str = "", next_url: str = ""
) -> Response:
    return pages(request).render(request, "sso_sign_in.html", status=status, error=error, email=email, next=next_url)


@router.get("/sign-in/sso", include_in_schema=False)
async def sso_start(
    request: Request,
    email: Annotated[str, Query(max_length=320)] = "",
    next: Annotated[str, Query(max_length=2048)] = "",
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Public. Without an email, the form that asks for it; with one, finds the organisation by it and
    sends the browser to its provider."""
    next_url = next if next and pages(request).site.is_own(next) else ""
    if not email.strip():
        return _sso_page(request, next_url=next_url)
    try:
        departure = await single_sign_on.start_sign_in(
            session, request.app.state.fetcher, email=email, redirect_uri=_redirect_uri(request), next_url=next_url
        )
    except SignInRefused as refusal:
        return _sso_page(request, status=refusal.status, error=refusal.detail, email=email, next_url=next_url)
    await session.commit()
    response = pages(request).render(
        request, "sso_departure.html", destination=departure.authorization_url, provider_host=departure.provider_host
    )
    lifetime = int(single_sign_on.ATTEMPT_LIFETIME.total_seconds())
    response.set_cookie(STATE_COOKIE, departure.state, max_age=lifetime, **_state_cookie_options(request))
    return response


@router.get("/sign-in/sso/callback", include_in_schema=False)
async def sso_callback(
    request: Request,
    state: Annotated[str, Query(max_length=512)] = "",
    code: Annotated[str, Query(max_length=4096)] = "",
    error: Annotated[str, Query(max_length=256)] = "",
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Public. Where the provider sends the browser back: the code is redeemed, the ID token checked,
    and the person of that organisation with the token's verified email is signed in."""
    try:
        user, next_url = await single_sign_on.finish_sign_in(
            session,
            request.app.state.fetcher,
            request.app.state.secret_box,
            browser_state=request.cookies.get(STATE_COOKIE),
            state=state,
            code=code,
            error=error,
            redirect_uri=_redirect_uri(request),
        )
    except SignInRefused as refusal:
        # The state cookie stays: a forged callback must not spoil the person's own trip (a used one is inert).
        return _sso_page(request, status=refusal.status, error=refusal.detail)
    lifetime = timedelta(hours=request.app.state.settings.session_hours)
    row, token = await people.start_session(session, user, lifetime)
    await session.commit()
    response = signed_in_response(request, user, row, token, next_or_landing(request, user, next_url))
    response.delete_cookie(STATE_COOKIE, **_state_cookie_options(request))
    return response


DomainName = Annotated[str, Field(min_length=3, max_length=253, pattern=r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")]


class IdentityProviderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    issuer: str = Field(
        min_length=8,
        max_length=2048,
        pattern=r"^https?://[^\s?#]+$",
        description="The provider's issuer URL, exactly as its metadata names it; its metadata is read from "
        "`{issuer}/.well-known/openid-configuration`.",
    )
    client_id: str = Field(min_length=1, max_length=255)
    client_secret: str = Field(min_length=1, max_length=1024, description="Sealed at rest; never shown again.")
    allowed_email_domains: list[DomainName] = Field(
        default_factory=list,
        max_length=50,
        description="When given, only ID tokens whose email is at one of these domains sign anyone in.",
    )


class IdentityProviderOut(BaseModel):
    issuer: str
    client_id: str
    allowed_email_domains: list[str]
    redirect_uri: str = Field(description="Register this as the client's redirect URI at the provider.")
    updated_at: datetime


def _provider_out(request: Request, provider: IdentityProvider) -> IdentityProviderOut:
    return IdentityProviderOut(
        issuer=provider.issuer,
        client_id=provider.client_id,
        allowed_email_domains=provider.allowed_email_domains,
        redirect_uri=_redirect_uri(request),
        updated_at=provider.updated_at,
    )


@api.put("/identity-provider", response_model=IdentityProviderOut, summary="Set the organisation's identity provider")
async def put_identity_provider(
    request: Request, body: IdentityProviderIn, caller: Admin, session: AsyncSession = Depends(get_session)
) -> IdentityProviderOut:
    """Admin. Lets the organisation's people sign in through its OpenID Connect provider (authorization
    code with PKCE). The provider's metadata and keys are read now, under the service's outbound policy
    (https to public addresses): a 422 says what is wrong. People still need an account here (an
    invitation); the provider only proves who they are. Replaces any earlier provider."""
    provider = await single_sign_on.configure_provider(
        session,
        caller.org_id,
        request.app.state.secret_box,
        request.app.state.fetcher,
        issuer=body.issuer,
        client_id=body.client_id,
        client_secret=body.client_secret,
        allowed_email_domains=list(body.allowed_email_domains),
    )
    await session.commit()
    return _provider_out(request, provider)


@api.get(
    "/identity-provider",
    response_model=IdentityProviderOut,
    summary="Show the organisation's identity provider",
    responses={404: {"description": "The organisation has no identity provider"}},
)
async def get_identity_provider(
    request: Request, caller: Admin, session: AsyncSession = Depends(get_session)
) -> IdentityProviderOut:
    """Admin. The provider's settings; the client secret is never shown."""
    return _provider_out(request, await single_sign_on.provider_of(session, caller.org_id))


@api.delete(
    "/identity-provider",
    status_code=204,
    summary="Switch single sign-on off",
    responses={404: {"description": "The organisation has no identity provider"}},
)
async def delete_identity_provider(caller: Admin, session: AsyncSession = Depends(get_session)) -> Response:
    """Admin. People sign in with their passwords again; sessions already open stay open."""
    await single_sign_on.remove_provider(session, caller.org_id)
    await session.commit()
    return Response(status_code=204)
