"""Reads roles from taxonomy_api over HTTP with the caller's own token.

Forwarding the caller's token means taxonomy_api decides what the caller may see: another
organisation's role is a 404 there, so it can never be copied into this organisation's snapshot.
"""

import re
import uuid
from typing import Any

import httpx

from shared.errors import Forbidden, NotFound, ServiceUnavailable, Unprocessable
from shared.http_cache import CachedRead, ETagReadCache

_CERTIFIED_LEVEL = re.compile(r"\blevel\s+(\d+)\b", re.IGNORECASE)


def certified_skills(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Certified skill levels from an achievement's public Open Badges JSON: its alignments with
    targetFramework "CredStack" carry the skill id as targetCode and "Certified at level N" as
    targetDescription, and its name as targetName. Entries that do not parse (other frameworks, no
    level) are skipped."""
    skills: dict[str, int] = {}
    names: dict[str, str | None] = {}
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
            name = alignment.get("targetName")
            names[str(skill_id)] = name[:200] if isinstance(name, str) else None
    return [{"skill_id": skill_id, "level": level, "skill_name": names[skill_id]} for skill_id, level in skills.items()]


# Catalogue pages and definitions (taxonomy_skills.py) together; each entry is one response body.
MAX_CACHED_RESPONSES = 4_096


class TaxonomyClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        # TTL 0: every read is revalidated with the caller's token, so a taxonomy change is seen at the
        # next read and taxonomy_api still authorizes each one; an unchanged body costs a 304.
        self.reads = ETagReadCache(http, service="taxonomy", max_entries=MAX_CACHED_RESPONSES)

    async def role(self, role_id: uuid.UUID, authorization: str) -> dict[str, Any]:
        try:
            response = await self.http.get(
                f"/v1/roles/{role_id}?version=published",
                headers={"Authorization": authorization, "Accept": "application/json"},
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
                f"/v1/achievements/{achievement_id}?version=published",
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

    # --- the achievement catalogue and pathways, for recommendations and KPI linkage ----------------
    # List pages go through `reads` (shared/http_cache.py): kept per path and token, revalidated with
    # If-None-Match at every read.

    CATALOGUE_PAGE_SIZE = 200
    MAX_CATALOGUE_ITEMS = 2_000

    async def achievements_catalogue(self, org_id: uuid.UUID, authorization: str) -> list[dict[str, Any]]:
        """Every achievement of the caller's organisation (with its certified skill levels)."""
        return await self._list_all("/v1/achievements", "achievements", authorization)

    async def achievement_names(self, org_id: uuid.UUID, authorization: str) -> dict[uuid.UUID, str]:
        """Achievement names by id, for reports that name what they count (KPI linkage)."""
        return {
            uuid.UUID(str(item["id"])): item["name"]
            for item in await self.achievements_catalogue(org_id, authorization)
        }

    async def pathways_catalogue(self, org_id: uuid.UUID, authorization: str) -> list[dict[str, Any]]:
        """Every pathway of the caller's organisation: steps with their prerequisites, and the capstone."""
        return await self._list_all("/v1/pathways", "pathways", authorization)

    async def _list_all(self, path: str, noun: str, authorization: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": self.CATALOGUE_PAGE_SIZE}
            if cursor:
                params["cursor"] = cursor
            page = refused_or_body(await self.reads.get(path, authorization=authorization, params=params))
            items.extend(page.get("items", []))
            if len(items) > self.MAX_CATALOGUE_ITEMS:
                raise Unprocessable(
                    f"The organisation has more than {self.MAX_CATALOGUE_ITEMS} {noun}; this analysis is bounded "
                    "to catalogues of that size."
                )
            cursor = page.get("next_cursor")
            if not cursor:
                return items


def refused_or_body(read: CachedRead) -> Any:
    """The JSON body of a 200; a refused token as 403, any other answer as 503 (404 is the caller's to read)."""
    if read.status_code == 200:
        return read.json()
    if read.status_code in (401, 403):
        raise Forbidden("The taxonomy service refused the caller's token; it needs the taxonomy:read scope.")
    raise ServiceUnavailable(f"The taxonomy service answered {read.status_code}; retry shortly.")
