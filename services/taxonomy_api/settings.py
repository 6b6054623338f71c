from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class TaxonomySettings(ServiceSettings):
    """Environment variables CREDSTACK_TAXONOMY_* (and the shared CREDSTACK_* ones)."""

    model_config = SettingsConfigDict(env_prefix="CREDSTACK_TAXONOMY_", extra="ignore", populate_by_name=True)
    service_name: str = "taxonomy_api"
    public_base_url: str = "http://127.0.0.1:8001"
