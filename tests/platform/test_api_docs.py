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
