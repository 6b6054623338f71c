"""Settings common to every service; each service subclasses with its own env prefix."""

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = REPO_ROOT / "var"


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
    # Per organisation, for callers with an access token (the gap engine verifying, an HRIS): sized for
    # bulk intake (1,000 credentials a second), still a bound.
    authenticated_rate_limit_per_minute: int = Field(60_000, ge=1)
    # Connections per service process (CREDSTACK_<SERVICE>_DB_POOL_SIZE / _DB_MAX_OVERFLOW): 20 kept
    # plus 20 on demand covers 32 concurrent requests; 10 + 10 made a third of them queue for one, and
    # every connection opened beyond the kept ones costs a connect and a server process.
    db_pool_size: int = Field(20, ge=1, le=200)
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
