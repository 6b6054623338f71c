"""Per-client rate limits for public routes, counted in the service's database.

Every replica of a service shares its database, so a budget counted there is one budget however many
replicas answer (DESIGN.md §2: nothing a second replica needs is held in process memory). Each request
spends one unit with a single upsert in its own autocommit transaction, before the request's session
opens, so it holds a row lock only for that statement and never waits behind the request's own work.

Windows are fixed and aligned to the wall clock (one minute), so every replica agrees on where a window
ends and the 429's Retry-After says how many seconds remain of it. Each service has the table
`rate_limit_windows` (RateLimitWindowMixin); windows before the current one are deleted by whichever
process first sees a new window.
"""

import math
import time
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import BigInteger, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Database
from shared.errors import TooManyRequests

WINDOW_SECONDS = 60
MAX_BUCKET_LENGTH = 120
TABLE = "rate_limit_windows"

_SPEND = text(
    f"INSERT INTO {TABLE} (bucket, window_start, count) VALUES (:bucket, :window_start, 1) "  # noqa: S608 - a constant
    f"ON CONFLICT (bucket, window_start) DO UPDATE SET count = {TABLE}.count + 1 RETURNING count"
)
_PRUNE = text(f"DELETE FROM {TABLE} WHERE window_start < :window_start")  # noqa: S608 - a constant


class RateLimitWindowMixin:
    """Each service declares its own `rate_limit_windows` table from this (services never share tables)."""

    bucket: Mapped[str] = mapped_column(String(MAX_BUCKET_LENGTH), primary_key=True)
    # Start of the window in seconds since the epoch (a multiple of WINDOW_SECONDS).
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


@dataclass(frozen=True, slots=True)
class Spent:
    allowed: bool
    count: int
    retry_after: int
    """Whole seconds until the window ends (at least 1): when a refused caller may come back."""


class SharedWindowLimiter:
    """`per_minute` requests per client in each clock-aligned minute, counted in the database.

    `budget` names the budget (anonymous callers per address, callers with a token per organisation);
    two limiters with the same budget on one database count together, which is what replicas need."""

    def __init__(self, per_minute: int, *, budget: str = "public") -> None:
        self.per_minute = per_minute
        self.budget = budget
        self._pruned_before = 0

    async def spend(self, database: Database, client: str, now: float | None = None) -> Spent:
        moment = time.time() if now is None else now
        window_start = int(moment // WINDOW_SECONDS) * WINDOW_SECONDS
        bucket = f"{self.budget}:{client}"[:MAX_BUCKET_LENGTH]
        async with database.autocommit_engine.connect() as connection:
            if window_start > self._pruned_before:
                self._pruned_before = window_start
                await connection.execute(_PRUNE, {"window_start": window_start})
            count = (await connection.execute(_SPEND, {"bucket": bucket, "window_start": window_start})).scalar_one()
        retry_after = max(1, math.ceil(window_start + WINDOW_SECONDS - moment))
        return Spent(count <= self.per_minute, count, retry_after)


def app_limiter(request: Request, attribute: str, per_minute: int, budget: str) -> SharedWindowLimiter:
    """The app's limiter for one budget, made on first use (settings are read then, not at import)."""
    state = request.app.state
    limiter = getattr(state, attribute, None)
    if limiter is None:
        limiter = SharedWindowLimiter(per_minute, budget=budget)
        setattr(state, attribute, limiter)
    return limiter


async def public_rate_limit(request: Request) -> None:
    """Dependency for public routes: 429 with Retry-After past the per-minute budget.

    Anonymous callers share a budget per address. A caller with a valid access token (another of our
    services, an HRIS) is counted per organisation against its own, larger budget, so service-to-service
    traffic never competes with the public for the public limit; a bad token is a 401, not anonymous."""
    state = request.app.state
    authorization = request.headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        principal = state.token_verifier.verify(authorization[7:].strip())
        limiter = app_limiter(
            request, "authenticated_limiter", state.settings.authenticated_rate_limit_per_minute, "organisation"
        )
        spent = await limiter.spend(state.database, str(principal.org_id))
        if not spent.allowed:
            raise TooManyRequests(
                f"Too many requests for this organisation; retry in {spent.retry_after} s.",
                retry_after=spent.retry_after,
            )
        return
    limiter = app_limiter(request, "public_limiter", state.settings.public_rate_limit_per_minute, "public")
    spent = await limiter.spend(state.database, request.client.host if request.client else "unknown")
    if not spent.allowed:
        raise TooManyRequests(
            f"Too many requests to public endpoints; retry in {spent.retry_after} s.", retry_after=spent.retry_after
        )
