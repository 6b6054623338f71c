"""Who is looking at a page: the signed-in person, shared by the three services.

Sign-in happens once, on the taxonomy service (the token authority), which keeps the session in its
database behind the HttpOnly `credstack_session` cookie. Beside it, it sets `credstack_page`: a
short-lived EdDSA token signed like the API's access tokens but for another audience (so no API
accepts it) that carries the person, their role, their organisation and the session's CSRF token.
Every service checks that token offline with the key it already has; when it lapses, the page sends
the browser to the sign-in page, which renews it from the database session (or asks for the password
again if the session was ended). A signed-out or disabled person keeps a page token for at most its
lifetime (`access_token_ttl_seconds`, 15 minutes), the same bound as an API token.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from shared.auth import Principal, TokenAuthority, TokenVerifier
from shared.errors import Forbidden, SignInRequired, Unauthorized
from shared.settings import ServiceSettings

SESSION_COOKIE = "credstack_session"
PAGE_COOKIE = "credstack_page"
ROLES = ("admin", "analyst", "manager", "employee")
# What each role may read through the pages; a manager's reads are further narrowed to their teams,
# an employee's to their own wallet, by the pages that serve them.
ROLE_SCOPES = {
    "admin": frozenset({"admin"}),
    "analyst": frozenset({"taxonomy:read", "gaps:read", "credentials:read"}),
    "manager": frozenset({"taxonomy:read", "gaps:read", "credentials:read"}),
    "employee": frozenset(),
}


def page_audience(settings: ServiceSettings) -> str:
    return f"{settings.token_audience}-pages"


@dataclass(frozen=True, slots=True)
class PageUser:
    principal: Principal
    user_id: uuid.UUID
    session_id: uuid.UUID
    email: str
    name: str
    role: str
    hris_id: str | None
    csrf: str

    @property
    def org_id(self) -> uuid.UUID:
        return self.principal.org_id


def cookie_options(settings: ServiceSettings) -> dict[str, object]:
    """HttpOnly always; Secure outside dev (dev serves plain http on loopback); SameSite=Lax so a link
    from elsewhere opens the page signed in, while no other site can post a form with the cookie."""
    return {"httponly": True, "secure": settings.environment != "dev", "samesite": "lax", "path": "/"}


def issue_page_token(
    authority: TokenAuthority,
    settings: ServiceSettings,
    *,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    email: str,
    name: str,
    role: str,
    hris_id: str | None,
    csrf: str,
) -> str:
    return authority.issue(
        org_id=org_id,
        client_id=f"user:{user_id}",
        scopes=ROLE_SCOPES[role],
        audience=page_audience(settings),
        extra={"sid": str(session_id), "email": email, "name": name, "role": role, "hris": hris_id, "csrf": csrf},
    )


def read_page_user(request: Request) -> PageUser | None:
    """The person the page token names, or None when there is none or it lapsed (remembered on the request)."""
    if hasattr(request.state, "page_user"):
        return request.state.page_user
    user = None
    token = request.cookies.get(PAGE_COOKIE)
    if token and len(token) < 8192:
        verifier: TokenVerifier = request.app.state.token_verifier
        try:
            claims = verifier.claims(token, audience=page_audience(request.app.state.settings))
            role = str(claims["role"])
            if role not in ROLES:
                raise ValueError(role)
            user = PageUser(
                principal=Principal(
                    org_id=uuid.UUID(str(claims["org"])),
                    client_id=str(claims["sub"]),
                    scopes=ROLE_SCOPES[role],
                ),
                user_id=uuid.UUID(str(claims["sub"]).removeprefix("user:")),
                session_id=uuid.UUID(str(claims["sid"])),
                email=str(claims["email"]),
                name=str(claims["name"]),
                role=role,
                hris_id=str(claims["hris"]) if claims.get("hris") else None,
                csrf=str(claims["csrf"]),
            )
        except (Unauthorized, KeyError, ValueError, TypeError):
            user = None
    request.state.page_user = user
    return user


class PageAccess:
    """Dependency for a page: admits a signed-in person whose role is listed, sends others to sign in."""

    def __init__(self, *roles: str) -> None:
        unknown = set(roles) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown roles {unknown}")
        self.roles = roles or ROLES

    async def __call__(self, request: Request) -> PageUser:
        user = read_page_user(request)
        if user is None:
            sign_in = request.app.state.pages.site.sign_in_url(str(request.url))
            raise SignInRequired("Sign in to see this page.", sign_in_url=sign_in)
        if user.role not in self.roles:
            raise Forbidden(f"This page is for: {', '.join(self.roles)}. You are signed in as {user.role}.")
        return user


def signed_in(*roles: str) -> type[PageUser]:
    """`user: signed_in("admin", "analyst")` in a page route's signature declares who may see it."""
    return Annotated[PageUser, Depends(PageAccess(*roles))]  # type: ignore[return-value]


OptionalUser = Annotated[PageUser | None, Depends(read_page_user)]


def check_form_origin(request: Request) -> None:
    """A form post must come from one of the platform's own pages (Origin, else Referer): the second
    line of CSRF defence after the token, and the only one for the sign-in form itself."""
    site = request.app.state.pages.site
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin and origin != "null" and not site.is_own(origin):
        raise Forbidden("This form was posted from another site.")


def check_csrf(request: Request, user: PageUser, token: str | None) -> None:
    """Every form a signed-in person posts carries the session's CSRF token."""
    check_form_origin(request)
    if not token or not hmac.compare_digest(token, user.csrf):
        raise Forbidden("The form has expired or did not come from this site; reload the page and try again.")
