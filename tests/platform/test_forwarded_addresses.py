"""Behind a load balancer every request comes from the balancer, so the public rate limit (counted per
client address) would be one budget for the whole internet. `credstack run` believes X-Forwarded-For
from the proxies named in CREDSTACK_FORWARDED_ALLOW_IPS, and from no one by default (a client must not
pick its own address)."""

import threading
import time

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request

from services.cli import server_options
from shared.settings import ServiceSettings
from tests.live_platform import free_port


def _client_address_seen(options: dict, forwarded_for: str) -> str:
    app = FastAPI()

    @app.get("/whoami")
    async def whoami(request: Request) -> dict[str, str]:
        return {"host": request.client.host if request.client else ""}

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.05)
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/whoami", headers={"X-Forwarded-For": forwarded_for}, timeout=5)
        return answer.json()["host"]
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.mark.parametrize(
    ("trusted", "seen"),
    [("", "127.0.0.1"), ("127.0.0.1", "203.0.113.7"), ("10.0.0.0/8", "127.0.0.1")],
    ids=["nobody-trusted", "the-balancer-trusted", "another-proxy-trusted"],
)
def test_a_forwarded_address_counts_only_from_a_trusted_proxy(monkeypatch, trusted: str, seen: str) -> None:
    monkeypatch.setenv("CREDSTACK_FORWARDED_ALLOW_IPS", trusted)
    options = server_options(ServiceSettings(service_name="badge_issuer"))
    assert _client_address_seen(options, "203.0.113.7") == seen
