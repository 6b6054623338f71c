"""Interactive API docs (Swagger UI at /docs, ReDoc at /redoc) that work with no internet, and an
OpenAPI document that lists every error a route can answer.

FastAPI's own pages load their scripts from a CDN, so they are blank on an air-gapped machine. The
files come from the fastapi-offline package instead and are served by each service itself, under a
path that carries the package's version: a new version is a new URL, so browsers may keep them a year.

The errors are derived here, once, from what each route declares (an auth dependency answers 401/403,
a path parameter 404, a body 400/413/422, a database session 503 and, on a write, 409; the public rate
limit 429) and are all documented as problem+json, which is what shared/errors.py answers.
"""

from importlib.metadata import version
from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.auth import CLIENT_CREDENTIALS_SCHEME, Authenticator
from shared.db import get_session
from shared.errors import PROBLEM_MEDIA_TYPE, NotFound
from shared.idempotency import IDEMPOTENCY_HEADER, MAX_KEY_LENGTH, IdempotencyKeyHeader
from shared.rate_limit import public_rate_limit

DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
ASSETS_PATH = f"/docs/assets/{version('fastapi-offline')}"
_ASSETS_DIR = files("fastapi_offline") / "static"
ASSET_MEDIA_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
_ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"
# Swagger UI's own defaults, less the online validator badge (a request to validator.swagger.io);
# the token a user gets through Authorize survives a reload of the page.
_SWAGGER_UI_PARAMETERS = {"validatorUrl": None, "persistAuthorization": True, "displayRequestDuration": True}
# The pages load nothing from elsewhere, and the browser holds them to it (ReDoc's bundle would still
# fetch its vendor's logo from a CDN). Both pages carry inline script or styles; ReDoc searches in a
# blob: worker. Swagger UI may also reach the token endpoint, on the taxonomy service's origin.
_PAGE_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'self'; connect-src 'self'"
)


def install_api_docs(app: FastAPI, *, token_url: str) -> None:
    """Serve /docs, /redoc and their files from this process; point the OpenAPI document's
    client-credentials flow at the platform's token endpoint (a full URL: on the issuer and the gap
    engine it is another origin)."""

    generate = app.openapi
    token_origin = "{0.scheme}://{0.netloc}".format(urlsplit(token_url))

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            schemes = document.get("components", {}).get("securitySchemes", {})
            if CLIENT_CREDENTIALS_SCHEME in schemes:
                schemes[CLIENT_CREDENTIALS_SCHEME]["flows"]["clientCredentials"]["tokenUrl"] = token_url
            document_errors(app, document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get(DOCS_PATH, include_in_schema=False, tags=["public"])
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_PATH}",
            swagger_ui_parameters=_SWAGGER_UI_PARAMETERS,
        )
        page.headers["Content-Security-Policy"] = f"{_PAGE_POLICY} {token_origin}"
        return page

    @app.get(OAUTH2_REDIRECT_PATH, include_in_schema=False, tags=["public"])
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        """Swagger UI's landing page for redirecting flows; client credentials needs none, but a
        flow added later would, and the page is inline HTML with nothing to fetch."""
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_PATH, include_in_schema=False, tags=["public"])
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = _PAGE_POLICY
        return page

    @app.api_route(ASSETS_PATH + "/{name}", methods=["GET", "HEAD"], include_in_schema=False, tags=["public"])
    async def docs_asset(name: str) -> FileResponse:
        media_type = ASSET_MEDIA_TYPES.get(name)  # a fixed list: no path from the URL reaches the disk
        if media_type is None:
            raise NotFound(f"No docs asset {name!r}.")
        return FileResponse(
            str(_ASSETS_DIR / name), media_type=media_type, headers={"Cache-Control": _ASSET_CACHE_CONTROL}
        )


