"""One error hierarchy, mapped to RFC 9457 problem+json in one place (install_problem_handlers)."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
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


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ())]
        errors.append({"field": ".".join(location), "message": error.get("msg", "invalid")})
    return errors


def _is_connection_failure(exc: DBAPIError) -> bool:
    return bool(exc.connection_invalidated) or isinstance(exc, OperationalError) and _looks_unreachable(exc)


def _looks_unreachable(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return any(word in text for word in ("connect", "connection", "terminat", "closed", "refused"))


def install_problem_handlers(app: FastAPI) -> None:
    """Map every error, ours, FastAPI's and the database's, to problem+json, never a stack trace."""

    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem_response(exc.status, exc.title, exc.detail, exc.type_slug, headers, **exc.extensions)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        fields = ", ".join(error["field"] for error in errors[:5])
        return problem_response(422, "Invalid request", f"Invalid value for: {fields}", "validation", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = "not-found" if exc.status_code == 404 else f"http-{exc.status_code}"
        return problem_response(
            exc.status_code, str(exc.detail), str(exc.detail), slug, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        logger.info("integrity error mapped to 409: %s", type(exc.orig).__name__)
        return problem_response(
            409, "Conflict", "The change conflicts with existing data (a duplicate or a reference).", "conflict"
        )

    @app.exception_handler(DBAPIError)
    async def _database(_: Request, exc: DBAPIError) -> JSONResponse:
        if _is_connection_failure(exc):
            logger.warning("database unavailable: %s", type(exc.orig).__name__)
            return problem_response(
                503,
                "Service unavailable",
                "The database is unavailable; retry shortly.",
                "unavailable",
                headers={"Retry-After": "2"},
            )
        logger.exception("database error")
        return problem_response(500, "Internal error", "An internal error occurred.", "internal")

    @app.exception_handler(OSError)
    async def _os(_: Request, exc: OSError) -> JSONResponse:
        logger.warning("dependency unreachable: %s", type(exc).__name__)
        return problem_response(
            503,
            "Service unavailable",
            "A dependency is unavailable; retry shortly.",
            "unavailable",
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error")
        return problem_response(500, "Internal error", "An internal error occurred.", "internal")
