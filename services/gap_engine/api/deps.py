"""Who may call what (typed dependencies) and the documented error responses, declared once."""

from fastapi import Request

from services.gap_engine.domain.issuer_client import IssuerVerifier
from services.gap_engine.domain.taxonomy_client import TaxonomyClient
from shared.auth import requires

HrisWriter = requires("hris:write")
GapReader = requires("gaps:read")
Admin = requires("admin")

ERRORS = {
    401: {"description": "No or invalid access token"},
    403: {"description": "The token lacks the scope"},
    404: {"description": "Not found in the caller's organisation"},
}
WRITE_ERRORS = {
    **ERRORS,
    409: {"description": "Conflicts with existing data"},
    413: {"description": "Body too large"},
    422: {"description": "Invalid body (the problem names the field)"},
}


def taxonomy(request: Request) -> TaxonomyClient:
    return request.app.state.taxonomy


def verifier(request: Request) -> IssuerVerifier:
    return request.app.state.verifier
