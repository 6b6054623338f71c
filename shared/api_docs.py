"""Interactive API docs (Swagger UI at /docs, ReDoc at /redoc) that work with no internet.

FastAPI's own pages load their scripts from a CDN, so they are blank on an air-gapped machine. The
files come from the fastapi-offline package instead and are served by each service itself, under a
path that carries the package's version: a new version is a new URL, so browsers may keep them a year.
"""

from importlib.metadata import version
from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.auth import CLIENT_CREDENTIALS_SCHEME
from shared.errors import NotFound

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
            schemes = generate().get("components", {}).get("securitySchemes", {})
            if CLIENT_CREDENTIALS_SCHEME in schemes:
                schemes[CLIENT_CREDENTIALS_SCHEME]["flows"]["clientCredentials"]["tokenUrl"] = token_url
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
