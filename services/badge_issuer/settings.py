from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import VAR_DIR, OutboundSettings


class IssuerSettings(OutboundSettings):
    """Environment variables CREDSTACK_ISSUER_* (and the shared CREDSTACK_* ones). Outbound fetches
    (the fetch_* settings): the verifier's did:web documents, JWKs / JWKS named by a kid, remote status
    lists, and webhook deliveries."""

    model_config = SettingsConfigDict(env_prefix="CREDSTACK_ISSUER_", extra="ignore", populate_by_name=True)
    service_name: str = "badge_issuer"
    public_base_url: str = "http://127.0.0.1:8002"
    taxonomy_url: str = "http://127.0.0.1:8001"
    taxonomy_timeout_seconds: float = Field(5.0, gt=0, le=60)
    # AES-256-GCM key (base64 of 32 bytes) that encrypts issuer signing keys at rest. Required in
    # production; in dev it is created once in master_key_file when absent.
    master_key: SecretStr | None = None
    master_key_file: Path = VAR_DIR / "issuer_master_key"
    # Achievements and pathways read from taxonomy_api are reused for this long, then revalidated with
    # If-None-Match: a taxonomy change shows in issuance within this bound (0 = revalidate every read).
    taxonomy_cache_ttl_seconds: float = Field(5.0, ge=0, le=300)
    # On PostgreSQL each process reserves this many status-list indexes per side transaction; indexes a
    # crash leaves unused are never handed out (their bits stay 0). 1 = one claim per credential.
    status_index_block_size: int = Field(64, ge=1, le=4096)
    # How long a replica trusts its signed status list before re-reading the list's revision: a
    # revocation through another replica shows within this bound (the revoking replica: at once).
    status_revision_ttl_seconds: float = Field(1.0, ge=0, le=60)
    # How long a replica trusts what it knows of its own keys before re-reading the issuer key revision:
    # a key compromised through another replica stops verifying here within this bound (the replica
    # that revoked it: at once). 0 re-reads the revision at every verification.
    key_revision_ttl_seconds: float = Field(0.2, ge=0, le=60)
    # Webhook delivery: subscriptions one process sends to at once, POSTs in flight to one of them
    # (different learners' events; each learner's in order), and how long a claimed delivery stays
    # leased to it (a crashed replica's claims lapse after this).
    webhook_concurrency: int = Field(8, ge=1, le=64)
    webhook_lanes: int = Field(4, ge=1, le=32)
    webhook_lease_seconds: float = Field(60.0, ge=10, le=3600)

    @model_validator(mode="after")
    def _lease_outlasts_a_send(self) -> "IssuerSettings":
        """A send starts only while its lease outlasts the fetch timeout: a lease shorter than two
        timeouts would leave almost no time to send in."""
        if self.webhook_lease_seconds < 2 * self.fetch_timeout_seconds:
            raise ValueError("webhook_lease_seconds must be at least twice fetch_timeout_seconds")
        return self

    @property
    def token_service_url(self) -> str:
        return self.taxonomy_url
