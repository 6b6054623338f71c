"""Single sign-on through an organisation's own OpenID Connect provider: the authorization-code flow
with PKCE (S256), state and nonce.

The provider vouches for a verified email; the person of *that provider's organisation* with that
email is signed in, and nobody else: no account is ever created here, a disabled person stays out,
and one organisation's provider cannot sign in another's people. Everything fetched from or posted
to the provider (its metadata, its keys, its token endpoint) goes through the service's SafeFetcher
(https to public addresses, one deadline, a size cap), the same policy as every other outbound call.
The ID token's signature is checked by joserfc against the provider's JWKS, with the algorithms
pinned to asymmetric ones, and its claims by Authlib's OpenID Connect rules (iss, aud, azp, exp,
iat, nonce, at_hash). The state, nonce and PKCE verifier live in a row used once and within minutes;
the browser holds the state in a cookie, so a callback that did not start in this browser is refused.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, InvalidKeyIdError, JoseError, MissingClaimError
from joserfc.jwk import KeySet
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.tables import IdentityProvider, SingleSignOnAttempt, User
from services.taxonomy_api.domain.people import normalise_email
from shared.db import utcnow
from shared.errors import Forbidden, NotFound, ServiceUnavailable, Unprocessable
from shared.repository import TenantRepository
from shared.safe_fetch import FetchError, SafeFetcher
from shared.secret_box import MasterKeyError, SecretBox

log = logging.getLogger(__name__)

ATTEMPT_LIFETIME = timedelta(minutes=10)
# Asymmetric only: an HS256 ID token would be keyed with the client secret, which then signs as the provider.
ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
CLOCK_LEEWAY_SECONDS = 60
NO_MASTER_KEY = "Single sign-on needs the service's master key (CREDSTACK_TAXONOMY_MASTER_KEY), which is not set."


class SignInRefused(Forbidden):
    """The provider's answer does not sign anyone in; the detail says why, in words for the person."""


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """What discovery (OpenID Connect Discovery 1.0) says, checked and reduced to what the flow uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: tuple[str, ...]
    client_secret_basic: bool


@dataclass(frozen=True, slots=True)
class Departure:
    """Where to send the browser, and the state value it must bring back (kept in a cookie)."""

    authorization_url: str
    state: str
    provider_host: str


def provider_repository(session: AsyncSession, org_id: uuid.UUID) -> TenantRepository[IdentityProvider]:
    return TenantRepository(session, org_id, IdentityProvider, "identity provider")


def _bound_to(org_id: uuid.UUID) -> str:
    return f"identity-provider:{org_id}"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def discovery_url(issuer: str) -> str:
    return f"{issuer.rstrip('/')}/.well-known/openid-configuration"


async def discover(fetcher: SafeFetcher, issuer: str) -> ProviderMetadata:
    """The provider's metadata; raises Unprocessable naming what is wrong (unreachable, refused by the
    outbound policy, or not the issuer it claims to be)."""
    url = discovery_url(issuer)
    try:
        document = (await fetcher.fetch(url)).json()
    except FetchError as error:
        raise Unprocessable(
            f"The provider's metadata at {url} cannot be read: {error.reason}.", field="issuer"
        ) from error
    if not isinstance(document, dict):
        raise Unprocessable(f"The provider's metadata at {url} is not a JSON object.", field="issuer")
    if document.get("issuer") != issuer:
        # Discovery §4.3: the issuer in the metadata is exactly the one asked for (a trailing slash counts).
        raise Unprocessable(
            f"The provider at {url} calls itself {str(document.get('issuer'))[:200]!r}, not {issuer!r}.",
            field="issuer",
        )
    endpoints = {}
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        value = document.get(name)
        if not isinstance(value, str) or not value:
            raise Unprocessable(f"The provider's metadata has no {name}.", field="issuer")
        try:
            await fetcher.vet(value)  # the browser goes to the first; we reach the other two
        except FetchError as error:
            raise Unprocessable(f"The provider's {name} is refused: {error.reason}.", field="issuer") from error
        endpoints[name] = value
    challenge_methods = document.get("code_challenge_methods_supported")
    if isinstance(challenge_methods, list) and "S256" not in challenge_methods:
        raise Unprocessable("The provider does not support PKCE with S256.", field="issuer")
    advertised = document.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = tuple(alg for alg in ID_TOKEN_ALGORITHMS if isinstance(advertised, list) and alg in advertised)
    if not algorithms:
        raise Unprocessable(
            f"The provider signs ID tokens with none of {', '.join(ID_TOKEN_ALGORITHMS)}.", field="issuer"
        )
    methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    if "client_secret_basic" not in methods and "client_secret_post" not in methods:
        raise Unprocessable("The provider accepts neither client_secret_basic nor client_secret_post.", field="issuer")
    return ProviderMetadata(
        issuer=issuer,
        algorithms=algorithms,
        client_secret_basic="client_secret_basic" in methods,
        **endpoints,
    )


async def _key_set(fetcher: SafeFetcher, metadata: ProviderMetadata, *, fresh: bool = False) -> KeySet:
    document = (await fetcher.fetch(metadata.jwks_uri, use_cache=not fresh)).json()
    return KeySet.import_key_set(document)


async def configure_provider(
    session: AsyncSession,
    org_id: uuid.UUID,
    box: SecretBox | None,
    fetcher: SafeFetcher,
    *,
    issuer: str,
    client_id: str,
    client_secret: str,
    allowed_email_domains: list[str],
) -> IdentityProvider:
    """Sets (or replaces) the organisation's provider, after reading its metadata and keys, so a typo
    shows now rather than at someone's sign-in. Trips begun under the previous settings stop working."""
    if box is None:
        raise ServiceUnavailable(NO_MASTER_KEY)
    metadata = await discover(fetcher, issuer)
    try:
        await _key_set(fetcher, metadata, fresh=True)
    except (FetchError, JoseError, ValueError, TypeError) as error:
        raise Unprocessable(
            f"The provider's keys at {metadata.jwks_uri} cannot be used: {error}.", field="issuer"
        ) from error
    repository = provider_repository(session, org_id)
    provider = await session.scalar(repository.select())
    if provider is None:
        provider = repository.add(IdentityProvider())
    else:
        await session.execute(delete(SingleSignOnAttempt).where(SingleSignOnAttempt.provider_id == provider.id))
    provider.issuer = issuer
    provider.client_id = client_id
    provider.client_secret_sealed = box.seal_bytes(client_secret.encode(), _bound_to(org_id))
    provider.allowed_email_domains = sorted({domain.lower() for domain in allowed_email_domains})
    await session.flush()
    return provider


