"""API tokens for a signed-in person's page: the dashboards read the achievement catalogue from
taxonomy_api as that person, so taxonomy_api still decides what they may see.

A page token (cookie `credstack_page`) is for another audience than the APIs', so it is exchanged at
taxonomy_api's token endpoint (RFC 8693 token exchange) for an API token with the scopes of the
person's role, while their session is live; the answer is kept until shortly before it lapses."""

import hashlib
import time

import httpx

from shared.auth import PAGE_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT
from shared.errors import Forbidden, ServiceUnavailable

EXPIRY_MARGIN_SECONDS = 30
MAX_CACHED = 4_096


class PageAuthorizations:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self._cache: dict[str, tuple[str, float]] = {}

    async def authorization(self, page_token: str) -> str:
        """An `Authorization` header value acting as the person of `page_token`."""
        key = hashlib.sha256(page_token.encode()).hexdigest()
        cached = self._cache.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        try:
            response = await self.http.post(
                "/oauth/token",
                data={
                    "grant_type": TOKEN_EXCHANGE_GRANT,
                    "subject_token": page_token,
                    "subject_token_type": PAGE_TOKEN_TYPE,
                },
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailable("The taxonomy service is unreachable; retry shortly.") from exc
        if response.status_code in (401, 403):
            raise Forbidden("Your sign-in no longer reads the taxonomy; sign in again.")
        if response.status_code != 200:
            raise ServiceUnavailable(f"The taxonomy service answered {response.status_code}; retry shortly.")
        body = response.json()
        value = f"Bearer {body['access_token']}"
        if len(self._cache) >= MAX_CACHED:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = (value, time.monotonic() + max(0, int(body["expires_in"]) - EXPIRY_MARGIN_SECONDS))
        return value
