from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import VAR_DIR, OutboundSettings

# The embedded platform's docs pages (taxonomy, issuer, gap engine on their default ports), as a
# browser on the same machine may name them.
DEV_DOCS_ORIGINS = [f"http://{host}:{port}" for host in ("127.0.0.1", "localhost") for port in (8001, 8002, 8003)]


class TaxonomySettings(OutboundSettings):
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
    # Origins whose pages may call POST /oauth/token from a browser (CORS): the issuer's and the gap
    # engine's /docs pages get their token there through Authorize. Exact origins, e.g.
    # CREDSTACK_TAXONOMY_TOKEN_CORS_ORIGINS='["https://issuer.example.com"]'; "*" only in dev. Unset:
    # the embedded platform's loopback origins in dev, none in production.
    token_cors_origins: list[str] = Field(default_factory=list, max_length=100)
    # Directories an admin may name files in for POST /v1/imports (server paths); empty: uploads only.
    import_roots: list[str] = Field(default_factory=list, max_length=20)
    # The bound on an import upload (POST /v1/imports/uploads); every other body keeps max_body_bytes.
    max_upload_bytes: int = Field(64 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    # Run queued import jobs in this process (every replica may: jobs are leased rows).
    import_worker: bool = True
    # The gap engine that a publication asks to follow it (POST /v1/taxonomy/refresh, with the
    # publisher's token); unset: nobody is told, and the gap engine's refresh is called by hand.
    gap_engine_url: str | None = None
    gap_engine_timeout_seconds: float = Field(60.0, gt=0, le=600)

    @field_validator("token_cors_origins")
    @classmethod
    def _exact_origins(cls, origins: list[str]) -> list[str]:
        """A browser sends `scheme://host[:port]`; anything else (a path, a trailing slash) never matches."""
        for origin in origins:
            parts = urlsplit(origin)
            exact = parts.scheme in {"http", "https"} and parts.netloc and origin == f"{parts.scheme}://{parts.netloc}"
            if origin != "*" and not exact:
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port], nothing after it)")
        return origins

    @model_validator(mode="after")
    def _origins_for_environment(self) -> "TaxonomySettings":
        if self.environment == "production" and "*" in self.token_cors_origins:
            raise ValueError("token_cors_origins may not be '*' in production: list the docs origins")
        if self.environment == "dev" and "token_cors_origins" not in self.model_fields_set:
            self.token_cors_origins = list(DEV_DOCS_ORIGINS)
        return self

    # Encrypts identity providers' client secrets at rest (base64 of 32 random bytes). Needed in
    # production only once an organisation configures single sign-on; created in master_key_file in dev.
    master_key: SecretStr | None = None
    master_key_file: Path = VAR_DIR / "taxonomy_master_key"
