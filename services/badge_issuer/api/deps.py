"""Dependencies the issuer's routers share: who may call, and the app's collaborators."""

from fastapi import Request

from services.badge_issuer.domain.key_vault import KeyVault
from services.badge_issuer.domain.taxonomy_client import TaxonomyClient
from shared.auth import requires

Admin = requires("admin")
CredentialsReader = requires("credentials:read")
CredentialsRevoker = requires("credentials:revoke")
AssessmentsWriter = requires("assessments:write")

ERRORS = {
    401: {"description": "No or invalid access token"},
    403: {"description": "The token lacks the scope"},
    404: {"description": "Not found in the caller's organisation"},
}


def key_vault(request: Request) -> KeyVault:
    return request.app.state.key_vault


def taxonomy(request: Request) -> TaxonomyClient:
    return request.app.state.taxonomy


def base_url(request: Request) -> str:
    return request.app.state.settings.public_base_url
