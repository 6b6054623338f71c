"""OAuth2 client-credentials access tokens: one authority signs, every service verifies.

Tokens are short-lived EdDSA JWTs carrying the organisation and scopes. Verification pins the
algorithm to the key type, so `alg: none` or an HS256 token forged with the public key is refused.
"""

import hashlib
import hmac
import secrets
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2

from shared.errors import Forbidden, Unauthorized
from shared.settings import ServiceSettings

SCOPES = {
    "taxonomy:read": "Read skills, roles, achievements and pathways",
    "taxonomy:write": "Change the taxonomy",
    "assessments:write": "Post assessment results for issuance",
    "credentials:read": "Read issued credentials and wallets",
    "credentials:revoke": "Revoke credentials",
    "gaps:read": "Read gap reports and recommendations",
    "hris:write": "Sync employees, roles and KPI observations",
    "admin": "Everything in the organisation, including clients and issuers",
}
_VERIFIED_TOKEN_CACHE_SIZE = 10_000
TOKEN_ALGORITHM = "EdDSA"  # noqa: S105 - an algorithm name, not a secret
# A service serving a signed-in person's page exchanges their page token (shared/web/session.py) at the
# token endpoint for an API token (RFC 8693), to read what the person may read through another API.
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a grant name
PAGE_TOKEN_TYPE = "urn:credstack:params:oauth:token-type:page"  # noqa: S105 - a token type name


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the organisation every query is scoped to, the client, its granted scopes."""

    org_id: uuid.UUID
    client_id: str
    scopes: frozenset[str]

    def has(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


def generate_client_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_client_secret(secret: str) -> str:
    """Secrets are 256-bit random strings, so a plain SHA-256 resists guessing and keeps tokens fast."""
    return hashlib.sha256(secret.encode()).hexdigest()


def client_secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_client_secret(secret), stored_hash)


def load_or_create_private_key(path: Path, *, create: bool) -> Ed25519PrivateKey:
    """The authority's signing key; created on first start in dev, required in production."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        return key
    if not create:
        raise RuntimeError(f"token signing key {path} is missing (set CREDSTACK_AUTH_PRIVATE_KEY_FILE)")
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.touch(mode=0o600)
    path.write_bytes(pem)
    return key


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


