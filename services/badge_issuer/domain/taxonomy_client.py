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
another gets.
"""

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import orjson

from shared.errors import Forbidden, NotFound, ServiceUnavailable

DEFAULT_CACHE_TTL_SECONDS = 5.0
_MAX_CACHED_RESPONSES = 2_000
_PATHWAY_PAGE = 200
_MAX_PATHWAY_PAGES = 50

T = TypeVar("T")
# What a GET on a pooled connection the server has just closed raises (safe to send again: a read).
_STALE_CONNECTION_ERRORS = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.ConnectError)


@dataclass(frozen=True, slots=True)
class AchievementDefinition:
    """What issuance needs: the definition (pass mark, rubric) and its public OB 3.0 Achievement."""

    definition: dict[str, Any]
    ob3: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Cached:
    etag: str | None
    content: bytes
    fresh_until: float


@dataclass(frozen=True, slots=True)
class PathwayIndex:
    """The organisation's pathways that have a capstone, by the achievements that are their steps."""

    by_step: dict[str, list[dict[str, Any]]]

    def containing(self, achievement_id: uuid.UUID) -> list[dict[str, Any]]:
        return self.by_step.get(str(achievement_id), [])


class TaxonomyClient:
    def __init__(self, http: httpx.AsyncClient, *, cache_ttl_seconds: float = DEFAULT_CACHE_TTL_SECONDS) -> None:
        self.http = http
        self.cache_ttl_seconds = max(0.0, cache_ttl_seconds)
        self._cache: OrderedDict[tuple[str, str], _Cached] = OrderedDict()
        self._pathway_indexes: OrderedDict[str, tuple[float, PathwayIndex]] = OrderedDict()
        self._in_flight: dict[tuple[str, str], asyncio.Future[Any]] = {}

    async def achievement(self, achievement_id: uuid.UUID, authorization: str) -> AchievementDefinition:
        definition = await self._get_json(f"/v1/achievements/{achievement_id}", authorization)
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
        return await self._single_flight(("pathway-index", authorization), lambda: self._build_index(authorization))

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
        self, pathway_id: uuid.UUID, held: list[uuid.UUID], authorization: str
    ) -> dict[str, Any]:
        """taxonomy_api's judgement of the pathway for a learner holding `held` (it owns the rules)."""
        query = "&".join(f"held={achievement}" for achievement in sorted(map(str, held)))
        return await self._get_json(f"/v1/pathways/{pathway_id}/progress?{query}", authorization)

    def forget(self) -> None:
        """Drop every cached body and index (the next reads go to taxonomy_api)."""
        self._cache.clear()
        self._pathway_indexes.clear()

    async def _get_json(self, path: str, authorization: str | None) -> Any:
        # Cached per token for authenticated reads: whether a caller may see a body is taxonomy_api's call.
        key = (path, authorization or "")
        cached = self._cache.get(key)
        if cached is not None and time.monotonic() < cached.fresh_until:
            return orjson.loads(cached.content)
        content = await self._single_flight(key, lambda: self._fetch(key, path, authorization))
        return orjson.loads(content)

    async def _single_flight(self, key: tuple[str, str], produce: Callable[[], Awaitable[T]]) -> T:
        """One `produce()` per key at a time: concurrent callers wait for the same outcome."""
        running = self._in_flight.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            value = await produce()
        except BaseException as error:
            # Followers get the same problem; a cancelled leader must not cancel them.
            shared = error if isinstance(error, Exception) else ServiceUnavailable("The taxonomy read was cancelled.")
            future.set_exception(shared)
            future.exception()  # retrieved: no "never retrieved" warning when nobody was waiting
            raise
        else:
            future.set_result(value)
            return value
        finally:
            del self._in_flight[key]

    async def _fetch(self, key: tuple[str, str], path: str, authorization: str | None) -> bytes:
        cached = self._cache.get(key)
        headers = {"Accept": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        if cached is not None and cached.etag:
            headers["If-None-Match"] = cached.etag
        response = await self._get(path, headers)
        if response.status_code == 304 and cached is not None:
            self._remember(key, cached.etag, cached.content)
            return cached.content
        if response.status_code == 404:
            self._cache.pop(key, None)
            raise NotFound(f"No {path.split('?')[0]} in this organisation's taxonomy.")
        if response.status_code in (401, 403):
            self._cache.pop(key, None)
            raise Forbidden(
                "The taxonomy service refused the caller's token; it needs the taxonomy:read scope so the "
                "issuer can confirm the achievement belongs to the caller's organisation."
            )
        if response.status_code != 200:
            raise ServiceUnavailable(f"The taxonomy service answered {response.status_code}; retry shortly.")
        content = response.content
        try:
            orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise ServiceUnavailable("The taxonomy service answered with a body that is not JSON.") from exc
        self._remember(key, response.headers.get("etag"), content)
        return content

    async def _get(self, path: str, headers: dict[str, str]) -> httpx.Response:
        """One GET, tried a second time when a kept-alive connection was found closed: reads are spaced
        by the TTL, about as long as taxonomy_api keeps an idle connection open (uvicorn's 5 s), so the
        pooled connection a revalidation picks up may have just been closed by the server."""
        for attempt in range(2):
            try:
                return await self.http.get(path, headers=headers)
            except _STALE_CONNECTION_ERRORS as exc:
                if attempt == 0:
                    continue
                raise ServiceUnavailable("The taxonomy service is unreachable; retry shortly.") from exc
            except httpx.HTTPError as exc:
                raise ServiceUnavailable("The taxonomy service is unreachable; retry shortly.") from exc
        raise AssertionError("unreachable")

    def _remember(self, key: tuple[str, str], etag: str | None, content: bytes) -> None:
        self._cache[key] = _Cached(etag, content, time.monotonic() + self.cache_ttl_seconds)
        self._cache.move_to_end(key)
        while len(self._cache) > _MAX_CACHED_RESPONSES:
            self._cache.popitem(last=False)
