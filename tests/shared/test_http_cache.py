"""The shared ETag cache of service-to-service reads, against a fake server (httpx.MockTransport) that
counts requests, tags each body with an ETag of its content and answers 304 to a matching If-None-Match."""

import asyncio
import hashlib
import json

import httpx
import pytest

from shared.errors import ServiceUnavailable
from shared.http_cache import ETagReadCache, SingleFlight

TOKEN_A, TOKEN_B = "Bearer token-a", "Bearer token-b"


class FakeServer:
    """Answers GET /items/{name} with a body that names the caller's token, so a body served to the wrong
    caller shows. `pause` holds every answer until set (to keep a request in flight)."""

    def __init__(self) -> None:
        self.version = 1
        self.seen: list[tuple[str, str | None, int]] = []  # (path?query, If-None-Match sent, status answered)
        self.pause: asyncio.Event | None = None
        self.failures: list[Exception] = []
        self.raw: bytes | None = None

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.failures:
            raise self.failures.pop(0)
        if self.pause is not None:
            await self.pause.wait()
        target = request.url.raw_path.decode()
        if "missing" in target:
            return self._answer(target, request, httpx.Response(404, json={"detail": "no such item"}))
        if self.raw is not None:
            return self._answer(target, request, httpx.Response(200, content=self.raw))
        body = {"target": target, "caller": request.headers.get("authorization"), "version": self.version}
        content = json.dumps(body).encode()
        etag = '"' + hashlib.sha256(content).hexdigest()[:16] + '"'
        if request.headers.get("if-none-match") == etag:
            return self._answer(target, request, httpx.Response(304, headers={"ETag": etag}))
        return self._answer(target, request, httpx.Response(200, content=content, headers={"ETag": etag}))

    def _answer(self, target: str, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        self.seen.append((target, request.headers.get("if-none-match"), response.status_code))
        return response

    def statuses(self, target: str) -> list[int]:
        return [status for seen, _, status in self.seen if seen == target]


@pytest.fixture
async def server_and_http():
    server = FakeServer()
    async with httpx.AsyncClient(transport=httpx.MockTransport(server), base_url="http://upstream.test") as http:
        yield server, http


async def test_every_read_is_revalidated_with_a_ttl_of_zero(server_and_http):
    server, http = server_and_http
    cache = ETagReadCache(http, service="taxonomy")
    reads = [await cache.get("/items/a", authorization=TOKEN_A) for _ in range(3)]
    assert server.statuses("/items/a") == [200, 304, 304]
    assert [read.from_cache for read in reads] == [False, True, True]
    assert {read.json()["version"] for read in reads} == {1}
    server.version = 2  # a change upstream changes the ETag: seen at the next read
    assert (await cache.get("/items/a", authorization=TOKEN_A)).json()["version"] == 2
    assert server.statuses("/items/a")[-1] == 200


async def test_one_callers_body_is_never_served_to_another(server_and_http):
    server, http = server_and_http
    cache = ETagReadCache(http, service="taxonomy", ttl_seconds=60)
    assert (await cache.get("/items/a", authorization=TOKEN_A)).json()["caller"] == TOKEN_A
    other = await cache.get("/items/a", authorization=TOKEN_B)
    assert other.json()["caller"] == TOKEN_B and not other.from_cache
    assert [etag for target, etag, _ in server.seen] == [None, None]  # B was not sent A's ETag
    public = await cache.get("/items/a")
    assert public.json()["caller"] is None and len(cache) == 3


async def test_fresh_within_the_ttl_then_revalidated(server_and_http):
    server, http = server_and_http
    cache = ETagReadCache(http, service="taxonomy", ttl_seconds=0.2)
    for _ in range(5):
        await cache.get("/items/a", authorization=TOKEN_A, params={"limit": 2})
    assert server.statuses("/items/a?limit=2") == [200]
    await asyncio.sleep(0.25)
    assert (await cache.get("/items/a", authorization=TOKEN_A, params={"limit": 2})).from_cache
    assert server.statuses("/items/a?limit=2") == [200, 304]


async def test_concurrent_stale_reads_make_one_request(server_and_http):
    server, http = server_and_http
    cache = ETagReadCache(http, service="taxonomy")
    server.pause = asyncio.Event()
    readers = [asyncio.create_task(cache.get("/items/a", authorization=TOKEN_A)) for _ in range(20)]
    await asyncio.sleep(0.05)
    server.pause.set()
    reads = await asyncio.gather(*readers)
    assert server.statuses("/items/a") == [200]
    assert {read.json()["version"] for read in reads} == {1}
    # Another key is its own flight.
    await asyncio.gather(cache.get("/items/a", authorization=TOKEN_A), cache.get("/items/b", authorization=TOKEN_A))
    assert server.statuses("/items/a") == [200, 304] and server.statuses("/items/b") == [200]


async def test_an_error_answer_is_shared_by_waiters_but_never_remembered(server_and_http):
    server, http = server_and_http
    cache = ETagReadCache(http, service="taxonomy", ttl_seconds=60)
    server.pause = asyncio.Event()
    readers = [asyncio.create_task(cache.get("/items/missing", authorization=TOKEN_A)) for _ in range(5)]
    await asyncio.sleep(0.05)
    server.pause.set()
    assert {read.status_code for read in await asyncio.gather(*readers)} == {404}
    assert (await cache.get("/items/missing", authorization=TOKEN_A)).status_code == 404
    assert server.statuses("/items/missing") == [404, 404] and len(cache) == 0


async def test_each_read_parses_its_own_copy(server_and_http):
    _, http = server_and_http
    cache = ETagReadCache(http, service="taxonomy", ttl_seconds=60)
    first = (await cache.get("/items/a", authorization=TOKEN_A)).json()
    first["version"] = "altered by a caller"
    assert (await cache.get("/items/a", authorization=TOKEN_A)).json()["version"] == 1


async def test_the_cache_is_a_bounded_lru(server_and_http):
    server, http = server_and_http
    cache = ETagReadCache(http, service="taxonomy", max_entries=2)
    for name in ("a", "b", "a", "c"):  # b is the least recently used when c comes in
        await cache.get(f"/items/{name}", authorization=TOKEN_A)
    assert len(cache) == 2
    await cache.get("/items/b", authorization=TOKEN_A)
    assert server.statuses("/items/b") == [200, 200]  # evicted: fetched in full
    await cache.get("/items/c", authorization=TOKEN_A)
    assert server.statuses("/items/c") == [200, 304]
    cache.forget()
    await cache.get("/items/c", authorization=TOKEN_A)
    assert server.statuses("/items/c")[-1] == 200


async def test_a_closed_pooled_connection_is_retried_once(server_and_http):
    server, http = server_and_http
    cache = ETagReadCache(http, service="taxonomy")
    server.failures = [httpx.RemoteProtocolError("Server disconnected without sending a response.")]
    assert (await cache.get("/items/a", authorization=TOKEN_A)).status_code == 200
    closed = httpx.RemoteProtocolError("Server disconnected without sending a response.")
    server.failures = [closed, closed]
    with pytest.raises(ServiceUnavailable, match="taxonomy service is unreachable"):
        await cache.get("/items/a", authorization=TOKEN_A)
    server.failures = [httpx.ReadTimeout("too slow")]  # not a closed connection: not sent again
    with pytest.raises(ServiceUnavailable):
        await cache.get("/items/a", authorization=TOKEN_A)
    assert server.failures == [] and server.statuses("/items/a") == [200]


async def test_a_body_that_is_not_json_is_refused_and_not_kept(server_and_http):
    server, http = server_and_http
    cache = ETagReadCache(http, service="taxonomy", ttl_seconds=60)
    server.raw = b"<html>proxy error</html>"
    with pytest.raises(ServiceUnavailable, match="not JSON"):
        await cache.get("/items/a", authorization=TOKEN_A)
    server.raw = None
    assert (await cache.get("/items/a", authorization=TOKEN_A)).json()["version"] == 1
    assert server.statuses("/items/a") == [200, 200]


async def test_a_cancelled_leader_hands_the_read_to_one_of_its_followers():
    # A leader cancelled (its client went away) used to fail every follower with a 503 "retry": the
    # followers now elect one of themselves, which reads once for all of them.
    flights = SingleFlight()
    release = asyncio.Event()
    reads = 0

    async def slow() -> int:
        nonlocal reads
        reads += 1
        await release.wait()
        return reads

    leader = asyncio.create_task(flights.run("key", slow))
    await asyncio.sleep(0)
    followers = [asyncio.create_task(flights.run("key", slow)) for _ in range(3)]
    await asyncio.sleep(0)
    leader.cancel()
    for _ in range(3):  # the leader ends; the followers wake, one leads and waits, the others follow it
        await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*followers) == [2, 2, 2]
    assert leader.cancelled() and reads == 2
    assert await flights.run("key", lambda: asyncio.sleep(0, result=3)) == 3


async def test_a_failed_leader_fails_its_followers_with_the_same_error():
    flights = SingleFlight()
    release = asyncio.Event()

    async def failing() -> int:
        await release.wait()
        raise ServiceUnavailable("The taxonomy service is unreachable.")

    leader = asyncio.create_task(flights.run("key", failing))
    await asyncio.sleep(0)
    follower = asyncio.create_task(flights.run("key", failing))
    await asyncio.sleep(0)
    release.set()
    for task in (leader, follower):
        with pytest.raises(ServiceUnavailable, match="unreachable"):
            await task
