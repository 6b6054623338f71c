"""One cache for the JSON a service reads from another over HTTP (GET), revalidated by ETag.

Why one: three hand-written copies (the issuer's and the gap engine's reads of taxonomy_api) drifted in
what they keyed on and what they did under concurrency. The rules, in one place:

- Keyed by the path (with its query) and the caller's Authorization header: the other service decides
  what each token may see, so a body fetched with one token is never served to another.
- Fresh for `ttl_seconds` after it was fetched or revalidated (served from memory, no request); after
  that the next read sends If-None-Match, and a 304 costs the other service no body and us no parsing.
  A TTL of 0 revalidates every read, so a change is seen at once while the other service still
  authorizes every read (a 304 needs a valid token).
- Bounded LRU (`max_entries`); a 4xx answer drops the entry (gone, or no longer allowed).
- Single flight: concurrent reads of the same missing or stale entry make one request and share its
  outcome, answer or error. Outcomes other than a 200/304 are shared but never remembered.
- A GET is idempotent, so one that finds its pooled keep-alive connection just closed by the server
  (the TTL is about as long as uvicorn keeps an idle connection) is sent once more.
- Each read parses the stored bytes again: no caller can alter what another gets.
"""

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
import orjson

from shared.errors import ServiceUnavailable

T = TypeVar("T")
# What a GET on a pooled connection the server has just closed raises (safe to send again: a read).
STALE_CONNECTION_ERRORS = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.ConnectError)


@dataclass(frozen=True, slots=True)
class CachedRead:
    """A read's outcome: a 200 body (`from_cache` when served from memory, fresh or after a 304), or the
    other service's non-200 answer as it came (never cached)."""

    status_code: int
    content: bytes
    from_cache: bool = False

    def json(self) -> Any:
        return orjson.loads(self.content)


@dataclass(frozen=True, slots=True)
class _Entry:
    etag: str | None
    content: bytes
    fresh_until: float


class _LeaderCancelled(Exception):
    """A flight's leader was cancelled (its client went away): its followers elect a new one."""


class SingleFlight:
    """One `produce()` per key at a time: concurrent callers of the same key wait for the same outcome."""

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future[Any]] = {}

    async def run(self, key: Hashable, produce: Callable[[], Awaitable[T]]) -> T:
        while (running := self._running.get(key)) is not None:
            try:
                return await asyncio.shield(running)
            except _LeaderCancelled:
                continue  # the first follower to wake leads now, the others follow it
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            value = await produce()
        except BaseException as error:
            # Followers get the same problem; a cancelled leader hands the read over instead.
            if isinstance(error, Exception):
                shared: Exception = error
            elif isinstance(error, asyncio.CancelledError):
                shared = _LeaderCancelled()
            else:
                shared = ServiceUnavailable("The read was interrupted; retry.")
            future.set_exception(shared)
            future.exception()  # retrieved: no "never retrieved" warning when nobody was waiting
            raise
        else:
            future.set_result(value)
            return value
        finally:
            if self._running.get(key) is future:
                del self._running[key]

    def abandon(self, key: Hashable) -> None:
        """Callers from now on start a new `produce()`: the one running began before what they must
        see (its own waiters still get its outcome)."""
        self._running.pop(key, None)


class ETagReadCache:
    """GETs of JSON through `http` (an AsyncClient with the other service's base URL), cached as above.

    Transport failures raise ServiceUnavailable naming `service`; every HTTP answer is returned."""

    def __init__(
        self, http: httpx.AsyncClient, *, service: str, ttl_seconds: float = 0.0, max_entries: int = 2_000
    ) -> None:
        self.http = http
        self.service = service
        self.ttl_seconds = max(0.0, ttl_seconds)
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._flights = SingleFlight()

    def __len__(self) -> int:
        return len(self._entries)

    def forget(self) -> None:
        """Drop every cached body: the next reads go to the other service in full."""
        self._entries.clear()

    async def get(
        self, path: str, *, authorization: str | None = None, params: Mapping[str, Any] | None = None
    ) -> CachedRead:
        target = f"{path}?{urlencode(sorted(params.items()))}" if params else path
        key = (target, authorization or "")
        entry = self._entries.get(key)
        if entry is not None and time.monotonic() < entry.fresh_until:
            self._entries.move_to_end(key)
            return CachedRead(200, entry.content, from_cache=True)
        return await self._flights.run(key, lambda: self._fetch(key, path, params, authorization))

    async def _fetch(
        self, key: tuple[str, str], path: str, params: Mapping[str, Any] | None, authorization: str | None
    ) -> CachedRead:
        entry = self._entries.get(key)
        headers = {"Accept": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        if entry is not None and entry.etag:
            headers["If-None-Match"] = entry.etag
        response = await self._send(path, params, headers)
        if response.status_code == 304 and entry is not None and entry.etag:
            self._remember(key, entry.etag, entry.content)
            return CachedRead(200, entry.content, from_cache=True)
        if response.status_code != 200:
            if 400 <= response.status_code < 500:
                self._entries.pop(key, None)
            return CachedRead(response.status_code, response.content)
        content = response.content
        try:
            orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise ServiceUnavailable(f"The {self.service} service answered with a body that is not JSON.") from exc
        etag = response.headers.get("etag")
        if etag or self.ttl_seconds > 0:
            self._remember(key, etag, content)
        else:
            self._entries.pop(key, None)  # nothing to revalidate it with, and never fresh
        return CachedRead(200, content)

    async def _send(self, path: str, params: Mapping[str, Any] | None, headers: dict[str, str]) -> httpx.Response:
        for attempt in range(2):
            try:
                return await self.http.get(path, params=params, headers=headers)
            except STALE_CONNECTION_ERRORS as exc:
                if attempt == 0:
                    continue
                raise ServiceUnavailable(f"The {self.service} service is unreachable; retry shortly.") from exc
            except httpx.HTTPError as exc:
                raise ServiceUnavailable(f"The {self.service} service is unreachable; retry shortly.") from exc
        raise AssertionError("unreachable")

    def _remember(self, key: tuple[str, str], etag: str | None, content: bytes) -> None:
        self._entries[key] = _Entry(etag, content, time.monotonic() + self.ttl_seconds)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
