"""Reads roles from taxonomy_api over HTTP with the caller's own token.

Forwarding the caller's token means taxonomy_api decides what the caller may see: another
organisation's role is a 404 there, so it can never be copied into this organisation's snapshot.
"""

import uuid
from typing import Any

import httpx

from shared.errors import Forbidden, NotFound, ServiceUnavailable


class TaxonomyClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def role(self, role_id: uuid.UUID, authorization: str) -> dict[str, Any]:
        try:
            response = await self.http.get(
                f"/v1/roles/{role_id}", headers={"Authorization": authorization, "Accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailable("The taxonomy service is unreachable; retry shortly.") from exc
        if response.status_code == 404:
            raise NotFound(f"No role with id {role_id} in this organisation's taxonomy.")
        if response.status_code in (401, 403):
            raise Forbidden("The taxonomy service refused the caller's token; it needs the taxonomy:read scope.")
        if response.status_code != 200:
            raise ServiceUnavailable(f"The taxonomy service answered {response.status_code}; retry shortly.")
        return response.json()

    async def achievement(self, achievement_id: uuid.UUID, authorization: str) -> dict[str, Any] | None:
        """The achievement with its certified skill levels; None when this organisation has no such one."""
        try:
            response = await self.http.get(
                f"/v1/achievements/{achievement_id}",
                headers={"Authorization": authorization, "Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailable("The taxonomy service is unreachable; retry shortly.") from exc
        if response.status_code == 404:
            return None
        if response.status_code in (401, 403):
            raise Forbidden("The taxonomy service refused the caller's token; it needs the taxonomy:read scope.")
        if response.status_code != 200:
            raise ServiceUnavailable(f"The taxonomy service answered {response.status_code}; retry shortly.")
        return response.json()
