"""An unhandled error, served by uvicorn on a real port: a 500 problem that carries the request id (the
client's, or one made for it), the same id in the error's log line, and a connection that stays open."""

import json
import logging

import httpx
import pytest

from services.taxonomy_api.app import create_app as create_taxonomy
from services.taxonomy_api.settings import TaxonomySettings
from shared.observability import JsonLogFormatter
from tests.live_platform import free_port, serving


class _Captured(logging.Handler):
    """Formats each record as it is emitted (in the server's thread, where the request id is set)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict] = []
        self.formatter = JsonLogFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def failing_app(service_settings):
    app = create_taxonomy(service_settings(TaxonomySettings, "taxonomy_api"))

    async def explode() -> None:
        raise RuntimeError("a bug nobody caught")

    app.add_api_route("/v1/explode", explode, methods=["GET"])
    return app


def _local_port(response: httpx.Response) -> int:
    return response.extensions["network_stream"].get_extra_info("client_addr")[1]


def test_an_unhandled_error_keeps_its_request_id_and_the_connection(failing_app):
    captured = _Captured()
    errors = logging.getLogger("credstack.errors")
    errors.addHandler(captured)
    try:
        with serving(failing_app, free_port()) as url, httpx.Client(base_url=url) as client:
            given = client.get("/v1/explode", headers={"X-Request-Id": "trace-0001"})
            made = client.get("/v1/explode")
            after = client.get("/healthz")
            ports = {_local_port(response) for response in (given, made, after)}
    finally:
        errors.removeHandler(captured)

    for response in (given, made):
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"] == "An internal error occurred."  # no stack trace, no message
        assert response.headers.get("connection") != "close"
    assert given.headers["x-request-id"] == "trace-0001"
    assert len(made.headers["x-request-id"]) == 32
    assert after.status_code == 200
    # One client, one connection: the server kept it open after each 500.
    assert len(ports) == 1
    logged = [line for line in captured.lines if line["message"] == "unhandled error"]
    assert [line["request_id"] for line in logged] == ["trace-0001", made.headers["x-request-id"]]
    assert all("RuntimeError: a bug nobody caught" in line["exception"] for line in logged)
