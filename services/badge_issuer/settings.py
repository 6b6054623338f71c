from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from shared.safe_fetch import FetchPolicy
from shared.settings import VAR_DIR, ServiceSettings

# In dev (the embedded platform on one machine) the services reach each other on loopback over plain
# http, so those hosts are allowed unless the outbound settings are given explicitly.
DEV_LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "::1"]
MAX_ALLOWLIST_ENTRIES = 100


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
    # Achievements and pathways read from taxonomy_api are reused for this long, then revalidated with
    # If-None-Match: a taxonomy change shows in issuance within this bound (0 = revalidate every read).
    taxonomy_cache_ttl_seconds: float = Field(5.0, ge=0, le=300)
    # On PostgreSQL each process reserves this many status-list indexes per side transaction; indexes a
    # crash leaves unused are never handed out (their bits stay 0). 1 = one claim per credential.
    status_index_block_size: int = Field(64, ge=1, le=4096)
    # How long a replica trusts its signed status list before re-reading the list's revision: a
    # revocation through another replica shows within this bound (the revoking replica: at once).
    status_revision_ttl_seconds: float = Field(1.0, ge=0, le=60)

    # --- outbound requests (SSRF guard) ------------------------------------------------------------
    # Everything this service fetches or posts to a URL someone else chose goes through one policy:
    # the verifier's did:web documents, JWKs / JWKS named by a kid, remote status lists, and webhook
    # deliveries. https only, to public addresses only, unless allowed below.
    # Whole exchange (DNS, every redirect hop, the body) must finish within this many seconds.
    fetch_timeout_seconds: float = Field(5.0, gt=0, le=30)
    # Largest body accepted from a remote document (DID document, JWKS, status list credential).
    fetch_max_bytes: int = Field(1_048_576, ge=1024, le=16 * 1_048_576)
    # Redirects followed, each hop checked again like the first URL.
    fetch_max_redirects: int = Field(3, ge=0, le=10)
    # Fetched documents kept in memory (per process), reused for their Cache-Control max-age, at most
    # fetch_cache_max_ttl_seconds; 0 entries turns the cache off.
    fetch_cache_max_entries: int = Field(256, ge=0, le=10_000)
    fetch_cache_max_ttl_seconds: int = Field(300, ge=0, le=86_400)
    # Hosts trusted whatever they resolve to (e.g. an internal HRIS receiver), exact names, e.g.
    # CREDSTACK_ISSUER_FETCH_ALLOWED_HOSTS='["hris.internal"]'. Not resolved-and-pinned: trusted.
    fetch_allowed_hosts: list[str] = Field(default_factory=list, max_length=MAX_ALLOWLIST_ENTRIES)
    # Networks (CIDR) whose addresses are allowed though private, e.g. '["10.20.0.0/16"]'.
    fetch_allowed_networks: list[str] = Field(default_factory=list, max_length=MAX_ALLOWLIST_ENTRIES)
    # Hosts that may be reached over plain http (tests, dev); every other URL must be https.
    fetch_allow_http_hosts: list[str] = Field(default_factory=list, max_length=MAX_ALLOWLIST_ENTRIES)
    # JSON {URL: file}: documents served from these files instead of the network (a DID document, a
    # JWKS, a status list; `.jwt` for a VC-JWT status list). For air-gapped sites and tests; read at start.
    fetch_pinned_documents: dict[str, Path] = Field(default_factory=dict, max_length=MAX_ALLOWLIST_ENTRIES)

    @field_validator("fetch_allowed_networks")
    @classmethod
    def _networks_parse(cls, networks: list[str]) -> list[str]:
        FetchPolicy.build(allowed_networks=networks)  # raises ValueError naming the bad one
        return networks

    @model_validator(mode="after")
    def _dev_loopback(self) -> "IssuerSettings":
        """In dev the embedded platform's services talk on loopback; explicit settings win."""
        outbound = {"fetch_allowed_hosts", "fetch_allowed_networks", "fetch_allow_http_hosts"}
        if self.environment == "dev" and not outbound & self.model_fields_set:
            self.fetch_allowed_hosts = list(DEV_LOOPBACK_HOSTS)
            self.fetch_allow_http_hosts = list(DEV_LOOPBACK_HOSTS)
        return self

    @property
    def token_service_url(self) -> str:
        return self.taxonomy_url

    def fetch_policy(self) -> FetchPolicy:
        return FetchPolicy.build(
            allowed_hosts=self.fetch_allowed_hosts,
            allowed_networks=self.fetch_allowed_networks,
            allow_http_hosts=self.fetch_allow_http_hosts,
            timeout_seconds=self.fetch_timeout_seconds,
            max_bytes=self.fetch_max_bytes,
            max_redirects=self.fetch_max_redirects,
            cache_max_entries=self.fetch_cache_max_entries,
            cache_max_ttl_seconds=self.fetch_cache_max_ttl_seconds,
            pinned_files=self.fetch_pinned_documents,
        )
