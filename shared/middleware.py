"""One pure-ASGI middleware for what every request needs: request id, body bound, metrics, access log.

Pure ASGI (not BaseHTTPMiddleware) because it sits on every request's hot path.
"""

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import input_guard
from shared.errors import PROBLEM_MEDIA_TYPE, problem_body, unhandled_error_response
from shared.observability import ServiceMetrics, request_id_var

access_logger = logging.getLogger("credstack.access")


class _BodyTooLarge(Exception):
    pass


async def _send_problem(send: Send, status: int, title: str, detail: str, slug: str, request_id: str) -> None:
    body = orjson.dumps(problem_body(status, title, detail, slug))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _too_large(limit: int) -> str:
    return f"The request body exceeds the limit of {limit} bytes."


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        metrics: ServiceMetrics,
        access_log: bool,
        larger_bodies: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # Paths that take a bigger body (file uploads for imports), each with its own bound.
        self.larger_bodies = dict(larger_bodies or {})
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status_holder = [500]
        limit = self.larger_bodies.get(scope.get("path", ""), self.max_body_bytes)
        try:
            if _declared_length(scope) > limit:
                status_holder[0] = 413
                await _send_problem(send, 413, "Payload too large", _too_large(limit), "payload-too-large", request_id)
                return
            refused = input_guard.target_problem(scope.get("raw_path") or b"", scope.get("query_string", b""))
            if refused:
                status_holder[0] = 422
                await _send_problem(send, 422, "Invalid request", refused, "validation", request_id)
                return
            kind = input_guard.body_kind(_header(scope, b"content-type"))
            if kind is not None:
                receive, refused = await self._screened_body(receive, kind, limit)
                if refused:
                    status_holder[0] = 422 if refused != _TOO_LARGE else 413
                    if refused == _TOO_LARGE:
                        await _send_problem(
                            send, 413, "Payload too large", _too_large(limit), "payload-too-large", request_id
                        )
                    else:
                        await _send_problem(send, 422, "Invalid request", refused, "validation", request_id)
                    return
            await self._call_bounded(scope, receive, send, request_id, status_holder, limit)
        finally:
            self._record(scope, status_holder[0], time.perf_counter() - started)
            request_id_var.reset(token)

    async def _screened_body(self, receive: Receive, kind: str, limit: int) -> tuple[Receive, str | None]:
        """Reads a text body whole (it is bounded), screens it (shared/input_guard.py), and hands the
        route a receive that replays it."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return _replay(b"".join(chunks), receive, message), None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return receive, _TOO_LARGE
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = input_guard.json_problem(body) if kind == "json" else input_guard.text_problem(body)
        return _replay(body, receive), problem

    async def _call_bounded(
        self, scope: Scope, receive: Receive, send: Send, request_id: str, status_holder: list[int], limit: int
    ) -> None:
        received = 0
        started_response = False

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        async def tagged_send(message: Message) -> None:
            nonlocal started_response
            if message["type"] == "http.response.start":
                started_response = True
                status_holder[0] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, bounded_receive, tagged_send)
        except _BodyTooLarge:
            if started_response:
                raise
            status_holder[0] = 413
            await _send_problem(send, 413, "Payload too large", _too_large(limit), "payload-too-large", request_id)
        except Exception as error:
            # Answered here, not by Starlette's ServerErrorMiddleware (outside this one): its 500 would
            # miss the request id, and its re-raise makes uvicorn close the keep-alive connection.
            if started_response:
                raise
            await unhandled_error_response(Request(scope), error)(scope, receive, tagged_send)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", "unmatched")
        method = scope.get("method", "-")
        self.metrics.requests.labels(self.metrics.service, method, template, str(status)).inc()
        self.metrics.latency.labels(self.metrics.service, method, template).observe(seconds)
        if self.access_log:
            access_logger.info(
                "%s %s %s",
                method,
                template,
                status,
                extra={"fields": {"status": status, "duration_ms": round(seconds * 1000, 2), "route": template}},
            )


_TOO_LARGE = "too large"


def _replay(body: bytes, receive: Receive, then: Message | None = None) -> Receive:
    """A receive that gives the already-read body once (and a message read past it), then the client's own."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    if then is not None:
        pending.append(then)

    async def replaying() -> Message:
        return pending.pop(0) if pending else await receive()

    return replaying


def _header(scope: Scope, wanted: bytes) -> str:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return value.decode("latin-1")
    return ""


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")[:64]
            return candidate if candidate.replace("-", "").isalnum() else None
    return None


def _declared_length(scope: Scope) -> int:
    try:
        return int(_header(scope, b"content-length") or 0)
    except ValueError:
        return 0


deadline_logger = logging.getLogger("credstack.deadline")


class RequestDeadlineMiddleware:
    """A request whose answer has not started within `seconds` is answered 503 problem+json with
    Retry-After; its handler is cancelled, so its session's transaction rolls back and the locks it
    held go. Once the answer has started (a streamed export) the deadline no longer applies: a
    response cannot be taken back half sent."""

    def __init__(self, app: ASGIApp, *, seconds: float, retry_after_seconds: int = 5) -> None:
        self.app = app
        self.seconds = seconds
        self.retry_after = str(retry_after_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.timeout(self.seconds)
        started = False

        async def send_lifting_the_deadline(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                deadline.reschedule(None)
            await send(message)

        try:
            async with deadline:
                await self.app(scope, receive, send_lifting_the_deadline)
        except TimeoutError:
            if not deadline.expired() or started:
                raise  # a timeout of the handler's own, or one it can no longer be told about
            deadline_logger.warning(
                "request cut off after %.1f s: %s %s", self.seconds, scope.get("method"), scope.get("path")
            )
            body = orjson.dumps(
                problem_body(
                    503,
                    "Service unavailable",
                    f"The request did not finish within {self.seconds:g} s; it was cancelled. Retry shortly.",
                    "deadline-exceeded",
                )
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                        (b"content-length", str(len(body)).encode()),
                        (b"retry-after", self.retry_after.encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
