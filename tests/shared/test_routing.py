"""The flat, indexed routes (shared/routing.py) answer and document exactly as FastAPI's included routers."""

from fastapi import APIRouter, Depends, FastAPI, HTTPException
from fastapi.testclient import TestClient

from shared.routing import IndexedRouter, include_routes, index_routes


def _guard() -> None:
    raise HTTPException(status_code=403, detail="guarded")


def _routers() -> list[APIRouter]:
    items = APIRouter(prefix="/v1/items", tags=["items"])

    @items.get("/{item_id}", summary="One item")
    async def one(item_id: int) -> dict:
        return {"route": "one", "id": item_id}

    @items.get("/special")  # declared after /{item_id}: never reached for GET (first match wins)
    async def special() -> dict:
        return {"route": "special"}

    @items.put("/{item_id}")
    async def replace(item_id: int) -> dict:
        return {"route": "replace", "id": item_id}

    @items.get("")
    async def listing() -> dict:
        return {"route": "list"}

    guarded = APIRouter(prefix="/v1/guarded", dependencies=[Depends(_guard)], include_in_schema=False)

    @guarded.get("/x")
    async def x() -> dict:
        return {"route": "x"}

    loose = APIRouter()

    @loose.get("/{anything}/tail")  # no literal segment: tried for every path
    async def tail(anything: str) -> dict:
        return {"route": "tail", "anything": anything}

    @loose.get("/v1")
    async def root() -> dict:
        return {"route": "v1"}

    @loose.get("/healthz")
    async def healthz() -> dict:
        return {"route": "healthz"}

    return [items, guarded, loose]


def _included() -> FastAPI:
    app = FastAPI()
    for router in _routers():
        app.include_router(router)
    return app


def _flat() -> FastAPI:
    app = FastAPI()
    index_routes(app)
    for router in _routers():
        include_routes(app, router)
    return app


REQUESTS = [
    ("GET", "/v1/items/7"),
    ("GET", "/v1/items/special"),  # 422: the first route, /{item_id}, takes it
    ("PUT", "/v1/items/7"),
    ("DELETE", "/v1/items/7"),  # 405
    ("GET", "/v1/items"),
    ("GET", "/v1/items/"),  # slash redirect
    ("GET", "/v1/guarded/x"),  # the router's dependency still applies
    ("GET", "/v1/tail"),
    ("GET", "/v1/items/tail"),
    ("GET", "/zzz/tail"),
    ("GET", "/v1"),
    ("GET", "/healthz"),
    ("GET", "/healthz/"),
    ("GET", "/nowhere/at/all"),  # 404
    ("GET", "/"),
]


def test_flat_routes_answer_every_request_as_included_routers_do():
    included, flat = TestClient(_included()), TestClient(_flat())
    assert isinstance(flat.app.router, IndexedRouter)
    for method, path in REQUESTS:
        expected = included.request(method, path, follow_redirects=False)
        got = flat.request(method, path, follow_redirects=False)
        assert (got.status_code, got.content, got.headers.get("allow"), got.headers.get("location")) == (
            expected.status_code,
            expected.content,
            expected.headers.get("allow"),
            expected.headers.get("location"),
        ), (method, path)


def test_flat_routes_document_the_same_openapi():
    assert _flat().openapi() == _included().openapi()


def test_the_index_sees_routes_added_later():
    app = _flat()
    client = TestClient(app)
    assert client.get("/v1/later").status_code == 404

    @app.get("/v1/later")
    async def later() -> dict:
        return {"route": "later"}

    assert client.get("/v1/later").json() == {"route": "later"}


def test_service_openapi_is_unchanged_by_flat_routes(monkeypatch, tmp_path):
    """The taxonomy service's whole OpenAPI document, built flat, equals the one built with include_router."""
    import shared.service_app as service_app
    from services.taxonomy_api.app import create_app
    from services.taxonomy_api.settings import TaxonomySettings

    def settings() -> TaxonomySettings:
        return TaxonomySettings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'taxonomy.db'}",
            auth_private_key_file=tmp_path / "auth.pem",
            import_worker=False,
        )

    flat = create_app(settings()).openapi()
    monkeypatch.setattr(service_app, "include_routes", lambda app, router: app.include_router(router))
    monkeypatch.setattr(service_app, "index_routes", lambda app: None)
    assert create_app(settings()).openapi() == flat


def test_a_path_is_tried_only_against_the_routes_that_can_match_it():
    router = _flat().router
    assert isinstance(router, IndexedRouter)
    tried = [route.path for route in router._candidates("/v1/items/7") if hasattr(route, "path")]
    assert "/v1/items/{item_id}" in tried and "/{anything}/tail" in tried
    assert "/healthz" not in tried and "/v1/guarded/x" not in tried
    # In declaration order, so the first full match is FastAPI's.
    assert tried.index("/v1/items/{item_id}") < tried.index("/v1/items/special")
    assert {route.path for route in router._candidates("/v1/tail")} >= {"/{anything}/tail", "/v1"}
