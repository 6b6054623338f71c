"""Dependencies solved by a plan (shared/dependency_plan.py) give every request what FastAPI's own
solver gives it: the same values, the same 422s, the same caching and clean-up."""

import uuid
from typing import Annotated, Literal

import pytest
from fastapi import APIRouter, Body, Cookie, Depends, FastAPI, Header, Query, Request, Response
from fastapi.testclient import TestClient

from shared.dependency_plan import compile_plan
from shared.routing import FlatRoute, include_routes, index_routes

closed: list[str] = []
calls: list[str] = []


async def tenant(x_tenant: Annotated[str, Header(min_length=2)]) -> str:
    calls.append("tenant")
    return x_tenant


async def session(request: Request, tenant_name: Annotated[str, Depends(tenant)]):
    """An async-generator dependency: its clean-up must run once the response is sent."""
    yield f"session of {tenant_name} for {request.url.path}"
    closed.append(tenant_name)


async def unrelated() -> str:
    return "declared"


def _router() -> APIRouter:
    router = APIRouter(prefix="/v1")

    @router.get("/things/{thing_id}")
    async def thing(
        thing_id: uuid.UUID,
        request: Request,
        tenant_name: Annotated[str, Depends(tenant)],
        opened: Annotated[str, Depends(session)],  # needs tenant too: solved once per request (cached)
        version: Literal["draft", "published"] = "draft",
        limit: Annotated[int, Query(ge=1, le=10)] = 5,
        flavour: Annotated[str | None, Cookie()] = None,
        user_agent: Annotated[str | None, Header()] = None,
    ) -> dict:
        return {
            "id": str(thing_id),
            "tenant": tenant_name,
            "opened": opened,
            "version": version,
            "limit": limit,
            "flavour": flavour,
            "agent": user_agent,
            "path": request.url.path,
        }

    @router.get("/uncached")
    async def uncached(
        first: Annotated[str, Depends(tenant)], second: Annotated[str, Depends(tenant, use_cache=False)]
    ) -> dict:
        return {"first": first, "second": second}

    return router


def _app() -> FastAPI:
    app = FastAPI()
    index_routes(app)
    include_routes(app, _router())
    return app


REQUESTS = [
    ("/v1/things/6f1c1c9e-5d3e-4a4e-9a55-3d2f3f0c2b11", {"x-tenant": "acme"}, {}),
    ("/v1/things/6f1c1c9e-5d3e-4a4e-9a55-3d2f3f0c2b11?version=published&limit=10", {"x-tenant": "acme"}, {}),
    ("/v1/things/6f1c1c9e-5d3e-4a4e-9a55-3d2f3f0c2b11", {"x-tenant": "acme", "user-agent": "probe"}, {"flavour": "x"}),
    ("/v1/things/not-a-uuid?version=final&limit=0", {"x-tenant": "a"}, {}),  # every error at once
    ("/v1/things/6f1c1c9e-5d3e-4a4e-9a55-3d2f3f0c2b11", {}, {}),  # the dependency's header is missing
    ("/v1/things/6f1c1c9e-5d3e-4a4e-9a55-3d2f3f0c2b11?limit=abc&limit=3", {"x-tenant": "acme"}, {}),
    ("/v1/uncached", {"x-tenant": "acme"}, {}),
]


def _answers(client: TestClient) -> list[tuple]:
    answers = []
    for path, headers, cookies in REQUESTS:
        calls.clear()
        closed.clear()
        client.cookies.clear()
        for name, value in cookies.items():
            client.cookies.set(name, value)
        response = client.get(path, headers=headers)
        answers.append((path, response.status_code, response.json(), list(calls), list(closed)))
    return answers


def test_a_planned_route_answers_every_request_as_fastapi_solves_it():
    app = _app()
    route = next(route for route in app.routes if getattr(route, "path", "") == "/v1/things/{thing_id}")
    assert isinstance(route, FlatRoute) and compile_plan(route.dependant) is not None
    client = TestClient(app)
    planned = _answers(client)
    # With any override in place a flat route solves through FastAPI: the same requests, FastAPI's answers.
    app.dependency_overrides[unrelated] = lambda: "overridden"
    by_fastapi = _answers(client)
    assert planned == by_fastapi
    ok = planned[0]
    assert ok[1] == 200 and ok[3] == ["tenant"] and ok[4] == ["acme"]  # cached once, cleaned up once
    # The id, version, limit, and the short tenant header once for each dependency that reads it.
    assert planned[3][1] == 422 and len(planned[3][2]["detail"]) == 5
    assert planned[-1][3] == ["tenant", "tenant"]  # use_cache=False solves it again


def test_an_override_is_honoured_on_a_planned_route():
    app = _app()
    app.dependency_overrides[tenant] = lambda: "overridden"
    response = TestClient(app).get("/v1/things/6f1c1c9e-5d3e-4a4e-9a55-3d2f3f0c2b11")
    assert response.status_code == 200 and response.json()["tenant"] == "overridden"


def _dependant_of(endpoint) -> object:
    app = FastAPI()
    app.get("/x")(endpoint)
    return app.routes[-1].dependant


def sync_dependency() -> int:
    return 1


async def with_body(payload: Annotated[dict, Body()]) -> None: ...
async def with_list(tag: Annotated[list[str], Query()]) -> None: ...
async def with_response(response: Response) -> None: ...
async def with_sync(value: Annotated[int, Depends(sync_dependency)]) -> None: ...


@pytest.mark.parametrize("endpoint", [with_body, with_list, with_response, with_sync])
def test_what_a_plan_does_not_cover_stays_with_fastapi(endpoint):
    assert compile_plan(_dependant_of(endpoint)) is None
