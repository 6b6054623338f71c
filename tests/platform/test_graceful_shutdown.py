"""`credstack run` under uvicorn: on a shutdown signal the server stops accepting, the request in
flight still gets its answer, then the app's lifespan ends (which stops its background workers)."""

import asyncio
import threading
import time
from contextlib import asynccontextmanager

import httpx
import uvicorn
from fastapi import APIRouter

from services.cli import GRACEFUL_SHUTDOWN_SECONDS
from shared.service_app import build_service_app
from shared.settings import ServiceSettings
from tests.live_platform import free_port

SLOW_SECONDS = 1.5


def test_a_request_in_flight_is_answered_after_the_shutdown_signal(service_settings):
    arrived, lifespan_ended = threading.Event(), threading.Event()
    router = APIRouter()

    @router.get("/slow")
    async def slow() -> dict[str, str]:
        arrived.set()
        await asyncio.sleep(SLOW_SECONDS)
        return {"status": "finished"}

    app = build_service_app(
        service_settings(ServiceSettings, "badge_issuer"), title="slow", description="shutdown", routers=[router]
    )
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application):  # noqa: ANN001, ANN202
        async with inner(application):
            yield
        lifespan_ended.set()

    app.router.lifespan_context = lifespan
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.05)
    answers: list[httpx.Response] = []
    caller = threading.Thread(target=lambda: answers.append(httpx.get(f"http://127.0.0.1:{port}/slow", timeout=10)))
    caller.start()
    assert arrived.wait(5)
    server.should_exit = True  # what SIGTERM does
    signalled = time.monotonic()
    caller.join(10)
    thread.join(GRACEFUL_SHUTDOWN_SECONDS + 5)
    assert not thread.is_alive()
    [answer] = answers
    assert (answer.status_code, answer.json()) == (200, {"status": "finished"})
    assert lifespan_ended.is_set()
    # Stopped once the request was answered, not after the whole grace period.
    assert time.monotonic() - signalled < SLOW_SECONDS + 3
    try:
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        accepted_after = True
    except httpx.ConnectError:
        accepted_after = False
    assert not accepted_after