async def provider_of(session: AsyncSession, org_id: uuid.UUID) -> IdentityProvider:
    provider = await session.scalar(provider_repository(session, org_id).select())
    if provider is None:
        raise NotFound("This organisation has no identity provider.")
    return provider


async def remove_provider(session: AsyncSession, org_id: uuid.UUID) -> None:
    await session.delete(await provider_of(session, org_id))
    await session.flush()


async def start_sign_in(
    session: AsyncSession, fetcher: SafeFetcher, *, email: str, redirect_uri: str, next_url: str
) -> Departure:
    """The trip to the provider of the organisation this email belongs to. Emails are unique across
    organisations, so the address names the organisation; a provider is never chosen by the email's
    domain alone, which another organisation could claim to send people to a look-alike page."""
    provider = await session.scalar(
        select(IdentityProvider)
        .join(User, User.org_id == IdentityProvider.org_id)
        .where(User.email == normalise_email(email)[:320], User.disabled.is_(False))
    )
    if provider is None:
        raise SignInRefused(
            "There is no single sign-on for this address. Sign in with your password, "
            "or ask your organisation's CredStack admin."
        )
    metadata = await _metadata_for_sign_in(fetcher, provider)
    state, nonce, verifier = generate_token(43), generate_token(43), generate_token(64)
    now = utcnow()
    await session.execute(delete(SingleSignOnAttempt).where(SingleSignOnAttempt.expires_at < now))
    session.add(
        SingleSignOnAttempt(
            provider_id=provider.id,
            state_hash=_digest(state),
            nonce=nonce,
            code_verifier=verifier,
            next_url=next_url[:2048],
            expires_at=now + ATTEMPT_LIFETIME,
        )
    )
    await session.flush()
    url = prepare_grant_uri(
        metadata.authorization_endpoint,
        provider.client_id,
        "code",
        redirect_uri=redirect_uri,
        scope="openid email",
        state=state,
        nonce=nonce,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
        login_hint=normalise_email(email),
    )
    return Departure(url, state, urlsplit(metadata.authorization_endpoint).netloc)


