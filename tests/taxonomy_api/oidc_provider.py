"""A small OpenID Connect provider for the tests, served by uvicorn on loopback: discovery, JWKS, an
authorize endpoint that approves at once as the configured person, and a token endpoint that checks
the client's secret, the code, the redirect URI and the PKCE verifier before it signs an ID token
(RS256, a key made here). Tests bend its answers (`claims`, `sign_with_other_key`) to see each refusal."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route


@dataclass
class StubOpenIDProvider:
    """The provider's state; `issuer` is set once it is served."""

    issuer: str = ""
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "provider-key"}))
    # Same kid, other key: a token signed with it must not verify.
    other_key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "provider-key"}))
    clients: dict[str, str] = field(default_factory=dict)  # client_id -> secret
    email: str = ""
    email_verified: bool = True
    claims: dict[str, Any] = field(default_factory=dict)  # merged over the ID token's claims
    sign_with_other_key: bool = False
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def reset(self) -> None:
        self.email, self.email_verified, self.claims, self.sign_with_other_key = "", True, {}, False
        self.codes.clear()
        self.token_requests.clear()

    def id_token(self, client_id: str, nonce: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": f"subject-{self.email}",
            "aud": client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "email": self.email,
            "email_verified": self.email_verified,
            **self.claims,
        }
        key = self.other_key if self.sign_with_other_key else self.key
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def _error(description: str, status: int = 400, error: str = "invalid_request") -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def provider_app(provider: StubOpenIDProvider) -> Starlette:
    async def metadata(request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": provider.issuer,
                "authorization_endpoint": f"{provider.issuer}/authorize",
                "token_endpoint": f"{provider.issuer}/token",
                "jwks_uri": f"{provider.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            }
        )

    async def jwks(request: Request) -> Response:
        return JSONResponse(KeySet([provider.key]).as_dict(private=False))

    async def authorize(request: Request) -> Response:
        query = request.query_params
        if query.get("response_type") != "code" or query.get("client_id") not in provider.clients:
            return _error("unknown client or response type")
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return _error("PKCE S256 is required")
        if "openid" not in query.get("scope", "").split():
            return _error("not an OpenID request")
        code = secrets.token_urlsafe(16)
        provider.codes[code] = {
            "client_id": query["client_id"],
            "redirect_uri": query["redirect_uri"],
            "challenge": query["code_challenge"],
            "nonce": query.get("nonce", ""),
        }
        return RedirectResponse(f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}", 302)

    async def token(request: Request) -> Response:
        form = dict(await request.form())
        provider.token_requests.append(form)
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        client_id, _, secret = base64.b64decode(credentials or "").decode().partition(":")
        client_id, secret = unquote(client_id), unquote(secret)
        if scheme != "Basic" or provider.clients.get(client_id) != secret:
            return _error("client authentication failed", 401, "invalid_client")
        grant = provider.codes.pop(form.get("code", ""), None)
        if grant is None or grant["client_id"] != client_id or grant["redirect_uri"] != form.get("redirect_uri"):
            return _error("unknown code", error="invalid_grant")
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["challenge"]:
            return _error("PKCE verifier does not match", error="invalid_grant")
        return JSONResponse(
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": provider.id_token(client_id, grant["nonce"]),
            }
        )

    return Starlette(
        routes=[
            Route("/.well-known/openid-configuration", metadata),
            Route("/jwks", jwks),
            Route("/authorize", authorize),
            Route("/token", token, methods=["POST"]),
        ]
    )