class PathCORSMiddleware:
    """CORS for a few paths only (the token endpoint, which the other services' docs pages post to);
    every other route stays same-origin."""

    def __init__(self, app: ASGIApp, *, paths: frozenset[str], allow_origins: list[str]) -> None:
        self.app = app
        self.paths = paths
        self.cors = CORSMiddleware(
            app,
            allow_origins=allow_origins,
            allow_methods=["POST"],
            allow_headers=["authorization", "content-type", "x-requested-with"],  # Swagger UI sends all three
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self.paths:
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


# --- errors in the OpenAPI document ---------------------------------------------------------------

PROBLEM_SCHEMA_NAME = "Problem"
_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": PROBLEM_SCHEMA_NAME,
    "description": "RFC 9457 problem details; some problems add members of their own (errors, retry_after, ...).",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri", "description": "Identifies the kind of problem."},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "What went wrong with this request, for people."},
        "errors": {
            "type": "array",
            "description": "Each invalid field, on a 422.",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
_RETRY_AFTER = {"description": "Seconds to wait before retrying", "schema": {"type": "integer", "minimum": 0}}
_ERROR_DESCRIPTIONS = {
    400: "The body cannot be read as the media type it declares",
    401: "No access token, or one that is invalid or expired",
    403: "The access token lacks a scope this route needs",
    404: "No such object (in the caller's organisation, where the route is authenticated)",
    409: "The change conflicts with existing data (a duplicate, or an object still referred to)",
    413: "The body is larger than this route accepts",
    422: "Invalid request: the problem names each invalid field",
    429: "Rate limited: Retry-After says when to come back",
    503: "The database or a service this one depends on is unavailable: retry after Retry-After",
}
# FastAPI's own description of the 422 it adds to every route with a parameter: replaced by ours.
_FASTAPI_VALIDATION_DESCRIPTION = "Validation Error"
_WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def document_errors(app: FastAPI, document: dict[str, Any]) -> None:
    """Give every operation the error statuses its route can answer, each as problem+json, and mark
    the headers its dependencies require as required."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components[PROBLEM_SCHEMA_NAME] = _PROBLEM_SCHEMA
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        path_item = document["paths"].get(route.path_format, {})
        for method in route.methods or ():
            operation = path_item.get(method.lower())
            if operation is not None:
                _document_operation(operation, method, route.dependant)
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused not in str(document["paths"]):
            components.pop(unused, None)


def _document_operation(operation: dict[str, Any], method: str, dependant: Dependant) -> None:
    calls = list(_dependency_calls(dependant))
    responses = operation.setdefault("responses", {})
    for status in sorted(error_statuses(operation, method, calls)):
        response = responses.setdefault(str(status), {})
        if response.get("description") in (None, "", _FASTAPI_VALIDATION_DESCRIPTION):
            response["description"] = _ERROR_DESCRIPTIONS[status]
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400:
            response["content"] = {
                PROBLEM_MEDIA_TYPE: {"schema": {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA_NAME}"}}
            }
            if int(status) in (429, 503):
                response.setdefault("headers", {})["Retry-After"] = _RETRY_AFTER
    required_headers = {
        IDEMPOTENCY_HEADER.lower() for call in calls if isinstance(call, IdempotencyKeyHeader) and call.required
    }
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "header" and parameter["name"].lower() in required_headers:
            parameter["required"] = True
            parameter["schema"] = {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH}
    operation["responses"] = dict(sorted(responses.items()))


def error_statuses(operation: dict[str, Any], method: str, calls: list[Any]) -> set[int]:
    """The error statuses a route answers, from what it declares. Every route may be refused at the
    edge (a NUL character in its URL is a 422, shared/input_guard.py)."""
    statuses = {422}
    parameters = operation.get("parameters", [])
    if any(parameter["in"] == "path" for parameter in parameters):
        statuses.add(404)
    if "requestBody" in operation:
        statuses |= {400, 413}
    if any(isinstance(call, Authenticator) for call in calls):
        statuses |= {401, 403}
    if public_rate_limit in calls:
        statuses |= {401, 429}  # a bearer token on a public route is checked: a bad one is a 401
    if get_session in calls:
        statuses.add(503)
        if method in _WRITE_METHODS:
            statuses.add(409)
    return statuses


def _dependency_calls(dependant: Dependant):  # noqa: ANN202 - a generator of callables
    pending = list(dependant.dependencies)
    while pending:
        dependency = pending.pop()
        yield dependency.call
        pending.extend(dependency.dependencies)
