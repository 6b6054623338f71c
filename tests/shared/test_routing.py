"""The flat, indexed routes (shared/routing.py) answer and document exactly as FastAPI's included routers."""

from fastapi import APIRouter, Depends, FastAPI, HTTPException
from fastapi.responses import PlainTextResponse
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


async def _mounted(scope, receive, send) -> None:
    await PlainTextResponse(f"mounted {scope['path']}")(scope, receive, send)


def _included() -> FastAPI:
    app = FastAPI()
    app.mount("/mounted", _mounted)
    for router in _routers():
        app.include_router(router)
    return app


def _flat() -> FastAPI:
    app = FastAPI()
    app.mount("/mounted", _mounted)
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
    ("GET", "/mounted/deep/file"),
    ("POST", "/mounted"),
    ("GET", "/mountedness"),  # 404: not under the mount
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
    tried = [route.path for route in router._candidates("/v1/items/7", "GET")]
    assert "/v1/items/{item_id}" in tried and "/{anything}/tail" in tried
    assert "/healthz" not in tried and "/v1/guarded/x" not in tried and "/mounted" not in tried
    # In declaration order, so the first full match is FastAPI's.
    assert tried.index("/v1/items/{item_id}") < tried.index("/v1/items/special")
    assert {route.path for route in router._candidates("/v1/tail", "GET")} >= {"/{anything}/tail", "/v1"}
    # Only routes of the request's method: PUT /v1/items/{item_id} could match a GET only partly.
    assert [route.path for route in router._candidates("/v1/items/7", "PUT")] == ["/v1/items/{item_id}"]
    assert [route.path for route in router._candidates("/mounted/deep/file", "GET")] == ["/mounted", "/{anything}/tail"]


def _authenticated_app(flat: bool) -> tuple[FastAPI, str]:
    """An app with one route behind `requires("taxonomy:read")`, and a token that holds the scope."""
    import uuid

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from shared.auth import Principal, TokenAuthority, TokenVerifier, requires
    from shared.errors import install_problem_handlers

    key = Ed25519PrivateKey.generate()
    router = APIRouter(prefix="/v1/things")

    @router.get("/{thing_id}")
    async def read(thing_id: int, caller: requires("taxonomy:read")) -> dict:  # type: ignore[valid-type]
        assert isinstance(caller, Principal)
        return {"id": thing_id, "client": caller.client_id}

    app = FastAPI()
    install_problem_handlers(app)
    app.state.token_verifier = TokenVerifier(key.public_key(), issuer="credstack", audience="credstack")
    if flat:
        index_routes(app)
        include_routes(app, router)
    else:
        app.include_router(router)
    authority = TokenAuthority(key, issuer="credstack", audience="credstack", ttl_seconds=60)
    return app, authority.issue(org_id=uuid.uuid4(), client_id="reader", scopes=frozenset({"taxonomy:read"}))


def test_a_flat_route_does_not_run_the_security_schemes_that_are_there_for_openapi(monkeypatch):
    """Each dependency FastAPI solves costs a request ~40 us; the two schemes only document the header."""
    from shared import auth

    def never(*_: object) -> None:
        raise AssertionError("a documentation-only scheme ran")

    app, token = _authenticated_app(flat=True)
    monkeypatch.setattr(auth._DocumentedBearer, "__call__", never)
    monkeypatch.setattr(auth._DocumentedClientCredentials, "__call__", never)
    with TestClient(app) as client:
        response = client.get("/v1/things/3", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.json() == {"id": 3, "client": "reader"}


def test_the_authenticator_reads_the_header_as_http_bearer_does():
    for flat in (True, False):
        app, token = _authenticated_app(flat)
        with TestClient(app) as client:

            def status(authorization: str | None) -> int:
                headers = {} if authorization is None else {"Authorization": authorization}
                return client.get("/v1/things/3", headers=headers).status_code

            assert status(f"Bearer {token}") == 200
            assert status(f"bearer   {token}  ") == 200
            assert [status(value) for value in (None, "", "Bearer", "Bearer ", f"Basic {token}", token)] == [401] * 6
            assert status("Bearer not-a-token") == 401


def test_a_flat_authenticated_route_documents_both_schemes_and_its_scopes():
    flat, _ = _authenticated_app(flat=True)
    included, _ = _authenticated_app(flat=False)
    document = flat.openapi()
    assert document == included.openapi()
    assert document["paths"]["/v1/things/{thing_id}"]["get"]["security"] == [
        {"HTTPBearer": ["taxonomy:read"]},
        {"OAuth2ClientCredentials": ["taxonomy:read"]},
    ]
    assert set(document["components"]["securitySchemes"]) == {"HTTPBearer", "OAuth2ClientCredentials"}
