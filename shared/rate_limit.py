"""Per-client rate limits for public routes, counted in the service's database.

Every replica of a service shares its database, so a budget counted there is one budget however many
replicas answer (DESIGN.md §2: nothing a second replica needs is held in process memory). A replica
claims units with a single upsert in its own autocommit transaction, before the request's session
opens, so it holds a row lock only for that statement and never waits behind the request's own work.

A large budget is claimed in blocks: a replica's first claim for a client in a window is one unit, and
each further claim doubles, up to 1/64 of the budget (`LEASE_FRACTION`). The replica spends a block
from memory and asks the database again when it is gone, so a verification burst costs one upsert per
block, not per request, while a client seen once claims one unit (short-lived processes waste little).
The database never grants more than the budget, so replicas together never allow more than it. A block
a replica has not spent when the client turns to another replica (or when it stops) is lost for that
window: each further replica may allow up to one block less (at most 1/64 of the budget, and never
more than it had already spent on that client). A budget under 128 is claimed one unit at a time.
Once every unit of a window is claimed, the replica refuses that client from memory until the window
ends: a refused flood costs the database nothing.

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
LEASE_FRACTION = 64
MAX_LEASES = 100_000  # clients with a block in hand; past it they are all dropped (unspent units lost)

_CLAIM = text(
    f"INSERT INTO {TABLE} (bucket, window_start, count) VALUES (:bucket, :window_start, :units) "  # noqa: S608 - a constant
    f"ON CONFLICT (bucket, window_start) DO UPDATE SET count = {TABLE}.count + :units RETURNING count"
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
        self.block = max(1, per_minute // LEASE_FRACTION)
        self._pruned_before = 0
        # (bucket, window_start) -> [units granted and not yet spent, count claimed, size of the next claim]
        self._leases: dict[tuple[str, int], list[int]] = {}

    async def spend(self, database: Database, client: str, now: float | None = None) -> Spent:
        """`count` is the units claimed from the database in this window, by every replica, when this
        one last asked (with blocks, more than the requests answered so far)."""
        moment = time.time() if now is None else now
        window_start = int(moment // WINDOW_SECONDS) * WINDOW_SECONDS
        retry_after = max(1, math.ceil(window_start + WINDOW_SECONDS - moment))
        bucket = f"{self.budget}:{client}"[:MAX_BUCKET_LENGTH]
        lease = self._leases.get((bucket, window_start))
        if lease is not None:
            if lease[0] > 0:
                lease[0] -= 1
                return Spent(True, lease[1], retry_after)
            if lease[1] >= self.per_minute:  # every unit of the window is claimed: nothing left to ask
                return Spent(False, lease[1], retry_after)
        units = lease[2] if lease is not None else 1
        count = await self._claim(database, bucket, window_start, units)
        granted = max(0, min(units, self.per_minute - (count - units)))
        self._keep_lease((bucket, window_start), max(0, granted - 1), count, min(self.block, 2 * units))
        return Spent(granted > 0, count, retry_after)

    async def _claim(self, database: Database, bucket: str, window_start: int, units: int) -> int:
        async with database.autocommit_engine.connect() as connection:
            if window_start > self._pruned_before:
                self._pruned_before = window_start
                await connection.execute(_PRUNE, {"window_start": window_start})
                self._leases = {key: lease for key, lease in self._leases.items() if key[1] >= window_start}
            values = {"bucket": bucket, "window_start": window_start, "units": units}
            return (await connection.execute(_CLAIM, values)).scalar_one()

    def _keep_lease(self, key: tuple[str, int], units: int, count: int, next_claim: int) -> None:
        if len(self._leases) >= MAX_LEASES:
            self._leases.clear()
        lease = self._leases.setdefault(key, [0, count, next_claim])
        lease[0] += units
        lease[1] = max(lease[1], count)
        lease[2] = max(lease[2], next_claim)


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
