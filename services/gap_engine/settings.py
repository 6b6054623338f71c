from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import VAR_DIR, ServiceSettings


class GapSettings(ServiceSettings):
    """Environment variables CREDSTACK_GAP_* (and the shared CREDSTACK_* ones)."""

    model_config = SettingsConfigDict(env_prefix="CREDSTACK_GAP_", extra="ignore", populate_by_name=True)
    service_name: str = "gap_engine"
    public_base_url: str = "http://127.0.0.1:8003"
    taxonomy_url: str = "http://127.0.0.1:8001"
    issuer_url: str = "http://127.0.0.1:8002"
    taxonomy_timeout_seconds: float = 5.0
    # Encrypts webhook source secrets at rest (base64 of 32 random bytes); required in production,
    # created once in master_key_file in dev.
    master_key: SecretStr | None = None
    master_key_file: Path = VAR_DIR / "gap_engine_master_key"
    # An HRIS bulk upsert of 5,000 full records is about 1.5 MB of JSON: above the shared 1 MiB bound.
    max_body_bytes: int = Field(8_388_608, ge=1024)
