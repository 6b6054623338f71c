"""Reads achievements from taxonomy_api over HTTP, remembering responses by ETag.

The authenticated read is made with the caller's own token: taxonomy_api then answers 404 for
another organisation's achievement, so the issuer never issues one organisation's badge for another.
"""

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from shared.errors import Forbidden, NotFound, ServiceUnavailable

_MAX_CACHED_RESPONSES = 2_000
_PATHWAY_PAGE = 200
_MAX_PATHWAY_PAGES = 50


@dataclass(frozen=True, slots=True)
class AchievementDefinition:
    """What issuance needs: the definition (pass mark, rubric) and its public OB 3.0 Achievement."""

    definition: dict[str, Any]
    ob3: dict[str, Any]


class TaxonomyClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self._cache: OrderedDict[tuple[str, str], tuple[str, Any]] = OrderedDict()

    async def achievement(self, achievement_id: uuid.UUID, authorization: str) -> AchievementDefinition:
        definition = await self._get_json(f"/v1/achievements/{achievement_id}", authorization)
        ob3 = await self._get_json(f"/v1/public/achievements/{achievement_id}", None)
        return AchievementDefinition(definition=definition, ob3=ob3)

    async def pathways_containing(self, achievement_id: uuid.UUID, authorization: str) -> list[dict[str, Any]]:
        """The caller's organisation's pathways with a capstone that have `achievement_id` as a step."""
        found, cursor = [], None
        for _ in range(_MAX_PATHWAY_PAGES):
            query = f"?limit={_PATHWAY_PAGE}" + (f"&cursor={quote(cursor, safe='')}" if cursor else "")
            page = await self._get_json(f"/v1/pathways{query}", authorization)
            for pathway in page["items"]:
                steps = {step["achievement_id"] for step in pathway["steps"]}
                if pathway.get("capstone_achievement_id") and str(achievement_id) in steps:
                    found.append(pathway)
            cursor = page.get("next_cursor")
            if not cursor:
                break
        return found

    async def pathway_progress(
        self, pathway_id: uuid.UUID, held: list[uuid.UUID], authorization: str
    ) -> dict[str, Any]:
        """taxonomy_api's judgement of the pathway for a learner holding `held` (it owns the rules)."""
        query = "&".join(f"held={achievement}" for achievement in sorted(map(str, held)))
        return await self._get_json(f"/v1/pathways/{pathway_id}/progress?{query}", authorization)

    async def _get_json(self, path: str, authorization: str | None) -> Any:
        # Cached per token for authenticated reads: whether a caller may see a body is taxonomy_api's call.
        cache_key = (path, authorization or "")
        cached = self._cache.get(cache_key)
        headers = {"Accept": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        if cached:
            headers["If-None-Match"] = cached[0]
        try:
            response = await self.http.get(path, headers=headers)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable("The taxonomy service is unreachable; retry shortly.") from exc
        if response.status_code == 304 and cached:
            self._cache.move_to_end(cache_key)
            return cached[1]
        if response.status_code == 404:
            raise NotFound(f"No {path.split('?')[0]} in this organisation's taxonomy.")
        if response.status_code in (401, 403):
            raise Forbidden(
                "The taxonomy service refused the caller's token; it needs the taxonomy:read scope so the "
                "issuer can confirm the achievement belongs to the caller's organisation."
            )
        if response.status_code != 200:
            raise ServiceUnavailable(f"The taxonomy service answered {response.status_code}; retry shortly.")
        body = response.json()
        etag = response.headers.get("etag")
        if etag:
            self._cache[cache_key] = (etag, body)
            while len(self._cache) > _MAX_CACHED_RESPONSES:
                self._cache.popitem(last=False)
        return body
