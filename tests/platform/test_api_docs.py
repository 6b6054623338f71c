"""The API docs of every service work offline and can Authorize with the client-credentials grant."""

import re

from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from services.gap_engine.app import create_app as create_gap_engine
from services.gap_engine.settings import GapSettings
from services.taxonomy_api.app import create_app as create_taxonomy
from services.taxonomy_api.provisioning import bootstrap_organisation
from services.taxonomy_api.settings import TaxonomySettings
from shared.api_docs import ASSET_MEDIA_TYPES
from shared.auth import CLIENT_CREDENTIALS_SCHEME, SCOPES, Authenticator
from tests.conftest import asgi_client


async def test_docs_pages_load_only_their_own_files(each_service):
    async def check(app, client, name):
        for page in ("/docs", "/redoc"):
            response = await client.get(page)
            assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
            html = response.text
            assert "http://" not in html and "https://" not in html and "//" not in html.replace("://", ""), (
                f"{name}{page} names another host"
            )
            policy = response.headers["content-security-policy"]
            assert "default-src 'self'" in policy and "img-src 'self' data:" in policy
            referenced = re.findall(r'(?:src|href)="([^"]+)"', html)
            assets = [url for url in referenced if url.startswith("/docs/assets/")]
            assert len(assets) == len(referenced) and len(assets) >= 2, referenced
            for url in assets:
                asset = await client.get(url)
                assert asset.status_code == 200, url
                assert asset.headers["content-type"] == ASSET_MEDIA_TYPES[url.rsplit("/", 1)[1]]
                assert "max-age=31536000" in asset.headers["cache-control"]
                assert len(asset.content) > 1000

    await each_service(check)


async def test_swagger_ui_redirect_page_and_unknown_assets(each_service):
    async def check(app, client, name):
        html = (await client.get("/docs")).text
        redirect = re.search(r"oauth2RedirectUrl: window.location.origin \+ '([^']+)'", html)
        assert redirect is not None
        page = await client.get(redirect.group(1))
        assert page.status_code == 200 and "oauth2" in page.text
        asset = re.search(r'src="(/docs/assets/[^"]+/)swagger-ui-bundle.js"', html).group(1)
        assert (await client.get(asset + "..%2f..%2fcore.py")).status_code == 404
        assert (await client.get(asset + "core.py")).status_code == 404

    await each_service(check)


def _route_scopes(route: RouteContext) -> list[list[str]]:
    """The scopes each `requires(...)` in the route's dependency tree asks for, read from the code."""
    found, pending = [], list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if isinstance(dependency.call, Authenticator):
            found.append(list(dependency.call.scopes))
        pending.extend(dependency.dependencies)
    return found


async def test_openapi_declares_the_grant_and_each_routes_scopes(each_service):
    taxonomy = "http://taxonomy.test:9001"
    overrides = {
        "taxonomy_api": {"public_base_url": taxonomy},
        "badge_issuer": {"taxonomy_url": taxonomy},
        "gap_engine": {"taxonomy_url": taxonomy},
    }

    async def check(app, client, name):
        document = (await client.get("/openapi.json")).json()
        scheme = document["components"]["securitySchemes"][CLIENT_CREDENTIALS_SCHEME]
        assert scheme["type"] == "oauth2"
        assert scheme["flows"] == {
            "clientCredentials": {"tokenUrl": f"{taxonomy}/oauth/token", "scopes": SCOPES},
        }
        authenticated = 0
        for route in iter_route_contexts(app.routes):
            if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
                continue
            for method in route.methods:
                operation = document["paths"][route.path_format][method.lower()]
                expected = _route_scopes(route)
                if not expected:
                    assert "security" not in operation, f"public {method} {route.path} lists security"
                    continue
                authenticated += 1
                (scopes,) = expected  # one auth rule per route
                assert operation["security"] == [{"HTTPBearer": scopes}, {CLIENT_CREDENTIALS_SCHEME: scopes}], (
                    f"{name} {method} {route.path}"
                )
        assert authenticated >= 5, name

    await each_service(check, **overrides)


async def test_an_explicit_public_token_url_wins(service_settings):
    url = "https://auth.example.com/oauth/token"
    app = create_gap_engine(service_settings(GapSettings, "gap_engine", public_token_url=url))
    async for client in asgi_client(app):
        document = (await client.get("/openapi.json")).json()
        flow = document["components"]["securitySchemes"][CLIENT_CREDENTIALS_SCHEME]["flows"]["clientCredentials"]
        assert flow["tokenUrl"] == url
        assert "https://auth.example.com" in (await client.get("/docs")).headers["content-security-policy"]


