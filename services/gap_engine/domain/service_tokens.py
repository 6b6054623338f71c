"""Access tokens the gap engine gets for itself, with an organisation's API client, to call the issuer
as an authenticated caller: verification and re-checks then never compete with the public for the
public rate limit, and the issuer knows whose credentials are being asked about."""

import time

import httpx

from shared.errors import ServiceUnavailable

# A token is reused until this close to its expiry, so a call never starts with one about to lapse.
EXPIRY_MARGIN_SECONDS = 30
SCOPE = "credentials:read"


class ServiceTokens:
    """Client-credentials tokens from taxonomy_api's token endpoint, cached per client until expiry."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self._cache: dict[str, tuple[str, float]] = {}

    async def authorization(self, client_id: str, client_secret: str) -> str:
        """An `Authorization` header value for this client. A refused client is an operator's error
        the event cannot recover from by itself, so it is an outage (the issuer delivers again)."""
        cached = self._cache.get(client_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        try:
            response = await self.http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailable("The token endpoint is unreachable; retry shortly.") from exc
        if response.status_code != 200:
            raise ServiceUnavailable(
                f"The webhook source's API client {client_id} was refused a token ({response.status_code}); "
                "an admin must register a working client."
            )
        body = response.json()
        value = f"Bearer {body['access_token']}"
        lifetime = max(0, int(body.get("expires_in", 60)) - EXPIRY_MARGIN_SECONDS)
        self._cache[client_id] = (value, time.monotonic() + lifetime)
        return value
