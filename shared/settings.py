"""Settings common to every service; each service subclasses with its own env prefix."""

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.safe_fetch import FetchPolicy

REPO_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = REPO_ROOT / "var"
# In dev (the embedded platform on one machine) the services reach each other on loopback over plain
# http, so those hosts are allowed unless the outbound settings are given explicitly.
DEV_LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "::1"]
MAX_ALLOWLIST_ENTRIES = 100


def shared_env(name: str) -> AliasChoices:
    """Settings that must agree across the three services are read from one CREDSTACK_ name."""
    return AliasChoices(f"CREDSTACK_{name}")


class ServiceSettings(BaseSettings):
    """Base of each service's settings object (pydantic-settings, one env prefix per service)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    service_name: str = "service"
    environment: Literal["dev", "production"] = Field("dev", validation_alias=shared_env("ENVIRONMENT"))
    database_url: str = ""
    public_base_url: str = "http://127.0.0.1:8000"
    # Ed25519 key that signs access tokens. Only the token authority (taxonomy_api) needs the private
    # key; the others verify with the public key (PEM), or derive it from the same file in dev.
    auth_private_key_file: Path = Field(
        VAR_DIR / "auth_signing_key.pem", validation_alias=shared_env("AUTH_PRIVATE_KEY_FILE")
    )
    auth_public_key_pem: str | None = Field(None, validation_alias=shared_env("AUTH_PUBLIC_KEY_PEM"))
    token_issuer: str = Field("credstack", validation_alias=shared_env("TOKEN_ISSUER"))
    token_audience: str = Field("credstack", validation_alias=shared_env("TOKEN_AUDIENCE"))
    # The token endpoint as a browser reaches it: the docs pages' Authorize dialog posts there. Unset,
    # it is the taxonomy service's public_base_url (taxonomy_url on the issuer and the gap engine).
    public_token_url: str | None = Field(None, validation_alias=shared_env("PUBLIC_TOKEN_URL"))
    access_token_ttl_seconds: int = Field(900, ge=60, le=86_400)
    # Where people reach each service's pages (nav links, sign-in redirects, the `next` URLs allowed
    # after sign-in). Behind one reverse proxy these are one origin; in dev, three ports of one host.
    taxonomy_page_url: str = Field("http://127.0.0.1:8001", validation_alias=shared_env("TAXONOMY_PAGE_URL"))
    issuer_page_url: str = Field("http://127.0.0.1:8002", validation_alias=shared_env("ISSUER_PAGE_URL"))
    gap_page_url: str = Field("http://127.0.0.1:8003", validation_alias=shared_env("GAP_PAGE_URL"))
    max_body_bytes: int = Field(1_048_576, ge=1024)
    log_level: str = Field("INFO", validation_alias=shared_env("LOG_LEVEL"))
    access_log: bool = True
    public_rate_limit_per_minute: int = Field(600, ge=1)
    # The proxies (addresses or CIDRs, comma-separated; CREDSTACK_FORWARDED_ALLOW_IPS) whose
    # X-Forwarded-For / X-Forwarded-Proto `credstack run` believes. Behind a load balancer the peer is
    # the balancer, so without this every caller shares one public rate-limit budget; empty (the
    # default) believes no one, so a client cannot forge its address.
    forwarded_allow_ips: str = Field("", max_length=2000, validation_alias=shared_env("FORWARDED_ALLOW_IPS"))
    # Per organisation, for callers with an access token (the gap engine verifying, an HRIS): sized for
    # bulk intake (1,000 credentials a second), still a bound.
    authenticated_rate_limit_per_minute: int = Field(60_000, ge=1)
    # Connections per service process (CREDSTACK_<SERVICE>_DB_POOL_SIZE / _DB_MAX_OVERFLOW): 20 kept
    # plus 20 on demand covers 32 concurrent requests; 10 + 10 made a third of them queue for one, and
    # every connection opened beyond the kept ones costs a connect and a server process.
    db_pool_size: int = Field(20, ge=1, le=200)
    # PostgreSQL's lock_timeout on every connection (CREDSTACK_<SERVICE>_DB_LOCK_TIMEOUT_MS): the longest a
    # statement waits for a lock; then the request is a 503 with Retry-After and its transaction ends.
    db_lock_timeout_ms: int = Field(10_000, ge=100, le=600_000)
    # PostgreSQL's statement_timeout (CREDSTACK_<SERVICE>_DB_STATEMENT_TIMEOUT_MS): the longest one
    # statement runs before it is cancelled and the request answers 503 with Retry-After. Imports raise
    # it for their own transaction.
    db_statement_timeout_ms: int = Field(30_000, ge=100, le=3_600_000)
    # PostgreSQL's idle_in_transaction_session_timeout: a session left idle inside a transaction this
    # long is ended, and the row locks it held with it.
    db_idle_in_transaction_timeout_ms: int = Field(60_000, ge=1_000, le=3_600_000)
    # The longest a request may take before its answer starts: then it is answered 503 problem+json
    # with Retry-After, its work cancelled and its transaction rolled back. Long work is a job
    # (imports, CSV uploads) and answers at once; the longest synchronous request, a 500-item bulk
    # issuance, takes about 0.5 s alone and 25 s on a 2-core machine at load 13, hence 60.
    request_deadline_seconds: float = Field(60.0, gt=0, le=600)
    db_max_overflow: int = Field(20, ge=0, le=200)

    def sqlite_default(self, name: str) -> str:
        VAR_DIR.mkdir(exist_ok=True)
        return f"sqlite+aiosqlite:///{VAR_DIR / name}.db"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or self.sqlite_default(self.service_name)

    @property
    def token_service_url(self) -> str:
        """Base URL of the token authority; the taxonomy service is it, the others override this."""
        return self.public_base_url


class OutboundSettings(ServiceSettings):
    """Settings of a service that fetches documents others name (shared/safe_fetch.py's policy)."""

    # --- outbound requests (SSRF guard) ------------------------------------------------------------
    # Everything the service fetches or posts to a URL someone else chose goes through one policy:
    # https only, to public addresses only, unless allowed below.
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
    # CREDSTACK_<SERVICE>_FETCH_ALLOWED_HOSTS='["hris.internal"]'. Not resolved-and-pinned: trusted.
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
    def _dev_loopback(self) -> "OutboundSettings":
        """In dev the embedded platform's services talk on loopback; explicit settings win."""
        outbound = {"fetch_allowed_hosts", "fetch_allowed_networks", "fetch_allow_http_hosts"}
        if self.environment == "dev" and not outbound & self.model_fields_set:
            self.fetch_allowed_hosts = list(DEV_LOOPBACK_HOSTS)
            self.fetch_allow_http_hosts = list(DEV_LOOPBACK_HOSTS)
        return self

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