async def _metadata_for_sign_in(fetcher: SafeFetcher, provider: IdentityProvider) -> ProviderMetadata:
    try:
        return await discover(fetcher, provider.issuer)
    except Unprocessable as error:
        log.warning("identity provider of organisation %s unusable: %s", provider.org_id, error.detail)
        raise SignInRefused(
            "Your organisation's identity provider cannot be reached or is misconfigured; "
            "try again later or sign in with your password."
        ) from error


async def _claim_attempt(session: AsyncSession, state: str) -> SingleSignOnAttempt:
    """The attempt this state opened, marked used in the same statement (a replayed callback, or two
    at once, finds it used). Committed at once: a refused callback must not leave it usable."""
    now = utcnow()
    claimed = await session.execute(
        update(SingleSignOnAttempt)
        .where(
            SingleSignOnAttempt.state_hash == _digest(state),
            SingleSignOnAttempt.used_at.is_(None),
            SingleSignOnAttempt.expires_at > now,
        )
        .values(used_at=now)
    )
    attempt = await session.scalar(select(SingleSignOnAttempt).where(SingleSignOnAttempt.state_hash == _digest(state)))
    await session.commit()
    if claimed.rowcount != 1 or attempt is None:
        raise SignInRefused("This sign-in link was used already or has expired. Start again.")
    return attempt


def _client_authentication(metadata: ProviderMetadata, client_id: str, secret: str) -> tuple[dict, dict]:
    """RFC 6749 §2.3.1: HTTP Basic with both parts form-urlencoded, else the two in the body."""
    if metadata.client_secret_basic:
        pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
        return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}, {}
    return {}, {"client_id": client_id, "client_secret": secret}


async def _redeem_code(
    fetcher: SafeFetcher,
    metadata: ProviderMetadata,
    client_id: str,
    secret: str,
    code: str,
    verifier: str,
    redirect_uri: str,
) -> dict[str, Any]:
    headers, credentials = _client_authentication(metadata, client_id, secret)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
        **credentials,
    }
    try:
        answer = await fetcher.post_form(metadata.token_endpoint, form, headers=headers)
        tokens = answer.json()
    except FetchError as error:
        log.warning("token endpoint %s failed: %s", metadata.token_endpoint, error.reason)
        raise SignInRefused("Your organisation's identity provider did not answer; try again later.") from error
    if answer.status_code != 200 or not isinstance(tokens, dict) or not isinstance(tokens.get("id_token"), str):
        reason = tokens.get("error") if isinstance(tokens, dict) else None
        log.warning("token endpoint %s answered %s (%s)", metadata.token_endpoint, answer.status_code, reason)
        raise SignInRefused("Your organisation's identity provider refused to complete the sign-in. Start again.")
    return tokens


def check_id_token(
    id_token: str,
    keys: KeySet,
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    algorithms: tuple[str, ...],
    access_token: str | None = None,
) -> dict[str, Any]:
    """The ID token's claims, if its signature is the provider's and OpenID Connect Core §3.1.3.7
    holds: iss is the provider, aud holds this client (azp too when there are several), not expired,
    issued at a time, and its nonce is the one this trip sent. Raises joserfc's JoseError otherwise."""
    token = jwt.decode(id_token, keys, algorithms=list(algorithms))
    options = {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "value": client_id},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "nonce": {"essential": True, "value": nonce},
    }
    params = {"nonce": nonce, "client_id": client_id, "access_token": access_token}
    claims = CodeIDToken(token.claims, token.header, options, params)
    claims.validate(leeway=CLOCK_LEEWAY_SECONDS)
    return dict(claims)


