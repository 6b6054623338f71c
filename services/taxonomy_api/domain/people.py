"""People who sign in to the pages: invitations, passwords, sessions, resets and the sign-in throttle.

Passwords are hashed with argon2id (argon2-cffi's defaults) off the event loop. Sessions, invitation
and reset links are random tokens of which only a SHA-256 is stored, so a copy of the database opens
no session and redeems no link. Links are single use and expire; a reset ends every session of the
person. Failed sign-ins are rows, so the throttle holds across replicas and restarts.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.tables import SignInFailure, User, UserLink, UserSession
from shared.db import utcnow
from shared.errors import Conflict, NotFound, TooManyRequests, Unauthorized, Unprocessable
from shared.repository import TenantRepository
from shared.web.session import ROLES

INVITATION = "invitation"
RESET = "reset"
LINK_LIFETIMES = {INVITATION: timedelta(days=7), RESET: timedelta(hours=1)}
PASSWORD_MIN, PASSWORD_MAX = 12, 256
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_ADDRESS = 50

_hasher = PasswordHasher()
# Verified against when the email is unknown, so an unknown address takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def user_repository(session: AsyncSession, org_id: uuid.UUID) -> TenantRepository[User]:
    return TenantRepository(session, org_id, User, "user")


def check_password(password: str) -> str:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise Unprocessable(f"A password has {PASSWORD_MIN} to {PASSWORD_MAX} characters.", field="password")
    return password


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, check_password(password))


async def _password_matches(password_hash: str | None, password: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


async def add_user(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    email: str,
    name: str,
    role: str,
    hris_id: str | None = None,
    password: str | None = None,
) -> User:
    """A new person; without a password they sign in only after accepting an invitation link."""
    if role not in ROLES:
        raise Unprocessable(f"Unknown role {role!r}; one of {', '.join(ROLES)}.", field="role")
    email = normalise_email(email)
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"A user with the email {email} already exists.")
    user = user_repository(session, org_id).add(
        User(
            email=email,
            name=name,
            role=role,
            hris_id=hris_id,
            password_hash=await hash_password(password) if password else None,
        )
    )
    await session.flush()
    return user


async def issue_link(session: AsyncSession, user: User, purpose: str) -> str:
    """A single-use link token for `purpose`; earlier unused links of the same purpose stop working."""
    await session.execute(
        update(UserLink)
        .where(UserLink.user_id == user.id, UserLink.purpose == purpose, UserLink.used_at.is_(None))
        .values(used_at=utcnow())
    )
    token = secrets.token_urlsafe(32)
    session.add(
        UserLink(
            user_id=user.id, purpose=purpose, token_hash=_digest(token), expires_at=utcnow() + LINK_LIFETIMES[purpose]
        )
    )
    await session.flush()
    return token


async def user_of_link(session: AsyncSession, token: str, purpose: str) -> tuple[UserLink, User]:
    """The link and its person, if the link is unused, unexpired and for `purpose`."""
    row = (
        await session.execute(
            select(UserLink, User)
            .join(User, User.id == UserLink.user_id)
            .where(UserLink.token_hash == _digest(token), UserLink.purpose == purpose)
        )
    ).first()
    if row is None or row[0].used_at is not None or row[0].expires_at <= utcnow() or row[1].disabled:
        raise NotFound("This link is not valid: it was used already, has expired, or was replaced by a newer one.")
    return row[0], row[1]


async def redeem_link(session: AsyncSession, token: str, purpose: str, password: str) -> User:
    """Sets the person's password from an invitation or reset link, once; a reset ends their sessions."""
    link, user = await user_of_link(session, token, purpose)
    user.password_hash = await hash_password(password)
    link.used_at = utcnow()
    await end_sessions_of(session, user.id)
    await session.flush()
    return user


async def request_reset(session: AsyncSession, email: str) -> tuple[User, str] | None:
    """A reset link for an active person with that email, else None (the caller answers the same either way)."""
    user = await session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or user.disabled:
        return None
    return user, await issue_link(session, user, RESET)


