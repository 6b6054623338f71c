"""The cross-tenant walk every service's suite runs.

It classifies every route: authenticated (its OpenAPI operation carries the bearer scheme) or explicitly public (tagged
`public` or `operations`); a route that is neither fails the walk, so no endpoint lacks an auth rule.
Then it calls every authenticated route with no token (must be 401) and with another organisation's
token aimed at the owner's objects (must not be 2xx on the owner's object, and must never show any of
the owner's identifiers), and finally checks the owner's objects are intact.
"""

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

PUBLIC_TAGS = {"public", "operations"}


@dataclass
class TenantWalk:
    owner_headers: dict[str, str]
    intruder_headers: dict[str, str]
    # Path parameter values (the owner's objects) by route template, e.g. {"/v1/skills/{item_id}": {...}}.
    path_params: dict[str, dict[str, str]]
    # A request body per (METHOD, template) for routes that take one; written to reference owner objects.
    bodies: dict[tuple[str, str], Any]
    # Strings that identify the owner's data (ids, unique names): none may reach the intruder.
    owner_markers: set[str]
    # Owner URLs that must still answer 200 to the owner after the walk.
    owner_objects: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    takes_body: bool


def authenticated_routes(app: FastAPI) -> list[Operation]:
    """Every authenticated operation, read from the OpenAPI document (the bearer scheme marks them);
    asserts that every other operation is explicitly public."""
    found, unclassified = [], []
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            if any("HTTPBearer" in requirement for requirement in operation.get("security", [])):
                found.append(Operation(method.upper(), path, "requestBody" in operation))
            elif not PUBLIC_TAGS & set(operation.get("tags", [])):
                unclassified.append(f"{method.upper()} {path}")
    assert not unclassified, f"routes with no explicit auth rule: {unclassified}"
    # DELETE last, so the other calls still find the owner's objects.
    return sorted(found, key=lambda op: (op.method == "DELETE", op.path, op.method))


def _url(operation: Operation, walk: TenantWalk) -> str:
    names = re.findall(r"{(\w+)}", operation.path)
    if not names:
        return operation.path
    values = walk.path_params.get(operation.path)
    assert values is not None, f"the walk has no owner object for {operation.path}"
    return operation.path.format(**{name: values[name] for name in names})


async def walk_every_authenticated_route(client: httpx.AsyncClient, app: FastAPI, walk: TenantWalk) -> int:
    """Returns how many (method, route) pairs were walked."""
    routes = authenticated_routes(app)
    for operation in routes:
        method, url = operation.method, _url(operation, walk)
        body = walk.bodies.get((method, operation.path))
        if operation.takes_body:
            assert body is not None, f"the walk has no body for {method} {operation.path}"
        kwargs: dict[str, Any] = {"json": body} if body is not None else {}

        anonymous = await client.request(method, url, **kwargs)
        assert anonymous.status_code == 401, f"{method} {url} without a token answered {anonymous.status_code}"
        assert anonymous.headers["content-type"].startswith("application/problem+json")

        intruder = await client.request(method, url, headers=walk.intruder_headers, **kwargs)
        # Echoing what the intruder itself sent (an id in its URL or body) reveals nothing new.
        sent = url + (json.dumps(body) if body is not None else "")
        leaked = _leaks(intruder.text, {m for m in walk.owner_markers if m not in sent})
        assert not leaked, f"{method} {url} showed another organisation's data: {leaked}"
        if "{" in operation.path:
            assert intruder.status_code in {403, 404}, (
                f"{method} {url} on another organisation's object answered {intruder.status_code}"
            )
        assert intruder.status_code < 500, f"{method} {url} answered {intruder.status_code}"

    for url in walk.owner_objects:
        response = await client.get(url, headers=walk.owner_headers)
        assert response.status_code == 200, f"owner's {url} was changed by the intruder: {response.status_code}"
    return len(routes)


def _leaks(text: str, markers: Iterable[str]) -> list[str]:
    return [marker for marker in markers if marker in text]


def page_routes_without_an_auth_rule(app: FastAPI) -> list[str]:
    """Page routes (left out of OpenAPI) each state who may see them: a `signed_in(...)` dependency or
    the `public` tag. Returns the ones that state neither."""
    from fastapi.routing import APIRoute

    from shared.web.session import PageAccess

    def guarded(dependant) -> bool:  # noqa: ANN001
        return any(isinstance(dep.call, PageAccess) or guarded(dep) for dep in dependant.dependencies)

    def routes(container) -> Iterable:  # noqa: ANN001 - an app or an included router (FastAPI wraps them)
        for route in container.routes:
            included = getattr(route, "original_router", None)
            yield from routes(included) if included is not None else (route,)

    return [
        f"{sorted(route.methods)} {route.path}"
        for route in routes(app)
        if isinstance(route, APIRoute)
        and not route.include_in_schema
        and not guarded(route.dependant)
        and "public" not in route.tags
    ]
