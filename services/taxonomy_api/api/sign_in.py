"""Sign-in pages (public forms) and the people API (admin): the platform's one door for people.

The forms post back here with a CSRF token: the session's once signed in, and before that a
double-submit token (a random cookie echoed in the form), with the Origin checked on every post.
"""

import secrets
import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.api.page_forms import (
    check_form,
    form_page,
    landing_for,
    next_or_landing,
    pages,
    signed_in_response,
)
from services.taxonomy_api.db.tables import User
from services.taxonomy_api.domain import people
from shared.auth import requires
from shared.db import get_session
from shared.errors import Forbidden, ProblemError, Unprocessable
from shared.mail import Mailer
from shared.pagination import Page
from shared.web.session import PAGE_COOKIE, SESSION_COOKIE, check_form_origin, read_page_user

router = APIRouter(tags=["pages", "public"])
api = APIRouter(prefix="/v1", tags=["people"])
Admin = requires("admin")
EmailField = Annotated[str, Form(max_length=320)]
PasswordField = Annotated[str, Form(max_length=people.PASSWORD_MAX)]
TokenField = Annotated[str, Form(max_length=128)]


@router.get("/sign-in", include_in_schema=False)
async def sign_in_page(
    request: Request, next: str | None = None, session: AsyncSession = Depends(get_session)
) -> Response:
    """Public. Signed in already (the session cookie is live): renews the page token and goes on."""
    open_session = await people.open_session(session, request.cookies.get(SESSION_COOKIE))
    if open_session is not None:
        to = next_or_landing(request, open_session.user, next)
        return signed_in_response(request, open_session.user, open_session.row, None, to)
    return form_page(request, "sign_in.html", next=next or "", error=None, email="")


