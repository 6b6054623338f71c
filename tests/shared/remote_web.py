"""The internet as tests see it: documents served in process under public-looking names.

`resolve` stands in for DNS and `transport` for the network; the outbound policy in
shared/safe_fetch.py still runs in front of both, so tests exercise its real refusals.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from shared.safe_fetch import system_resolver

PUBLIC_ADDRESS = "93.184.215.14"


@dataclass
class Page:
    body: bytes
    content_type: str = "application/json"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0
    chunks: int = 0  # > 0: streamed in that many chunks, without a Content-Length


class RemoteWeb:
    """Hosts and pages; every request it answers is kept in `requests` (to see where it went)."""

    def __init__(self) -> None:
        self.addresses: dict[str, list[str]] = {}
        self.pages: dict[tuple[str, str], Page] = {}
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self._answer)

    def host(self, name: str, *addresses: str) -> None:
        """Make `name` resolve to `addresses` (a public one by default)."""
        self.addresses[name] = list(addresses or [PUBLIC_ADDRESS])

    def serve(self, url: str, document: Any, **page: Any) -> None:
        """Serve `document` (JSON unless bytes or str) at `url`; its host resolves to a public address."""
        parsed = httpx.URL(url)
        self.addresses.setdefault(parsed.host, [PUBLIC_ADDRESS])
        if isinstance(document, str):
            document = document.encode()
        body = document if isinstance(document, bytes) else orjson.dumps(document)
        self.pages[(parsed.host, parsed.path)] = Page(body, **page)

    async def resolve(self, host: str, port: int) -> list[str]:
        """Names this web serves resolve to their addresses, `localhost` and address literals as the
        system has them; any other name does not resolve, as a name unknown to DNS would not, and no
        query ever leaves the machine."""
        if host in self.addresses:
            return self.addresses[host]
        if host.lower().rstrip(".") == "localhost" or _is_address(host):
            return await system_resolver(host, port)
        raise socket.gaierror(socket.EAI_NONAME, f"{host} is not a name of the test web")

    async def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        host = httpx.URL(f"http://{request.headers['host']}").host  # the name asked for, not the address
        page = self.pages.get((host, request.url.path))
        if page is None:
            return httpx.Response(404, json={"detail": "not found"})
        if page.delay_seconds:
            await asyncio.sleep(page.delay_seconds)
        headers = {"content-type": page.content_type, **page.headers}
        if page.chunks:
            return httpx.Response(page.status, headers=headers, content=_chunked(page.body, page.chunks))
        return httpx.Response(page.status, headers=headers, content=page.body)


def _is_address(host: str) -> bool:
    """An address literal, in any form the C library reads without asking DNS (2130706433 too)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        try:
            socket.inet_aton(host)
        except OSError:
            return False
    return True


async def _chunked(body: bytes, chunks: int) -> AsyncIterator[bytes]:
    size = max(1, len(body) // chunks)
    for start in range(0, len(body), size):
        yield body[start : start + size]