async def test_the_token_endpoint_documents_examples_it_accepts(service_settings):
    settings = service_settings(TaxonomySettings, "taxonomy_api")
    created = await bootstrap_organisation(settings, "Docs Example Co", "docs")
    app = create_taxonomy(settings)
    async for client in asgi_client(app):
        document = (await client.get("/openapi.json")).json()
        body = document["paths"]["/oauth/token"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
        fields = document["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[1]]["properties"]
        (grant_type,) = fields["grant_type"]["examples"]
        (scope,) = fields["scope"]["examples"]
        assert grant_type == "client_credentials" and len(scope.split()) >= 2
        response = await client.post(
            "/oauth/token",
            data={
                "grant_type": grant_type,
                "scope": scope,
                "client_id": created["client_id"],
                "client_secret": created["client_secret"],
            },
        )
        assert response.status_code == 200, response.text
        assert response.json()["scope"] == " ".join(sorted(scope.split()))


def _operations(document: dict) -> list[tuple[str, str, dict]]:
    methods = {"get", "post", "put", "patch", "delete"}
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in methods
    ]


async def test_every_error_is_documented_as_problem_json(each_service):
    """What shared/errors.py answers for every error, the document says, on every operation."""

    async def check(app, client, name):
        document = (await client.get("/openapi.json")).json()
        problem = document["components"]["schemas"]["Problem"]
        assert problem["required"] == ["type", "title", "status", "detail"]
        assert "HTTPValidationError" not in document["components"]["schemas"]
        for method, path, operation in _operations(document):
            errors = {status: response for status, response in operation["responses"].items() if status >= "400"}
            assert "422" in errors, f"{name} {method} {path}: a NUL in the URL is a 422 everywhere"
            for status, response in errors.items():
                assert list(response["content"]) == ["application/problem+json"], f"{name} {method} {path} {status}"
                assert response["content"]["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"
                }
                assert response["description"]

    await each_service(check)


async def test_error_statuses_follow_what_each_route_declares(each_service):
    """Auth gives 401/403, a path id 404, a body 400/413, a session 503 (and 409 on a write), the
    public rate limit 429: derived from each route's dependencies, not listed by hand."""

    async def check(app, client, name):
        document = (await client.get("/openapi.json")).json()
        for method, path, operation in _operations(document):
            statuses = set(operation["responses"])
            where = f"{name} {method} {path}"
            if operation.get("security"):
                assert {"401", "403"} <= statuses, where
            if "{" in path:
                assert "404" in statuses, where
            if "requestBody" in operation:
                assert {"400", "413"} <= statuses, where
            for limited in ("429", "503"):
                if limited in statuses:
                    assert "Retry-After" in operation["responses"][limited]["headers"], where
        skills = document["paths"].get("/v1/skills/{item_id}")
        if skills is not None:  # the taxonomy: a read and a write on the database
            assert {"404", "503"} <= set(skills["get"]["responses"]) and "409" not in skills["get"]["responses"]
            assert {"409", "503"} <= set(skills["put"]["responses"])
        public = document["paths"].get("/v1/public/credentials/{credential_id}")
        if public is not None:  # the issuer's public, rate-limited page
            assert {"401", "404", "429"} <= set(public["get"]["responses"]) and "security" not in public["get"]
        assert "503" not in document["paths"]["/healthz"]["get"]["responses"]  # no database behind it
        metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
        assert list(metrics) == ["text/plain"]

    await each_service(check)


async def test_the_idempotency_key_is_required_where_the_issuer_requires_it(each_service):
    async def check(app, client, name):
        if name != "badge_issuer":
            return
        document = (await client.get("/openapi.json")).json()

        def key(path: str) -> dict:
            parameters = document["paths"][path]["post"]["parameters"]
            (header,) = [parameter for parameter in parameters if parameter["name"] == "Idempotency-Key"]
            return header

        required = key("/v1/assessment-results")
        assert required["required"] is True and required["schema"]["type"] == "string"
        assert required["schema"]["minLength"] == 1
        for honoured in ("/v1/issuers", "/v1/webhook-subscriptions"):  # replayed when sent, not required
            assert key(honoured)["required"] is False
        missing = await client.post("/v1/assessment-results", json={})
        assert missing.status_code in (401, 422)  # auth first: the header is checked for a caller

    await each_service(check)


async def test_a_405_allows_every_method_the_path_serves(each_service):
    """Starlette's 405 named the methods of the first route matching the path only (GET of
    /v1/skills/{id} hid PUT and DELETE); the Allow header now lists them all."""
    expected = {
        "taxonomy_api": ("/v1/skills/3fa85f64-5717-4562-b3fc-2c963f66afa6", "DELETE, GET, PUT"),
        "badge_issuer": ("/v1/webhook-subscriptions", "GET, POST"),
        "gap_engine": ("/v1/trusted-issuers/3fa85f64-5717-4562-b3fc-2c963f66afa6", "DELETE, PATCH"),
    }

    async def check(app, client, name):
        path, allowed = expected[name]
        response = await client.request("OPTIONS", path)
        assert response.status_code == 405
        assert response.headers["allow"] == allowed
        assert response.headers["content-type"].startswith("application/problem+json")

    await each_service(check)
