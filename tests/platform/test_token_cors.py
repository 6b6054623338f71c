"""The token endpoint answers CORS for the platform's own docs pages, and for no one else."""

from urllib.parse import urlsplit

import pytest

from services.badge_issuer.settings import IssuerSettings
from services.gap_engine.settings import GapSettings
from services.taxonomy_api.app import create_app as create_taxonomy
from services.taxonomy_api.settings import TaxonomySettings
from tests.conftest import asgi_client

SWAGGER_HEADERS = "authorization,content-type,x-requested-with"  # what Swagger UI's Authorize sends


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _preflight(origin: str, path: str = "/oauth/token") -> dict[str, object]:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": SWAGGER_HEADERS,
    }
    return {"url": path, "headers": headers}


async def test_token_endpoint_answers_cors_for_the_platforms_docs_only(service_settings):
    gap_origin = _origin(GapSettings().public_base_url)
    issuer_origin = _origin(IssuerSettings().public_base_url)
    app = create_taxonomy(service_settings(TaxonomySettings, "taxonomy_api"))
    async for client in asgi_client(app):
        for origin in (gap_origin, issuer_origin):
            allowed = await client.options(**_preflight(origin))
            assert allowed.status_code == 200, allowed.text
            assert allowed.headers["access-control-allow-origin"] == origin
            assert "POST" in allowed.headers["access-control-allow-methods"]
        refused = await client.options(**_preflight("http://attacker.example"))
        assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
        # Only the token endpoint: the rest of the API stays same-origin.
        elsewhere = await client.options(**_preflight(gap_origin, "/v1/skills"))
        assert "access-control-allow-origin" not in elsewhere.headers
        answered = await client.post("/oauth/token", data={"grant_type": "x"}, headers={"Origin": gap_origin})
        assert answered.headers["access-control-allow-origin"] == gap_origin


async def test_token_cors_origins_are_configured(service_settings):
    origin = "https://gaps.example.com"
    settings = service_settings(TaxonomySettings, "taxonomy_api", token_cors_origins=[origin])
    app = create_taxonomy(settings)
    async for client in asgi_client(app):
        assert (await client.options(**_preflight(origin))).headers["access-control-allow-origin"] == origin
        dev_default = await client.options(**_preflight(_origin(GapSettings().public_base_url)))
        assert "access-control-allow-origin" not in dev_default.headers
    assert TaxonomySettings(environment="production").token_cors_origins == []
    with pytest.raises(ValueError, match="production"):
        TaxonomySettings(environment="production", token_cors_origins=["*"])
    for not_an_origin in ("https://gaps.example.com/", "https://gaps.example.com/docs", "gaps.example.com"):
        with pytest.raises(ValueError, match="not an origin"):
            TaxonomySettings(token_cors_origins=[not_an_origin])
