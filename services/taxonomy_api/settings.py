from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import VAR_DIR, OutboundFetchSettings


class TaxonomySettings(OutboundFetchSettings):
    """Environment variables CREDSTACK_TAXONOMY_* (and the shared CREDSTACK_* ones). Its outbound policy
    (fetch_*) covers what single sign-on reaches: an identity provider's metadata, keys and token endpoint."""

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
    # Encrypts identity providers' client secrets at rest (base64 of 32 random bytes). Needed in
    # production only once an organisation configures single sign-on; created in master_key_file in dev.
    master_key: SecretStr | None = None
    master_key_file: Path = VAR_DIR / "taxonomy_master_key"
