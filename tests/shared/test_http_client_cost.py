"""Service-to-service calls go through httpx; httpcore asks `sniffio` which event loop runs each time it
makes a lock, an event or a cancellation shield, several times a request. Without sniffio installed
(anyio >= 4.11 no longer brings it) that is a failed import each time, and Python caches no failed
import: every call searched sys.path on disk, about 85 µs, a few percent of the gap engine's webhook
intake (encode/httpcore#1103). sniffio is a direct dependency for that; this holds it there."""

import asyncio
import importlib.abc
import sys

import httpx
from httpcore._synchronization import current_async_library


class _CountingFinder(importlib.abc.MetaPathFinder):
    """Counts every module lookup that reaches the import system (a cached import never does)."""

    def __init__(self) -> None:
        self.lookups: list[str] = []

    def find_spec(self, fullname, path=None, target=None):
        self.lookups.append(fullname)
        return None


async def test_asking_for_the_event_loop_does_not_search_for_a_module_each_time():
    finder = _CountingFinder()
    sys.meta_path.insert(0, finder)
    try:
        for _ in range(20):
            assert current_async_library() == "asyncio"
    finally:
        sys.meta_path.remove(finder)
    assert finder.lookups == []


async def test_a_request_through_httpx_searches_for_no_module():
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionResetError):
            writer.close()  # the client closed its connection

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            assert (await http.get("/")).text == "ok"  # warm: what a first request imports is imported
            finder = _CountingFinder()
            sys.meta_path.insert(0, finder)
            try:
                for _ in range(5):
                    assert (await http.get("/")).text == "ok"
            finally:
                sys.meta_path.remove(finder)
    finally:
        server.close()
    assert finder.lookups == []
