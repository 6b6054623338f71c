from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class TaxonomySettings(ServiceSettings):
    """Environment variables CREDSTACK_TAXONOMY_* (and the shared CREDSTACK_* ones)."""

    model_config = SettingsConfigDict(env_prefix="CREDSTACK_TAXONOMY_", extra="ignore", populate_by_name=True)
    service_name: str = "taxonomy_api"
    public_base_url: str = "http://127.0.0.1:8001"
    # How long a replica trusts its last read of an organisation's taxonomy revision before asking the
    # database again: the most a change made through another replica can take to show. 0 = every read.
    read_cache_revision_ttl_ms: int = Field(200, ge=0, le=60_000)
    # People who sign in to the pages.
    session_hours: int = Field(12, ge=1, le=24 * 30)
    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65_535)
    smtp_starttls: bool = True
    smtp_username: str | None = None
    smtp_password: str | None = None
    mail_from: str = "CredStack <no-reply@credstack.invalid>"