async def _throttled_until(
    session: AsyncSession, column: object, value: str, since: datetime, limit: int
) -> datetime | None:
    """When the sign-ins of `value` stop being throttled: the moment the `limit`-th most recent failure
    leaves the window (None when fewer than `limit` failed within it)."""
    at = await session.scalar(
        select(SignInFailure.at)
        .where(column == value, SignInFailure.at > since)
        .order_by(SignInFailure.at.desc())
        .offset(limit - 1)
        .limit(1)
    )
    return None if at is None else at + THROTTLE_WINDOW


async def authenticate(session: AsyncSession, email: str, password: str, address: str) -> User:
    """The person with this email and password; throttled per email and per client address (failures are
    rows in the database, so every replica counts the same ones)."""
    email = normalise_email(email)[:320]
    address = address[:64]
    now = utcnow()
    since = now - THROTTLE_WINDOW
    until = [
        moment
        for moment in (
            await _throttled_until(session, SignInFailure.email, email, since, MAX_FAILURES_PER_EMAIL),
            await _throttled_until(session, SignInFailure.address, address, since, MAX_FAILURES_PER_ADDRESS),
        )
        if moment is not None
    ]
    if until:
        seconds = max(1, math.ceil((max(until) - now).total_seconds()))
        raise TooManyRequests(
            f"Too many failed sign-ins. Try again in {math.ceil(seconds / 60)} minutes, or reset your password.",
            retry_after=seconds,
        )
    user = await session.scalar(select(User).where(User.email == email))
    matches = await _password_matches(user.password_hash if user else None, password)
    if user is None or user.disabled or not matches:
        session.add(SignInFailure(email=email, address=address, at=now))
        await session.execute(delete(SignInFailure).where(SignInFailure.at < now - 4 * THROTTLE_WINDOW))
        await session.commit()
        raise Unauthorized("The email or password is not right.")
    await session.execute(delete(SignInFailure).where(SignInFailure.email == email))
    return user


@dataclass(frozen=True, slots=True)
class OpenSession:
    row: UserSession
    user: User


async def start_session(session: AsyncSession, user: User, lifetime: timedelta) -> tuple[UserSession, str]:
    token = secrets.token_urlsafe(32)
    row = UserSession(
        user_id=user.id,
        token_hash=_digest(token),
        csrf_token=secrets.token_urlsafe(24),
        expires_at=utcnow() + lifetime,
    )
    session.add(row)
    await session.flush()
    return row, token


async def open_session(session: AsyncSession, token: str | None) -> OpenSession | None:
    """The live session behind a cookie: not ended, not expired, its person not disabled."""
    if not token or len(token) > 256:
        return None
    row = (
        await session.execute(
            select(UserSession, User)
            .join(User, User.id == UserSession.user_id)
            .where(UserSession.token_hash == _digest(token))
        )
    ).first()
    if row is None or row[0].ended_at is not None or row[0].expires_at <= utcnow() or row[1].disabled:
        return None
    return OpenSession(row=row[0], user=row[1])


async def user_of_live_session(session: AsyncSession, session_id: uuid.UUID, user_id: uuid.UUID) -> User | None:
    """The person of a session a page token names, if it is still live (not ended, not expired, the
    person not disabled): a signed-out page token is then worth nothing to a token exchange."""
    row = (
        await session.execute(
            select(UserSession, User)
            .join(User, User.id == UserSession.user_id)
            .where(UserSession.id == session_id, UserSession.user_id == user_id)
        )
    ).first()
    if row is None or row[0].ended_at is not None or row[0].expires_at <= utcnow() or row[1].disabled:
        return None
    return row[1]


async def end_session(session: AsyncSession, token: str | None) -> None:
    if token and len(token) <= 256:
        await session.execute(
            update(UserSession)
            .where(UserSession.token_hash == _digest(token), UserSession.ended_at.is_(None))
            .values(ended_at=utcnow())
        )


async def end_sessions_of(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
