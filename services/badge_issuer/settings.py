from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import VAR_DIR, ServiceSettings


class IssuerSettings(ServiceSettings):
    """Environment variables CREDSTACK_ISSUER_* (and the shared CREDSTACK_* ones)."""

    model_config = SettingsConfigDict(env_prefix="CREDSTACK_ISSUER_", extra="ignore", populate_by_name=True)
    service_name: str = "badge_issuer"
    public_base_url: str = "http://127.0.0.1:8002"
    taxonomy_url: str = "http://127.0.0.1:8001"
    taxonomy_timeout_seconds: float = Field(5.0, gt=0, le=60)
    # AES-256-GCM key (base64 of 32 bytes) that encrypts issuer signing keys at rest. Required in
    # production; in dev it is created once in master_key_file when absent.
    master_key: SecretStr | None = None
    master_key_file: Path = VAR_DIR / "issuer_master_key"
