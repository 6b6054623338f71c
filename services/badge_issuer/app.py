"""CredStack badge issuer."""

from fastapi import FastAPI

from services.badge_issuer.settings import IssuerSettings
from shared.service_app import build_service_app


def create_app(settings: IssuerSettings | None = None) -> FastAPI:
    settings = settings or IssuerSettings()
    return build_service_app(
        settings,
        title="CredStack badge issuer",
        description="Issues and verifies Open Badges 3.0 credentials (skeleton: issuance arrives with its own issue).",
        routers=[],
    )
