"""One error hierarchy, mapped to RFC 9457 problem+json in one place (install_problem_handlers)."""

import json
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import iter_route_contexts
from pydantic import ValidationError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from shared.secret_box import MasterKeyError
from shared.web.negotiation import prefers_html

PROBLEM_MEDIA_TYPE = "application/problem+json"
DEFAULT_RETRY_AFTER_SECONDS = 5
logger = logging.getLogger("credstack.errors")


class ProblemError(Exception):
    """A failure the client should be told about, as problem+json."""

    status = 400
    title = "Bad request"
    type_slug = "bad-request"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class NotFound(ProblemError):
    status, title, type_slug = 404, "Not found", "not-found"


class Conflict(ProblemError):
    status, title, type_slug = 409, "Conflict", "conflict"


class Unprocessable(ProblemError):
    status, title, type_slug = 422, "Unprocessable content", "unprocessable"


class Unauthorized(ProblemError):
    status, title, type_slug = 401, "Unauthorized", "unauthorized"


class Forbidden(ProblemError):
    status, title, type_slug = 403, "Forbidden", "forbidden"


class PayloadTooLarge(ProblemError):
    status, title, type_slug = 413, "Payload too large", "payload-too-large"


class TooManyRequests(ProblemError):
    status, title, type_slug = 429, "Too many requests", "rate-limited"


class ServiceUnavailable(ProblemError):
    status, title, type_slug = 503, "Service unavailable", "unavailable"


def problem_body(status: int, title: str, detail: str, type_slug: str, **extensions: Any) -> dict[str, Any]:
    return {
        "type": f"https://credstack.dev/problems/{type_slug}",
        "title": title,
        "status": status,
        "detail": detail,
        **extensions,
    }


