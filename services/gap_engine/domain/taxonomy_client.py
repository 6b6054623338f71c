"""Reads roles from taxonomy_api over HTTP with the caller's own token.

Forwarding the caller's token means taxonomy_api decides what the caller may see: another
organisation's role is a 404 there, so it can never be copied into this organisation's snapshot.
"""

import re
import uuid
from typing import Any

import httpx

from shared.errors import Forbidden, NotFound, ServiceUnavailable

_CERTIFIED_LEVEL = re.compile(r"\blevel\s+(\d+)\b", re.IGNORECASE)


def certified_skills(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Certified skill levels from an achievement's public Open Badges JSON: its alignments with
    targetFramework "CredStack" carry the skill id as targetCode and "Certified at level N" as
    targetDescription. Entries that do not parse (other frameworks, no level) are skipped."""
    skills: dict[str, int] = {}
    alignments = document.get("alignment")
    for alignment in alignments if isinstance(alignments, list) else []:
        if not isinstance(alignment, dict) or alignment.get("targetFramework") != "CredStack":
            continue
        description = alignment.get("targetDescription")
        level = _CERTIFIED_LEVEL.search(description) if isinstance(description, str) else None
        try:
            skill_id = uuid.UUID(str(alignment.get("targetCode")))
        except ValueError:
            continue
        if level is not None:
            skills[str(skill_id)] = max(int(level.group(1)), skills.get(str(skill_id), 0))
    return [{"skill_id": skill_id, "level": level} for skill_id, level in skills.items()]


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

    async def public_achievement(self, achievement_id: uuid.UUID) -> dict[str, Any] | None:
        """The achievement's public Open Badges JSON, for callers without a token (webhook deliveries),
        with `skills` parsed from its alignments; None when taxonomy_api has no such achievement."""
        try:
            response = await self.http.get(
                f"/v1/public/achievements/{achievement_id}", headers={"Accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailable("The taxonomy service is unreachable; retry shortly.") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ServiceUnavailable(f"The taxonomy service answered {response.status_code}; retry shortly.")
        document = response.json()
        return {**document, "skills": certified_skills(document)}
