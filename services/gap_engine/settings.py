from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import VAR_DIR, OutboundSettings


class GapSettings(OutboundSettings):
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
    # Every counted credential is verified again this often (signature, validity window, status list):
    # a revocation stops counting within one interval even when no webhook arrives.
    status_recheck_seconds: float = Field(3600, ge=1)
    # How long a credential keeps counting while its verifier cannot be asked, before it shows
    # status_unknown and stops: a day rides out an issuer's outage or maintenance without every
    # dashboard dropping, and still bounds how long an unreachable issuer can hide a revocation.
    status_grace_seconds: float = Field(86_400, ge=0)
    # How often each replica looks for due re-checks, and how long its lease on the sweep lasts.
    status_sweep_poll_seconds: float = Field(30, ge=0.05)
    status_sweep_lease_seconds: float = Field(120, ge=1)
    status_sweep_enabled: bool = True
    # How often the credentials the organisation's issuer issued are listed and compared with what
    # arrived here (sources with an API client): a missed or dead webhook is made good within this.
    reconcile_seconds: float = Field(300, ge=1)

    @property
    def token_service_url(self) -> str:
        return self.taxonomy_url
