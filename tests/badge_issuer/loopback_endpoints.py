"""Webhook receivers on real loopback sockets, for the outbox's timing and isolation tests: one that
answers (after a delay, with a status) and records what it received, one that accepts and never
answers. Plain asyncio streams: the issuer's real HTTP client talks to them over TCP. Also the
steps those tests share: subscribe through the API, emit events as issuance does, read what is owed."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from services.badge_issuer.db.tables import WebhookDelivery
from services.badge_issuer.domain import outbox


@dataclass
class Received:
    path: str
    webhook_id: str
    at: float  # when it was answered
    arrived: float = 0.0  # when its request had been read


@dataclass
class LoopbackEndpoint:
    """An HTTP/1.1 endpoint on 127.0.0.1. `hang` accepts and reads, then never answers; otherwise
    it answers `status` after `delay_seconds` (503 from the `fail_from`th request on, when set).
    `connections` counts requests that arrived."""

    hang: bool = False
    status: int = 204
    fail_from: int | None = None
    delay_seconds: float = 0.0
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    in_flight: int = 0
    most_in_flight: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self) -> LoopbackEndpoint:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    async def stop(self) -> None:
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in header_lines:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                await reader.readexactly(int(headers.get("content-length", "0")))
                arrived = time.monotonic()
                self.connections += 1
                status = self.status if self.fail_from is None or self.connections < self.fail_from else 503
                if self.hang:
                    await reader.read()  # until the client gives up and closes
                    return
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                try:
                    await asyncio.sleep(self.delay_seconds)
                finally:
                    self.in_flight -= 1
                if 200 <= status < 300:
                    path = request_line.split(" ")[1]
                    self.received.append(Received(path, headers.get("webhook-id", ""), time.monotonic(), arrived))
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()


async def subscribe(client: httpx.AsyncClient, headers: dict[str, str], url: str) -> str:
    headers = {**headers, "Idempotency-Key": uuid.uuid4().hex}
    response = await client.post("/v1/webhook-subscriptions", json={"url": url}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def emit(app: FastAPI, org_id: uuid.UUID, count: int) -> list[str]:
    """Events written the way issuance writes them (outbox.emit in the caller's transaction)."""
    async with app.state.database.sessions() as session:
        ids = [await outbox.emit(session, org_id, "credential.issued", {"n": n}) for n in range(count)]
        await session.commit()
    return ids


async def emit_for_learners(app: FastAPI, org_id: uuid.UUID, learners: list[str]) -> list[str]:
    """One credential.issued event per entry, in order, naming that learner as issuance does."""
    async with app.state.database.sessions() as session:
        ids = [
            await outbox.emit(
                session,
                org_id,
                "credential.issued",
                {"credential_id": str(uuid.uuid4()), "learner": {"hris_id": None, "learner_key": f"email:{learner}"}},
            )
            for learner in learners
        ]
        await session.commit()
    return ids


async def owed(app: FastAPI, subscription_id: str) -> list[WebhookDelivery]:
    async with app.state.database.sessions() as session:
        statement = select(WebhookDelivery).where(WebhookDelivery.subscription_id == uuid.UUID(subscription_id))
        return list(await session.scalars(statement))


async def wait_until(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)
