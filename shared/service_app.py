"""Builds a service's FastAPI app the same way for all three: errors, middleware, health, metrics."""

import gc
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.telemetry import TelemetryConfig
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.orm import Session

from shared.api_docs import install_api_docs
from shared.auth import TOKEN_PATH, TokenVerifier
from shared.db import Database
from shared.errors import install_problem_handlers, problem_response
from shared.middleware import RequestContextMiddleware, RequestDeadlineMiddleware
from shared.migrations import current_revision, head_revision
from shared.observability import ServiceMetrics, configure_logging
from shared.routing import include_routes, index_routes
from shared.settings import ServiceSettings
from shared.web.pages import Pages, install_pages

OPERATIONS_TAG = "operations"


@dataclass(frozen=True, slots=True)
class PageLink:
    label: str
    path: str
    about: str


def _landing_router(description: str, links: Sequence[PageLink]) -> APIRouter:
    router = APIRouter(tags=["pages", "public"])

    @router.get("/", include_in_schema=False)
    async def landing(request: Request) -> Response:
        """Public. What this service is, its pages for people and its docs for programs."""
        pages: Pages = request.app.state.pages
        shown = [{"label": link.label, "url": link.path, "about": link.about} for link in links]
        return pages.render(request, "landing.html", description=description, links=shown)

    return router


def _operations_router(service: str) -> APIRouter:
    router = APIRouter(tags=[OPERATIONS_TAG])

    @router.get("/healthz", summary="Liveness", description="Public. The process is up.")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @router.get(
        "/readyz",
        summary="Readiness",
        description="Public. The database answers and its schema is at the latest migration.",
        responses={503: {"description": "Not ready"}},
    )
    async def readyz(request: Request) -> Response:
        database: Database = request.app.state.database
        try:
            async with database.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            current = await current_revision(database.engine, service)
        except Exception:  # readiness must answer, whatever the database does
            return problem_response(503, "Not ready", "The database is unreachable.", "not-ready")
        expected = head_revision(service)
        if current != expected:
            return problem_response(
                503, "Not ready", f"Database schema at {current}, expected {expected}.", "not-ready"
            )
        return JSONResponse({"status": "ready", "service": service, "migration": current})

    @router.get(
        "/metrics",
        summary="Prometheus metrics",
        description="Public (operational counters only), in Prometheus' text format.",
        response_class=PlainTextResponse,
    )
    async def metrics(request: Request) -> Response:
        service_metrics: ServiceMetrics = request.app.state.metrics
        await service_metrics.refresh_from_database(request.app.state.database.sessions)
        return Response(generate_latest(service_metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router


# The services export Prometheus metrics (/metrics) and JSON logs; FastAPI's native OpenTelemetry,
# on by default, asked the global tracer, meter and logger providers on every request whether anyone
# listens.
NO_OPENTELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


def build_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Iterable[APIRouter],
    session_class: type[Session] = Session,
    session_info: dict[str, Any] | None = None,
    templates: Path | None = None,
    page_links: Sequence[PageLink] = (),
    larger_bodies: dict[str, int] | None = None,
) -> FastAPI:
    configure_logging(settings.log_level)
    database = Database(
        settings.resolved_database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        session_class=session_class,
        session_info=session_info,
        lock_timeout_ms=settings.db_lock_timeout_ms,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        idle_in_transaction_timeout_ms=settings.db_idle_in_transaction_timeout_ms,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Everything built at start-up lives as long as the process: move it out of the collector's
        # way, so full collections stay short under load (they showed as p99 spikes).
        gc.collect()
        gc.freeze()
        yield
        await database.dispose()

    # Docs pages come from install_api_docs: FastAPI's own load their scripts from a CDN.
    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        telemetry=NO_OPENTELEMETRY,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.metrics = ServiceMetrics(settings.service_name)
    app.state.token_verifier = TokenVerifier.from_settings(settings)
    install_problem_handlers(app)
    install_pages(app, Pages(settings, templates, service_title=title))
    index_routes(app)
    include_routes(app, _operations_router(settings.service_name))
    include_routes(app, _landing_router(description, page_links))
    install_api_docs(app, token_url=settings.public_token_url or settings.token_service_url.rstrip("/") + TOKEN_PATH)
    for router in routers:
        include_routes(app, router)
    # Inside the request context, so a request cut off by its deadline is counted and logged too.
    app.add_middleware(RequestDeadlineMiddleware, seconds=settings.request_deadline_seconds)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        metrics=app.state.metrics,
        access_log=settings.access_log,
        larger_bodies=larger_bodies,
    )
    return app