@router.post("/sign-in", include_in_schema=False)
async def sign_in(
    request: Request,
    email: EmailField,
    password: PasswordField,
    form_token: TokenField,
    next: Annotated[str, Form(max_length=2048)] = "",
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Public, throttled per email and per address."""
    check_form(request, form_token)
    address = request.client.host if request.client else "unknown"
    try:
        user = await people.authenticate(session, email, password, address)
    except ProblemError as error:
        retry = {"Retry-After": str(error.extensions["retry_after"])} if "retry_after" in error.extensions else None
        return form_page(
            request, "sign_in.html", status=error.status, headers=retry, next=next, error=error.detail, email=email
        )
    row, token = await people.start_session(session, user, timedelta(hours=request.app.state.settings.session_hours))
    await session.commit()
    return signed_in_response(request, user, row, token, next_or_landing(request, user, next))


@router.post("/sign-out", include_in_schema=False)
async def sign_out(request: Request, csrf_token: TokenField, session: AsyncSession = Depends(get_session)) -> Response:
    """Ends the database session and clears both cookies."""
    user = read_page_user(request)
    check_form_origin(request)
    if user is not None and not secrets.compare_digest(csrf_token, user.csrf):
        raise Forbidden("The form has expired; reload the page and try again.")
    await people.end_session(session, request.cookies.get(SESSION_COOKIE))
    await session.commit()
    response = RedirectResponse(pages(request).site.sign_in_url(), status_code=303)
    for cookie in (SESSION_COOKIE, PAGE_COOKIE):
        response.delete_cookie(cookie, path="/")
    return response


@router.get("/password-reset", include_in_schema=False)
async def reset_request_page(request: Request) -> Response:
    return form_page(request, "reset_request.html", sent=False)


@router.post("/password-reset", include_in_schema=False)
async def reset_request(
    request: Request, email: EmailField, form_token: TokenField, session: AsyncSession = Depends(get_session)
) -> Response:
    """Public. Answers the same whether or not the address has an account (no one learns who does)."""
    check_form(request, form_token)
    found = await people.request_reset(session, email)
    await session.commit()
    if found is not None:
        user, token = found
        link = f"{pages(request).site.taxonomy}/password-reset/{token}"
        await _mailer(request).send(
            user.email,
            "Reset your CredStack password",
            f"Someone asked to reset the password of {user.email}.\n\nSet a new one here (valid one hour):\n{link}\n\n"
            "If it was not you, ignore this mail: your password stays as it is.",
        )
    return form_page(request, "reset_request.html", sent=True)


def _link_routes(path: str, purpose: str, heading: str) -> None:
    @router.get(f"/{path}/{{token}}", include_in_schema=False, name=f"{purpose}_page")
    async def link_page(request: Request, token: str, session: AsyncSession = Depends(get_session)) -> Response:
        _, user = await people.user_of_link(session, token[:128], purpose)
        return form_page(
            request, "set_password.html", heading=heading, email=user.email, error=None, action=request.url.path
        )

    @router.post(f"/{path}/{{token}}", include_in_schema=False, name=f"{purpose}_redeem")
    async def redeem(
        request: Request,
        token: str,
        password: PasswordField,
        password_again: PasswordField,
        form_token: TokenField,
        session: AsyncSession = Depends(get_session),
    ) -> Response:
        check_form(request, form_token)
        _, user = await people.user_of_link(session, token[:128], purpose)
        error = None if password == password_again else "The two passwords differ."
        if error is None:
            try:
                people.check_password(password)
            except ProblemError as problem:
                error = problem.detail
        if error is not None:
            return form_page(
                request,
                "set_password.html",
                status=422,
                heading=heading,
                email=user.email,
                error=error,
                action=request.url.path,
            )
        user = await people.redeem_link(session, token[:128], purpose, password)
        row, session_token = await people.start_session(
            session, user, timedelta(hours=request.app.state.settings.session_hours)
        )
        await session.commit()
        return signed_in_response(request, user, row, session_token, landing_for(request, user))


_link_routes("invitations", people.INVITATION, "Welcome to CredStack: choose your password")
_link_routes("password-reset", people.RESET, "Choose a new password")


def _mailer(request: Request) -> Mailer:
    return request.app.state.mailer


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str = Field(min_length=1, max_length=200)
    role: str = Field(pattern="^(admin|analyst|manager|employee)$")
    hris_id: str | None = Field(None, min_length=1, max_length=128)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    email: str
    name: str
    role: str
    hris_id: str | None
    disabled: bool
    invitation_pending: bool = False


def _user_out(user: User) -> UserOut:
    return UserOut.model_validate(user).model_copy(update={"invitation_pending": user.password_hash is None})


@api.post("/users", status_code=201, response_model=UserOut, summary="Invite a person to sign in")
async def invite_user(
    request: Request, body: UserIn, caller: Admin, session: AsyncSession = Depends(get_session)
) -> UserOut:
    """Admin. Creates the person and mails them an invitation link (valid 7 days) to choose a password;
    the link is never in the response. Roles: admin, analyst, manager (sees the teams of the employees
    reporting to their `hris_id`), employee (sees their own wallet)."""
    user = await people.add_user(
        session, caller.org_id, email=body.email, name=body.name, role=body.role, hris_id=body.hris_id
    )
    token = await people.issue_link(session, user, people.INVITATION)
    await session.commit()
    link = f"{pages(request).site.taxonomy}/invitations/{token}"
    await _mailer(request).send(
        user.email,
        "You are invited to CredStack",
        f"Hello {user.name},\n\nYou have been invited to CredStack as {user.role}.\n"
        f"Choose your password here (valid 7 days):\n{link}\n",
    )
    return _user_out(user)


@api.get("/users", response_model=Page[UserOut], summary="List the people who sign in")
async def list_users(
    caller: Admin, cursor: str | None = None, limit: int = 50, session: AsyncSession = Depends(get_session)
) -> Page[UserOut]:
    """Admin. The organisation's people; passwords and links are never shown."""
    repository = people.user_repository(session, caller.org_id)
    rows, next_cursor = await repository.page(
        repository.select(), (User.email, User.id), cursor=cursor, limit=max(1, min(limit, 200))
    )
    return Page[UserOut](items=[_user_out(row) for row in rows], next_cursor=next_cursor)


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str | None = Field(None, pattern="^(admin|analyst|manager|employee)$")
    hris_id: str | None = Field(None, min_length=1, max_length=128)
    disabled: bool | None = None


@api.patch("/users/{item_id}", response_model=UserOut, summary="Change a person's role, HRIS id or access")
async def change_user(
    item_id: uuid.UUID, body: UserChange, caller: Admin, session: AsyncSession = Depends(get_session)
) -> UserOut:
    """Admin. Disabling ends the person's sessions at once (a page token already handed out lapses
    within its 15 minutes)."""
    user = await people.user_repository(session, caller.org_id).get(item_id)
    for field, value in body.model_dump(exclude_unset=True).items():
        if value is None and field != "hris_id":
            raise Unprocessable(f"{field} cannot be null.", field=field)
        setattr(user, field, value)
    if user.disabled:
        await people.end_sessions_of(session, user.id)
    await session.commit()
    return _user_out(user)
