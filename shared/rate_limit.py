"""A per-client-address rate limit for public routes.

Kept in process memory on purpose: it sheds abusive load per replica and holds nothing a second
replica needs (DESIGN.md §2); a shared limit belongs in front of the service (ingress).
"""

import time
from collections import OrderedDict

from fastapi import Request

from shared.errors import TooManyRequests

_MAX_TRACKED_CLIENTS = 10_000


class FixedWindowLimiter:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.windows: OrderedDict[str, tuple[int, int]] = OrderedDict()

    def allow(self, client: str, now: float | None = None) -> bool:
        window = int((now if now is not None else time.monotonic()) // 60)
        start, count = self.windows.get(client, (window, 0))
        if start != window:
            start, count = window, 0
        self.windows[client] = (start, count + 1)
        self.windows.move_to_end(client)
        while len(self.windows) > _MAX_TRACKED_CLIENTS:
            self.windows.popitem(last=False)
        return count < self.per_minute


async def public_rate_limit(request: Request) -> None:
    """Dependency for public routes: 429 with Retry-After past the per-minute budget.

    Anonymous callers share a budget per address. A caller with a valid access token (another of our
    services, an HRIS) is counted per organisation against its own, larger budget, so service-to-service
    traffic never competes with the public for the public limit; a bad token is a 401, not anonymous."""
    state = request.app.state
    authorization = request.headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        principal = state.token_verifier.verify(authorization[7:].strip())
        limiter = getattr(state, "authenticated_limiter", None)
        if limiter is None:
            limiter = state.authenticated_limiter = FixedWindowLimiter(
                state.settings.authenticated_rate_limit_per_minute
            )
        if not limiter.allow(f"org:{principal.org_id}"):
            raise TooManyRequests("Too many requests for this organisation; retry in a minute.", retry_after=60)
        return
    limiter = getattr(state, "public_limiter", None)
    if limiter is None:
        limiter = state.public_limiter = FixedWindowLimiter(state.settings.public_rate_limit_per_minute)
    client = request.client.host if request.client else "unknown"
    if not limiter.allow(client):
        raise TooManyRequests("Too many requests to public endpoints; retry in a minute.", retry_after=60)
