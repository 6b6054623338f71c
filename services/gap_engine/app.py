"""CredStack gap engine."""

from fastapi import FastAPI

from services.gap_engine.settings import GapSettings
from shared.service_app import build_service_app


def create_app(settings: GapSettings | None = None) -> FastAPI:
    settings = settings or GapSettings()
    return build_service_app(
        settings,
        title="CredStack gap engine",
        description="Role competencies against verified badges (skeleton: analysis arrives with its own issue).",
        routers=[],
    )
