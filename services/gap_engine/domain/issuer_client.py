"""Asks the issuer's public verifier about a credential, so the gap engine never trusts one unchecked.

The verifier is the same public `POST /v1/verify` any relying party uses: signature, issuer binding,
schema, validity window and revocation status, each reported with its reason.
"""

import re
import uuid
from datetime import datetime
from typing import Any

import httpx

from shared.errors import ServiceUnavailable

_CREDENTIAL_PATH = re.compile(r"/v1/public/credentials/([0-9a-fA-F-]{36})/?$")
MAX_ISSUER_PAGES = 5
ISSUER_PAGE_SIZE = 200


class IssuerVerifier:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def verify(self, presented: dict[str, Any], authorization: str | None = None) -> dict[str, Any]:
        """The verifier's structured result. A 4xx (the body is not a credential) is a failed
        verification, not an outage: it comes back as unverified with the verifier's own message.
        With a token the call is an authenticated one, outside the public rate limit."""
        return await self._verify(authorization, json=presented)

    async def verify_image(
        self, data: bytes, filename: str, content_type: str, authorization: str | None = None
    ) -> dict[str, Any]:
        """The same for a baked PNG/SVG: the verifier extracts the credential (`extracted`) and checks it."""
        return await self._verify(
            authorization, files={"file": (filename, data, content_type or "application/octet-stream")}
        )

    async def _verify(self, authorization: str | None, **body: Any) -> dict[str, Any]:
        headers = {"Accept": "application/json", **({"Authorization": authorization} if authorization else {})}
        try:
            response = await self.http.post("/v1/verify", headers=headers, **body)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable("The credential verifier is unreachable; retry shortly.") from exc
        if response.status_code == 200:
            return response.json()
        if 400 <= response.status_code < 500 and response.status_code not in (401, 429):
            try:
                detail = response.json().get("detail") or response.text
            except ValueError:
                detail = response.text
            return {"verified": False, "format": "unknown", "failures": [f"format: {detail}"]}
        raise ServiceUnavailable(f"The credential verifier answered {response.status_code}; retry shortly.")

    async def fetch_credential(self, url: str, authorization: str | None = None) -> dict[str, Any] | None:
        """The credential behind a webhook's `credential_url`, as the verifier takes it. Only the
        credential id is taken from the URL and it is read from the configured issuer, so a delivery
        cannot make the gap engine fetch an arbitrary address. None when it is not there (404)."""
        match = _CREDENTIAL_PATH.search(url)
        if match is None:
            return None
        path = f"/v1/public/credentials/{uuid.UUID(match.group(1))}"
        try:
            headers = {"Accept": "application/ld+json, application/vc+jwt"}
            response = await self.http.get(
                path, headers={**headers, **({"Authorization": authorization} if authorization else {})}
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailable("The issuer is unreachable; retry shortly.") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ServiceUnavailable(f"The issuer answered {response.status_code}; retry shortly.")
        if response.headers.get("content-type", "").startswith("application/vc+jwt"):
            return {"jwt": response.text.strip()}
        return response.json()

    async def credentials_page(
        self, authorization: str, *, issued_since: datetime | None, cursor: str | None, limit: int
    ) -> dict[str, Any]:
        """One page of the caller's organisation's credentials at the issuer, oldest first."""
        params: dict[str, Any] = {"limit": limit}
        if issued_since is not None:
            params["issued_since"] = issued_since.isoformat()
        if cursor:
            params["cursor"] = cursor
        try:
            response = await self.http.get(
                "/v1/credentials", params=params, headers={"Authorization": authorization, "Accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailable("The issuer is unreachable; retry shortly.") from exc
        if response.status_code != 200:
            raise ServiceUnavailable(f"The issuer answered {response.status_code} to the credential listing.")
        return response.json()

    async def own_issuer_ref(self, issuer_did: str, authorization: str) -> uuid.UUID | None:
        """The badge issuer's UUID of the caller's organisation's issuer that credentials name
        `issuer_did` (its current DID, or a retired key's did:key), read with the caller's token.
        None when it is not one of theirs or the token may not list issuers (no credentials:read)."""
        cursor: str | None = None
        for _ in range(MAX_ISSUER_PAGES):
            params: dict[str, Any] = {"limit": ISSUER_PAGE_SIZE, **({"cursor": cursor} if cursor else {})}
            try:
                response = await self.http.get(
                    "/v1/issuers", params=params, headers={"Authorization": authorization, "Accept": "application/json"}
                )
            except httpx.HTTPError as exc:
                raise ServiceUnavailable("The issuer is unreachable; retry shortly.") from exc
            if response.status_code in (401, 403, 404):
                return None
            if response.status_code != 200:
                raise ServiceUnavailable(f"The issuer answered {response.status_code}; retry shortly.")
            page = response.json()
            for issuer in page.get("items", []):
                identities = {issuer.get("did")} | {
                    str(key["verification_method"]).split("#")[0]
                    for key in issuer.get("keys", [])
                    if key.get("verification_method")
                }
                if issuer_did in identities:
                    return uuid.UUID(issuer["id"])
            cursor = page.get("next_cursor")
            if not cursor:
                return None
        return None
