"""Routes matched at the cost of a bare FastAPI app, whatever the number of routes a service has.

Why: FastAPI (0.165) matches an included router's routes through per-request inclusion contexts, and
tries every route in order, so a cached read such as GET /v1/roles/{id} spent over half its time
finding its route among ~100 (profiled with cProfile and py-spy). Here the routes are added to the
app itself, as `@app.get` would add them, and the app's router looks only at the routes whose literal
path start can match the request, in their original order: the first full match is the one FastAPI
would pick. Everything else (405, slash redirects, 404) falls through to FastAPI's own matching.
"""

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIRouter, _update_scope, request_response, wrap_app_with_body_limit
from fastapi.telemetry._api import _route_selected
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

# What add_api_route takes, read back from each route of an APIRouter (the router's prefix, tags,
# dependencies and schema flags are already in its routes when they are declared).
_ROUTE_OPTIONS = tuple(
    name
    for name in inspect.signature(APIRouter.add_api_route).parameters
    if name not in {"self", "path", "endpoint", "route_class_override"}
)
_Key = tuple[str, ...]


class FlatRoute(APIRoute):
    """An APIRoute that knows the literal start of its path (up to its first parameter), and whose
    request handler leaves out the dependencies that are there for OpenAPI only."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        super().__init__(path, endpoint, **options)
        self.literal_prefix = path.split("{", 1)[0]
        documented = self.dependant
        served = _without_documentation_only(documented)
        if served is not documented:
            # FastAPI builds the handler from self.dependant and OpenAPI reads it later: the handler is
            # built again from the served tree, the documented one stays for the OpenAPI document.
            self.dependant = served
            try:
                self.app = wrap_app_with_body_limit(request_response(self.get_route_handler()), self.max_body_size)
            finally:
                self.dependant = documented

    def index_key(self) -> _Key:
        """The leading path segments every path this route matches has: up to two, fewer when a
        parameter comes sooner (no segment at all: the route is tried for every path)."""
        if "{" not in self.path:
            return _request_key(self.path)
        return tuple(self.literal_prefix.split("/")[1:-1][:2])


def _without_documentation_only(dependant: Dependant) -> Dependant:
    """The dependency tree without the security schemes marked `documentation_only` (shared.auth's:
    its Authenticator reads the header itself); the same object when there are none."""
    kept = [
        _without_documentation_only(sub)
        for sub in dependant.dependencies
        if not getattr(sub.call, "documentation_only", False)
    ]
    unchanged = len(kept) == len(dependant.dependencies)
    if unchanged and all(a is b for a, b in zip(kept, dependant.dependencies, strict=True)):
        return dependant
    return dataclasses.replace(dependant, dependencies=kept)


def _request_key(path: str) -> _Key:
    return tuple(path.split("/")[1:3])


class IndexedRouter(APIRouter):
    """The app's router, with the candidate routes for a path found by its first two segments."""

    _index_for: tuple[int, int] | None = None
    _index: dict[_Key, list[BaseRoute]]

    def _candidates(self, path: str) -> list[BaseRoute]:
        if self._index_for != (self._routes_version, len(self.routes)):
            self._build_index()
        key = _request_key(path)
        index = self._index
        found = index.get(key)
        if found is None:
            found = index.get(key[:1])
            if found is None:
                found = index[()]
        return found

    def _build_index(self) -> None:
        keys = {route.index_key() for route in self.routes if isinstance(route, FlatRoute)}
        keys |= {key[:1] for key in keys} | {()}
        index: dict[_Key, list[BaseRoute]] = {key: [] for key in keys}
        for route in self.routes:
            route_key = route.index_key() if isinstance(route, FlatRoute) else ()
            for key, candidates in index.items():
                # A request filed under `key` can match the route when the route's segments lead it.
                if key[: len(route_key)] == route_key:
                    candidates.append(route)
        self._index = index
        self._index_for = (self._routes_version, len(self.routes))

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if "router" not in scope:
                scope["router"] = self
            for route in self._candidates(get_route_path(scope)):
                match, child_scope = route.matches(scope)
                if match == Match.FULL:
                    _update_scope(scope, child_scope)
                    _route_selected(scope=scope, path=getattr(route, "path_format", None))
                    await route.handle(scope, receive, send)
                    return
        # No full match (a 405, a slash redirect, a 404), or not HTTP: FastAPI's own routing.
        await super().app(scope, receive, send)


def include_routes(app: FastAPI, router: APIRouter) -> None:
    """Adds `router`'s routes to the app itself, as `@app.get` would, instead of `app.include_router`;
    the OpenAPI document, dependencies, overrides and error answers stay the same (tested)."""
    for route in router.routes:
        if type(route) is not APIRoute:
            raise TypeError(f"{route!r}: only plain API routes can be added flat; use app.include_router")
        options = {name: getattr(route, name) for name in _ROUTE_OPTIONS}
        app.router.add_api_route(route.path, route.endpoint, route_class_override=FlatRoute, **options)


def index_routes(app: FastAPI) -> None:
    """Makes the app's router an IndexedRouter (same object and state, one method more). The app has
    no router-level middleware or body limit, so the router's entry point is its `app` itself."""
    router = app.router
    if router.middleware_stack != router.app:
        raise RuntimeError("the app's router is wrapped in middleware; it cannot be indexed in place")
    router.__class__ = IndexedRouter
    router.middleware_stack = router.app