def problem_response(
    status: int, title: str, detail: str, type_slug: str, headers: dict[str, str] | None = None, **ext: Any
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, title, detail, type_slug, **ext),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def validation_errors(
    exc: RequestValidationError | ValidationError, within: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Each error as {field, message}, the shape of every 422; `within` prefixes the field of a model
    validated by hand (("body",) for a bulk item, so it reads as the single request's would)."""
    errors = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            errors.append(_json_syntax_error(error, getattr(exc, "body", None)))
            continue
        location = [*within, *(str(part) for part in error.get("loc", ()))]
        errors.append({"field": ".".join(location), "message": error.get("msg", "invalid")})
    return errors


def validation_detail(errors: Sequence[dict[str, Any]]) -> str:
    return "Invalid value for: " + ", ".join(error["field"] for error in errors[:5])


def _json_syntax_error(error: dict[str, Any], document: Any) -> dict[str, Any]:
    """A body that is not JSON at all: FastAPI puts the character offset where a field would be
    (`body.13`); the client needs the line and column, as an editor shows them."""
    reason = str((error.get("ctx") or {}).get("error") or error.get("msg") or "invalid JSON")
    location = error.get("loc", ())
    offset = location[-1] if location and isinstance(location[-1], int) else None
    return json_syntax_error(reason, document, offset)


def json_syntax_error(reason: str, document: Any, offset: int | None) -> dict[str, Any]:
    """{field: "body", message} for a JSON syntax error, with its line and column when known."""
    if offset is None or not isinstance(document, str | bytes):
        return {"field": "body", "message": f"Invalid JSON: {reason}."}
    text = document.decode("utf-8", "replace") if isinstance(document, bytes) else document
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    message = f"Invalid JSON at line {line}, column {column}: {reason}."
    return {"field": "body", "message": message, "line": line, "column": column}


def invalid_json(error: json.JSONDecodeError) -> "Unprocessable":
    """The problem for a body a route parses itself (json or orjson), the same as FastAPI's parse gets."""
    found = json_syntax_error(error.msg, error.doc, error.pos)
    return Unprocessable(f"The body is not valid JSON: {found['message']}", errors=[found])


# SQLSTATEs that mean "the database cannot serve now", not "the request is wrong": connection
# exceptions (class 08), operator intervention (57P01 admin shutdown, 57P02 crash shutdown, 57P03
# cannot connect now: starting up or shutting down), too many connections (53300), a lock not had
# within lock_timeout (55P03: the transaction is given up, the client may retry), a statement
# cancelled by statement_timeout (57014 query_canceled), a session ended by
# idle_in_transaction_session_timeout (25P03).
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300", "55P03", "57014", "25P03")


def _sqlstate(exc: DBAPIError) -> str | None:
    for candidate in (exc.orig, getattr(exc.orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def _is_connection_failure(exc: DBAPIError) -> bool:
    """One place decides what a restarting or unreachable database looks like, whatever the driver
    wraps it in (a plain DBAPIError during a PostgreSQL restart, an OperationalError on SQLite)."""
    if exc.connection_invalidated:
        return True
    code = _sqlstate(exc)
    if code is not None:
        return code.startswith(_UNAVAILABLE_SQLSTATES)
    return isinstance(exc, OperationalError | InterfaceError) and _looks_unreachable(exc)


def _looks_unreachable(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    # "database is locked": SQLite's busy timeout (its lock_timeout) ran out waiting for the write lock.
    words = ("connect", "connection", "terminat", "closed", "refused", "shutting down", "starting up", "is locked")
    return any(word in text for word in words)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (RFC 9110 §15.5.6): Starlette's own 405 names only
    the methods of the first route whose path matched, so GET /v1/skills/{id} hid its PUT and DELETE."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):  # included routers flattened
        route_methods = route.methods
        # PARTIAL: the path matches and the method does not; FULL cannot happen here (that route served).
        if route_methods and route.matches(request.scope)[0] is not Match.NONE:
            methods |= route_methods
    return sorted(methods)


class SignInRequired(Unauthorized):
    """A page needs a signed-in person: browsers are sent to sign in, programs get the 401."""

    def __init__(self, detail: str, *, sign_in_url: str) -> None:
        super().__init__(detail)
        self.sign_in_url = sign_in_url


def _answer(
    request: Request, status: int, title: str, detail: str, slug: str, headers: dict[str, str] | None = None, **ext: Any
) -> Response:
    """problem+json for programs; for a browser asking for a page, the same problem as an HTML page
    (one place, so every route's 404 or 422 reads as a page to a person and as JSON to a program)."""
    pages = getattr(request.app.state, "pages", None)
    if pages is not None and prefers_html(request.headers.get("accept")):
        return pages.render(
            request, "error.html", status=status, headers=headers, title=title, detail=detail, status_code=status
        )
    return problem_response(status, title, detail, slug, headers, **ext)


def install_problem_handlers(app: FastAPI) -> None:
    """Map every error, ours, FastAPI's and the database's, to problem+json, never a stack trace."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> Response:
        if isinstance(exc, SignInRequired) and prefers_html(request.headers.get("accept")):
            return RedirectResponse(exc.sign_in_url, status_code=303)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        if "retry_after" in exc.extensions:  # a 429 or 503 says when to come back, in the header too
            headers["Retry-After"] = str(int(exc.extensions["retry_after"]))
        elif exc.status in (429, 503):
            headers["Retry-After"] = str(DEFAULT_RETRY_AFTER_SECONDS)
        return _answer(request, exc.status, exc.title, exc.detail, exc.type_slug, headers, **exc.extensions)

    @app.exception_handler(RequestValidationError)
    # A model validated inside a handler (a path value turned into a schema object) is bad input too.
    @app.exception_handler(ValidationError)
    async def _invalid(request: Request, exc: RequestValidationError | ValidationError) -> Response:
        errors = validation_errors(exc)
        if any(error.get("type") == "json_invalid" for error in exc.errors()):
            detail = f"The body is not valid JSON: {errors[0]['message']}"
        else:
            detail = validation_detail(errors)
        return _answer(request, 422, "Invalid request", detail, "validation", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        slug = "not-found" if exc.status_code == 404 else f"http-{exc.status_code}"
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return _answer(request, exc.status_code, str(exc.detail), str(exc.detail), slug, headers=headers)

    @app.exception_handler(RecursionError)
    async def _too_deep(request: Request, exc: RecursionError) -> Response:
        # Untrusted JSON inside a field (a JWT header, a baked image's payload) parsed by a recursive parser.
        return _answer(request, 422, "Invalid request", "A document in the request is nested too deeply.", "validation")

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> Response:
        logger.info("integrity error mapped to 409: %s", type(exc.orig).__name__)
        return _answer(
            request,
            409,
            "Conflict",
            "The change conflicts with existing data (a duplicate or a reference).",
            "conflict",
        )

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> Response:
        if _is_connection_failure(exc):
            logger.warning("database unavailable: %s", type(exc.orig).__name__)
            return _answer(
                request,
                503,
                "Service unavailable",
                "The database is unavailable; retry shortly.",
                "unavailable",
                headers={"Retry-After": "2"},
            )
        if isinstance(exc, DataError):  # a value the database cannot store (out of range, bad encoding)
            logger.info("data error mapped to 422: %s", type(exc.orig).__name__)
            return _answer(request, 422, "Invalid request", "A value in the request cannot be stored.", "validation")
        logger.exception("database error")
        return _answer(request, 500, "Internal error", "An internal error occurred.", "internal")

    @app.exception_handler(MasterKeyError)
    async def _master_key(request: Request, exc: MasterKeyError) -> Response:
        # A secret stored under another master key (a service started with the wrong one): nothing the
        # caller can fix, and no bug to hide behind a 500. The message names no secret.
        logger.error("a stored secret cannot be opened with this master key: %s", exc)
        return _answer(
            request,
            503,
            "Service unavailable",
            "The service cannot open its stored keys with the master key it was started with; an "
            "operator must restart it with the original master key. Nothing was changed.",
            "master-key",
            headers={"Retry-After": str(DEFAULT_RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(OSError)
    async def _os(request: Request, exc: OSError) -> Response:
        logger.warning("dependency unreachable: %s", type(exc).__name__)
        return _answer(
            request,
            503,
            "Service unavailable",
            "A dependency is unavailable; retry shortly.",
            "unavailable",
            headers={"Retry-After": "2"},
        )

    # Reached only by an error raised outside RequestContextMiddleware (which answers the rest itself,
    # through unhandled_error_response, so the 500 carries the request id and keeps the connection).
    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        return unhandled_error_response(request, exc)


def unhandled_error_response(request: Request, exc: Exception) -> Response:
    """A bug's answer: logged with its traceback (and the request id, from the context), answered as a
    500 problem that says nothing of the cause."""
    logger.error("unhandled error", exc_info=exc)
    return _answer(request, 500, "Internal error", "An internal error occurred.", "internal")
