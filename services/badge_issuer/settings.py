from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class IssuerSettings(ServiceSettings):
    """Environment variables CREDSTACK_ISSUER_* (and the shared CREDSTACK_* ones)."""

    model_config = SettingsConfigDict(env_prefix="CREDSTACK_ISSUER_", extra="ignore", populate_by_name=True)
    service_name: str = "badge_issuer"
    public_base_url: str = "http://127.0.0.1:8002"
    taxonomy_url: str = "http://127.0.0.1:8001"