def _why(error: JoseError) -> str:
    if isinstance(error, ExpiredTokenError):
        return "it has expired"
    if isinstance(error, InvalidClaimError | MissingClaimError):
        return f"its {error.claim!r} claim is {'missing' if isinstance(error, MissingClaimError) else 'not right'}"
    return f"its signature does not verify with the provider's keys ({error.error})"


async def _verified_claims(
    fetcher: SafeFetcher, metadata: ProviderMetadata, provider: IdentityProvider, tokens: dict, nonce: str
) -> dict[str, Any]:
    check = {
        "issuer": metadata.issuer,
        "client_id": provider.client_id,
        "nonce": nonce,
        "algorithms": metadata.algorithms,
        "access_token": tokens.get("access_token") if isinstance(tokens.get("access_token"), str) else None,
    }
    try:
        try:
            return check_id_token(tokens["id_token"], await _key_set(fetcher, metadata), **check)
        except InvalidKeyIdError:  # the provider rotated its keys since we last read them
            return check_id_token(tokens["id_token"], await _key_set(fetcher, metadata, fresh=True), **check)
    except FetchError as error:
        log.warning("keys of %s unreadable: %s", metadata.issuer, error.reason)
        raise SignInRefused("Your organisation's identity provider did not answer; try again later.") from error
    except (JoseError, ValueError, TypeError) as error:
        reason = _why(error) if isinstance(error, JoseError) else "it is not a well-formed token"
        log.warning("ID token from %s refused: %s", metadata.issuer, reason)
        raise SignInRefused(
            f"The identity provider's answer cannot be trusted: {reason}. Nobody was signed in."
        ) from error


async def finish_sign_in(
    session: AsyncSession,
    fetcher: SafeFetcher,
    box: SecretBox | None,
    *,
    browser_state: str | None,
    state: str,
    code: str,
    error: str,
    redirect_uri: str,
) -> tuple[User, str]:
    """The person the provider vouched for, and the `next` their trip began with; SignInRefused otherwise."""
    if not browser_state or not state or not secrets.compare_digest(browser_state, state):
        raise SignInRefused("This sign-in did not start in this browser, or took too long. Start again.")
    attempt = await _claim_attempt(session, state)
    if error:
        raise SignInRefused(f"Your organisation's identity provider did not sign you in ({error[:64]}).")
    if not code:
        raise SignInRefused("The identity provider sent no authorization code. Start again.")
    if box is None:
        raise SignInRefused(NO_MASTER_KEY)
    provider = await session.get(IdentityProvider, attempt.provider_id)
    if provider is None:
        raise SignInRefused("Single sign-on was switched off for your organisation while you were away.")
    metadata = await _metadata_for_sign_in(fetcher, provider)
    try:
        secret = box.open_bytes(provider.client_secret_sealed, _bound_to(provider.org_id)).decode()
    except MasterKeyError as failure:
        log.error("client secret of the identity provider of %s does not open: %s", provider.org_id, failure)
        raise SignInRefused("Single sign-on is misconfigured on CredStack's side; tell your admin.") from failure
    tokens = await _redeem_code(
        fetcher, metadata, provider.client_id, secret, code, attempt.code_verifier, redirect_uri
    )
    claims = await _verified_claims(fetcher, metadata, provider, tokens, attempt.nonce)
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") is not True:
        raise SignInRefused(
            "Your identity provider has not verified your email address, so it cannot sign you in here."
        )
    email = normalise_email(email)
    domain = email.rpartition("@")[2]
    if provider.allowed_email_domains and domain not in provider.allowed_email_domains:
        raise SignInRefused(f"Your organisation's single sign-on does not accept addresses at {domain}.")
    user = await session.scalar(select(User).where(User.org_id == provider.org_id, User.email == email))
    if user is None or user.disabled:
        log.info(
            "single sign-on for %s refused: no active person with that email in organisation %s", email, provider.org_id
        )
        raise SignInRefused(
            f"There is no active CredStack account for {email} in your organisation. "
            "Ask your organisation's CredStack admin to invite you."
        )
    return user, attempt.next_url
