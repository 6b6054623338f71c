"""What every way of signing in shares: the public forms' double-submit token, where a person lands,
and the response that hands them their session and page token (password, link or single sign-on)."""

import secrets

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from services.taxonomy_api.db.tables import User, UserSession
from shared.auth import TokenAuthority
from shared.errors import Forbidden
from shared.web.pages import Pages
from shared.web.session import PAGE_COOKIE, SESSION_COOKIE, check_form_origin, cookie_options, issue_page_token

FORM_COOKIE = "credstack_form"


def pages(request: Request) -> Pages:
    return request.app.state.pages


def _form_token(request: Request) -> str:
    return request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(24)


def form_page(
    request: Request, template: str, *, status: int = 200, headers: dict[str, str] | None = None, **context: object
) -> Response:
    """A public form page, with its double-submit token set in a cookie and echoed in the form."""
    token = _form_token(request)
    response = pages(request).render(request, template, status=status, headers=headers, form_token=token, **context)
    response.set_cookie(FORM_COOKIE, token, max_age=3600, **cookie_options(request.app.state.settings))
    return response


def check_form(request: Request, token: str) -> None:
    check_form_origin(request)
    cookie = request.cookies.get(FORM_COOKIE)
    if not cookie or not secrets.compare_digest(cookie, token):
        raise Forbidden("The form has expired; reload the page and try again.")


def landing_for(request: Request, user: User) -> str:
    site = pages(request).site
    return f"{site.issuer}/wallet" if user.role == "employee" else f"{site.gap_engine}/dashboard"


def next_or_landing(request: Request, user: User, next_url: str | None) -> str:
    """`next` when it is one of the platform's pages (anything else would be an open redirect)."""
    site = pages(request).site
    return next_url if next_url and site.is_own(next_url) else landing_for(request, user)


def signed_in_response(
    request: Request, user: User, session_row: UserSession, session_token: str | None, to: str
) -> Response:
    """Sets the page token (and, at sign-in, the session cookie) and sends the person on."""
    settings = request.app.state.settings
    authority: TokenAuthority = request.app.state.token_authority
    page_token = issue_page_token(
        authority,
        settings,
        org_id=user.org_id,
        user_id=user.id,
        session_id=session_row.id,
        email=user.email,
        name=user.name,
        role=user.role,
        hris_id=user.hris_id,
        csrf=session_row.csrf_token,
    )
    response = RedirectResponse(to, status_code=303)
    options = cookie_options(settings)
    response.set_cookie(PAGE_COOKIE, page_token, max_age=authority.ttl_seconds, **options)
    if session_token is not None:
        response.set_cookie(SESSION_COOKIE, session_token, max_age=settings.session_hours * 3600, **options)
    return response
