"""Builds a service's FastAPI app the same way for all three: errors, middleware, health, metrics."""

import gc
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.orm import Session

from shared.api_docs import install_api_docs
from shared.auth import TOKEN_PATH, TokenVerifier
from shared.db import Database
from shared.errors import install_problem_handlers, problem_response
from shared.middleware import RequestContextMiddleware
from shared.migrations import current_revision, head_revision
from shared.observability import ServiceMetrics, configure_logging
from shared.settings import ServiceSettings

OPERATIONS_TAG = "operations"


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

    @router.get("/metrics", summary="Prometheus metrics", description="Public (operational counters only).")
    async def metrics(request: Request) -> Response:
        return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router


def build_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Iterable[APIRouter],
    session_class: type[Session] = Session,
    session_info: dict[str, Any] | None = None,
) -> FastAPI:
    configure_logging(settings.log_level)
    database = Database(
        settings.resolved_database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        session_class=session_class,
        session_info=session_info,
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
        title=title, description=description, version="1.0.0", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.settings = settings
    app.state.database = database
    app.state.metrics = ServiceMetrics(settings.service_name)
    app.state.token_verifier = TokenVerifier.from_settings(settings)
    install_problem_handlers(app)
    app.include_router(_operations_router(settings.service_name))
    install_api_docs(app, token_url=settings.public_token_url or settings.token_service_url.rstrip("/") + TOKEN_PATH)
    for router in routers:
        app.include_router(router)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        metrics=app.state.metrics,
        access_log=settings.access_log,
    )
    return app