class TokenVerifier:
    def __init__(self, public_key: Ed25519PublicKey, *, issuer: str, audience: str) -> None:
        self.public_key = public_key
        self.issuer = issuer
        self.audience = audience
        self._verified: dict[str, tuple[float, Principal]] = {}

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> "TokenVerifier":
        if settings.auth_public_key_pem:
            key = serialization.load_pem_public_key(settings.auth_public_key_pem.encode())
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("CREDSTACK_AUTH_PUBLIC_KEY_PEM must be an Ed25519 public key")
        else:
            private = load_or_create_private_key(settings.auth_private_key_file, create=settings.environment == "dev")
            key = private.public_key()
        return cls(key, issuer=settings.token_issuer, audience=settings.token_audience)

    def verify(self, token: str) -> Principal:
        """Verified tokens are remembered until they expire: a signature check costs more than the
        rest of a cached read, and a token cannot change once signed."""
        remembered = self._verified.get(token)
        if remembered is not None and remembered[0] > time.time():
            return remembered[1]
        principal, expires_at = self._verify_signature(token)
        if len(self._verified) >= _VERIFIED_TOKEN_CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)))
        self._verified[token] = (expires_at, principal)
        return principal

    def claims(self, token: str, *, audience: str) -> dict[str, object]:
        """The verified claims of a token meant for `audience` (the pages' session tokens carry more
        than a Principal, and a different audience, so an API never accepts one)."""
        try:
            return jwt.decode(
                token,
                self.public_key,
                algorithms=[TOKEN_ALGORITHM],
                issuer=self.issuer,
                audience=audience,
                options={"require": ["exp", "iat", "sub", "org", "scope"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(token_refusal(exc)) from exc

    def _verify_signature(self, token: str) -> tuple[Principal, float]:
        try:
            claims = self.claims(token, audience=self.audience)
            principal = Principal(
                org_id=uuid.UUID(claims["org"]),
                client_id=str(claims["sub"]),
                scopes=frozenset(str(claims["scope"]).split()),
            )
            return principal, float(claims["exp"])
        except (ValueError, TypeError) as exc:
            raise Unauthorized("The access token's claims are malformed; request a new token.") from exc


def token_refusal(error: jwt.PyJWTError) -> str:
    """Which check a token failed, so a client knows whether to fetch a new token or fix its setup.
    Saying which never helps a forger: each check is public (the algorithm, issuer and audience are
    in the discovery document) and none reveals a secret."""
    if isinstance(error, jwt.ExpiredSignatureError):
        return "The access token has expired; request a new one from /oauth/token."
    if isinstance(error, jwt.ImmatureSignatureError):
        return "The access token is not valid yet (its iat or nbf is in the future); check the clocks."
    if isinstance(error, jwt.InvalidAudienceError):
        return "The access token was issued for another audience than this API."
    if isinstance(error, jwt.InvalidIssuerError):
        return "The access token was issued by another token issuer than this platform's."
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"The access token lacks the required claim '{error.claim}'."
    if isinstance(error, jwt.InvalidSignatureError):
        return "The access token's signature does not verify with this platform's token key."
    if isinstance(error, jwt.InvalidAlgorithmError):
        return f"The access token must be signed with {TOKEN_ALGORITHM}."
    return "The access token is not a well-formed JWT."


class TokenAuthority:
    """Signs access tokens; only the taxonomy service holds one."""

    def __init__(self, private_key: Ed25519PrivateKey, *, issuer: str, audience: str, ttl_seconds: int) -> None:
        self.private_key = private_key
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> "TokenAuthority":
        key = load_or_create_private_key(settings.auth_private_key_file, create=settings.environment == "dev")
        return cls(
            key,
            issuer=settings.token_issuer,
            audience=settings.token_audience,
            ttl_seconds=settings.access_token_ttl_seconds,
        )

    def issue(
        self,
        *,
        org_id: uuid.UUID,
        client_id: str,
        scopes: frozenset[str],
        audience: str | None = None,
        extra: dict[str, object] | None = None,
    ) -> str:
        now = int(time.time())
        claims = {
            **(extra or {}),
            "iss": self.issuer,
            "aud": audience or self.audience,
            "sub": client_id,
            "org": str(org_id),
            "scope": " ".join(sorted(scopes)),
            "iat": now,
            "exp": now + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.private_key, algorithm=TOKEN_ALGORITHM)


TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a secret
CLIENT_CREDENTIALS_SCHEME = "OAuth2ClientCredentials"


class _DocumentedBearer(HTTPBearer):
    """The bearer scheme as OpenAPI states it; the Authenticator reads the header itself."""

    documentation_only = True


class _DocumentedClientCredentials(OAuth2):
    """The client-credentials grant as OpenAPI states it (the docs' Authorize dialog runs it)."""

    documentation_only = True


_bearer = _DocumentedBearer(
    auto_error=False, scheme_name="HTTPBearer", description="An access token from POST /oauth/token, pasted as it is"
)
# Its tokenUrl is relative here; each service's OpenAPI document replaces it with the token endpoint's
# public URL.
_client_credentials = _DocumentedClientCredentials(
    flows=OAuthFlows(clientCredentials=OAuthFlowClientCredentials(tokenUrl=TOKEN_PATH, scopes=SCOPES)),
    scheme_name=CLIENT_CREDENTIALS_SCHEME,
    description="Client credentials grant at the taxonomy service's token endpoint",
    auto_error=False,
)


def bearer_token(request: Request) -> str | None:
    """The token of `Authorization: Bearer <token>` (scheme in any case), as HTTPBearer reads it."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


# The authenticated caller of the request being served, for code below the routes that records who
# did something (the taxonomy's draft authors) without every route passing it down.
current_caller: ContextVar["Principal | None"] = ContextVar("current_caller", default=None)


class Authenticator:
    """Dependency that admits a caller holding every listed scope; the route's signature says who."""

    def __init__(self, *scopes: str) -> None:
        unknown = set(scopes) - SCOPES.keys()
        if unknown:
            raise ValueError(f"unknown scopes {unknown}")
        self.scopes = scopes

    async def __call__(
        self,
        request: Request,
        # Both declare the same header for OpenAPI only: a route built by shared.routing does not even
        # run them (each dependency costs a request more than the token check), and this reads it itself.
        _bearer_scheme: HTTPAuthorizationCredentials | None = Depends(_bearer),
        _grant: str | None = Depends(_client_credentials),
    ) -> Principal:
        token = bearer_token(request)
        if token is None:
            raise Unauthorized("An access token is required (Authorization: Bearer ...).")
        principal: Principal = request.app.state.token_verifier.verify(token)
        missing = [scope for scope in self.scopes if not principal.has(scope)]
        if missing:
            raise Forbidden(f"The access token lacks the scope(s): {', '.join(missing)}.")
        current_caller.set(principal)
        return principal


def requires(*scopes: str) -> type[Principal]:
    """`caller: requires("taxonomy:read")` in a route signature declares its auth rule; OpenAPI lists
    these scopes as the operation's security requirement."""
    return Annotated[Principal, Security(Authenticator(*scopes), scopes=list(scopes))]  # type: ignore[return-value]
