"""Routes matched at the cost of a bare FastAPI app, whatever the number of routes a service has.

Why: FastAPI (0.165) matches an included router's routes through per-request inclusion contexts, and
tries every route in order, so a cached read such as GET /v1/roles/{id} spent over half its time
finding its route among ~100 (profiled with cProfile and py-spy). Here the routes are added to the
app itself, as `@app.get` would add them, and the app's router looks only at the routes whose literal
path start can match the request, in their original order: the first full match is the one FastAPI
would pick. Everything else (405, slash redirects, 404) falls through to FastAPI's own matching.

A flat route's handler also solves its dependencies by a plan made once (shared.dependency_plan)
where the route's dependencies allow it; OpenAPI reads the route's own dependency tree, unchanged.
"""

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import _is_async_gen_callable, _is_coroutine_callable, get_dependant
from fastapi.routing import APIRoute, APIRouter, _update_scope, request_response, wrap_app_with_body_limit
from fastapi.telemetry._api import _route_selected
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.dependency_plan import compile_plan, planned_endpoint

# What add_api_route takes, read back from each route of an APIRouter (the router's prefix, tags,
# dependencies and schema flags are already in its routes when they are declared).
_ROUTE_OPTIONS = tuple(
    name
    for name in inspect.signature(APIRouter.add_api_route).parameters
    if name not in {"self", "path", "endpoint", "route_class_override"}
)
_Key = tuple[str, ...]


class FlatRoute(APIRoute):
    """An APIRoute whose request handler leaves out the dependencies that are there for OpenAPI only,
    and solves the others by a plan where it can."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        super().__init__(path, endpoint, **options)
        documented = self.dependant
        served = _without_documentation_only(documented)
        # FastAPI builds the handler from self.dependant and OpenAPI reads it later: the handler is
        # built again from the served tree, the documented one stays for the OpenAPI document.
        fastapi_solved = self.app if served is documented else self._handler_for(served)
        plan = compile_plan(served) if _plain_coroutine(served.call) else None
        if plan is None:
            self.app = fastapi_solved
            return
        planned = get_dependant(path=self.path_format, call=planned_endpoint(plan, served.call))
        self.app = _unless_overridden(self._handler_for(planned), fastapi_solved, self.dependency_overrides_provider)

    def _handler_for(self, dependant: Dependant) -> ASGIApp:
        documented = self.dependant
        self.dependant = dependant
        try:
            return wrap_app_with_body_limit(request_response(self.get_route_handler()), self.max_body_size)
        finally:
            self.dependant = documented


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


def _may_serve(route: BaseRoute, method: str) -> bool:
    """False only for a route that declares its methods and `method` is not one of them."""
    methods = getattr(route, "methods", None)
    return methods is None or method in methods


def _plain_coroutine(call: Any) -> bool:
    return call is not None and _is_coroutine_callable(call) and not _is_async_gen_callable(call)


def _unless_overridden(planned: ASGIApp, fastapi_solved: ASGIApp, overrides_provider: Any) -> ASGIApp:
    """The planned handler, but FastAPI's whenever the app has dependency overrides (a plan holds the
    dependencies as they were declared)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if overrides_provider is not None and overrides_provider.dependency_overrides:
            await fastapi_solved(scope, receive, send)
        else:
            await planned(scope, receive, send)

    return app


def _route_key(route: BaseRoute) -> _Key:
    """The leading path segments (up to two) of every path `route` matches: fewer when a parameter
    comes sooner, none for a route of a kind not known here (it is then tried for every path)."""
    if not isinstance(route, Route | Mount):  # an APIRoute is a Route
        return ()
    path = route.path
    if "{" not in path:
        return _request_key(path)  # a mount's own segments lead every path under it too
    return tuple(path.split("{", 1)[0].split("/")[1:-1][:2])


def _request_key(path: str) -> _Key:
    return tuple(path.split("/")[1:3])


class IndexedRouter(APIRouter):
    """The app's router, with the candidate routes for a path found by its first two segments."""

    _index_for: tuple[int, int] | None = None
    _index: dict[_Key, dict[str | None, list[BaseRoute]]]

    def _candidates(self, path: str, method: str) -> list[BaseRoute]:
        if self._index_for != (self._routes_version, len(self.routes)):
            self._build_index()
        key = _request_key(path)
        index = self._index
        if key not in index:
            key = key[:1] if key[:1] in index else ()
        # Routes of other methods could only match partly (a 405), which FastAPI's routing answers.
        return index[key].get(method, index[key][None])

    def _build_index(self) -> None:
        keys = {_route_key(route) for route in self.routes}
        keys |= {key[:1] for key in keys} | {()}
        by_key: dict[_Key, list[BaseRoute]] = {key: [] for key in keys}
        for route in self.routes:
            route_key = _route_key(route)
            for key, candidates in by_key.items():
                # A request filed under `key` can match the route when the route's segments lead it.
                if key[: len(route_key)] == route_key:
                    candidates.append(route)
        methods = {method for route in self.routes for method in getattr(route, "methods", None) or ()}
        self._index = {
            key: {
                None: candidates,
                **{method: [route for route in candidates if _may_serve(route, method)] for method in methods},
            }
            for key, candidates in by_key.items()
        }
        self._index_for = (self._routes_version, len(self.routes))

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if "router" not in scope:
                scope["router"] = self
            for route in self._candidates(get_route_path(scope), scope["method"]):
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
