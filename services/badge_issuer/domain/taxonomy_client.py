"""Reads achievements and pathways from taxonomy_api over HTTP, cached briefly and revalidated by ETag.

The authenticated read is made with the caller's own token: taxonomy_api then answers 404 for
another organisation's achievement, so the issuer never issues one organisation's badge for another.
Cached bodies are therefore keyed by the token as well as the path: a body taxonomy_api allowed one
token to see is never served to another (a platform's token lives for an hour, so in practice this is
a cache per client of an organisation).

Freshness: a body is served from memory for `cache_ttl_seconds` (default 5 s, settings field
`taxonomy_cache_ttl_seconds`); after that the next read revalidates it with If-None-Match, so a change
in the taxonomy shows in issuance within that bound. 0 revalidates every read. Concurrent reads of the
same stale entry make one request (single flight), so a burst of issuances costs taxonomy_api one
round trip, not one per request. Each read parses the stored bytes again, so no caller can alter what
another gets. These rules are shared/http_cache.py's, which the gap engine's reads use too.
"""

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from shared.errors import Forbidden, NotFound, ServiceUnavailable
from shared.http_cache import ETagReadCache, SingleFlight

DEFAULT_CACHE_TTL_SECONDS = 5.0
_MAX_CACHED_RESPONSES = 2_000
_PATHWAY_PAGE = 200
_MAX_PATHWAY_PAGES = 50


@dataclass(frozen=True, slots=True)
class AchievementDefinition:
    """What issuance needs: the definition (pass mark, rubric) and its public OB 3.0 Achievement."""

    definition: dict[str, Any]
    ob3: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PathwayIndex:
    """The organisation's pathways that have a capstone, by the achievements that are their steps."""

    by_step: dict[str, list[dict[str, Any]]]

    def containing(self, achievement_id: uuid.UUID) -> list[dict[str, Any]]:
        return self.by_step.get(str(achievement_id), [])


class TaxonomyClient:
    def __init__(self, http: httpx.AsyncClient, *, cache_ttl_seconds: float = DEFAULT_CACHE_TTL_SECONDS) -> None:
        self.http = http
        self.reads = ETagReadCache(
            http, service="taxonomy", ttl_seconds=cache_ttl_seconds, max_entries=_MAX_CACHED_RESPONSES
        )
        self._pathway_indexes: OrderedDict[str, tuple[float, PathwayIndex]] = OrderedDict()
        self._index_builds = SingleFlight()

    @property
    def cache_ttl_seconds(self) -> float:
        """How long a body (and the pathway index) is served from memory before it is revalidated."""
        return self.reads.ttl_seconds

    @cache_ttl_seconds.setter
    def cache_ttl_seconds(self, seconds: float) -> None:
        self.reads.ttl_seconds = max(0.0, seconds)

    async def achievement(self, achievement_id: uuid.UUID, authorization: str) -> AchievementDefinition:
        # The published version's definition: a draft never reaches a credential.
        definition = await self._get_json(f"/v1/achievements/{achievement_id}?version=published", authorization)
        ob3 = await self._get_json(f"/v1/public/achievements/{achievement_id}", None)
        return AchievementDefinition(definition=definition, ob3=ob3)

    async def pathways_containing(self, achievement_id: uuid.UUID, authorization: str) -> list[dict[str, Any]]:
        """The caller's organisation's pathways with a capstone that have `achievement_id` as a step."""
        return (await self.pathway_index(authorization)).containing(achievement_id)

    async def pathway_index(self, authorization: str) -> PathwayIndex:
        """Every pathway with a capstone, indexed by step; rebuilt (pages revalidated by ETag) after the TTL."""
        cached = self._pathway_indexes.get(authorization)
        if cached is not None and time.monotonic() < cached[0]:
            return cached[1]
        return await self._index_builds.run(authorization, lambda: self._build_index(authorization))

    async def _build_index(self, authorization: str) -> PathwayIndex:
        by_step: dict[str, list[dict[str, Any]]] = {}
        cursor = None
        for _ in range(_MAX_PATHWAY_PAGES):
            query = f"?limit={_PATHWAY_PAGE}" + (f"&cursor={quote(cursor, safe='')}" if cursor else "")
            page = await self._get_json(f"/v1/pathways{query}", authorization)
            for pathway in page["items"]:
                if not pathway.get("capstone_achievement_id"):
                    continue
                for step in {step["achievement_id"] for step in pathway["steps"]}:
                    by_step.setdefault(step, []).append(pathway)
            cursor = page.get("next_cursor")
            if not cursor:
                break
        index = PathwayIndex(by_step)
        self._pathway_indexes[authorization] = (time.monotonic() + self.cache_ttl_seconds, index)
        self._pathway_indexes.move_to_end(authorization)
        while len(self._pathway_indexes) > _MAX_CACHED_RESPONSES:
            self._pathway_indexes.popitem(last=False)
        return index

    async def pathway_progress(
        self, pathway_id: uuid.UUID, held: list[uuid.UUID], authorization: str | None
    ) -> dict[str, Any]:
        """taxonomy_api's judgement of the pathway for a learner holding `held` (it owns the rules);
        with no authorization, through its public route (a wallet page has no API token)."""
        query = "&".join(f"held={achievement}" for achievement in sorted(map(str, held)))
        prefix = "/v1/pathways" if authorization else "/v1/public/pathways"
        return await self._get_json(f"{prefix}/{pathway_id}/progress?{query}", authorization)

    async def public_pathways_with_step(self, achievement_id: uuid.UUID) -> list[dict[str, Any]]:
        """The pathways `achievement_id` is a step of (public, like the achievement itself)."""
        return (await self._get_json(f"/v1/public/achievements/{achievement_id}/pathways", None))["items"]

    async def public_achievement(self, achievement_id: uuid.UUID) -> dict[str, Any]:
        """The achievement's public Open Badges 3.0 JSON (its name, for a capstone not held yet)."""
        return await self._get_json(f"/v1/public/achievements/{achievement_id}", None)

    def forget(self) -> None:
        """Drop every cached body and index (the next reads go to taxonomy_api)."""
        self.reads.forget()
        self._pathway_indexes.clear()

    async def _get_json(self, path: str, authorization: str | None) -> Any:
        read = await self.reads.get(path, authorization=authorization)
        if read.status_code == 200:
            return read.json()
        if read.status_code == 404:
            if "version=published" in path:
                raise NotFound(
                    f"No {path.split('?')[0]} in this organisation's published taxonomy: once the organisation "
                    "governs its taxonomy, an achievement is issued after a version holding it is published."
                )
            raise NotFound(f"No {path.split('?')[0]} in this organisation's taxonomy.")
        if read.status_code in (401, 403):
            raise Forbidden(
                "The taxonomy service refused the caller's token; it needs the taxonomy:read scope so the "
                "issuer can confirm the achievement belongs to the caller's organisation."
            )
        raise ServiceUnavailable(f"The taxonomy service answered {read.status_code}; retry shortly.")
