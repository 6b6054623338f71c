"""A refused access token says which check it failed: a client must know whether to fetch a new token
(expired) or fix its set-up (audience, issuer, key), and "invalid or expired" told neither."""

import time
import uuid
from collections.abc import Callable

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.auth import TokenAuthority, TokenVerifier
from shared.errors import Unauthorized

ISSUER, AUDIENCE = "https://tokens.credstack.invalid", "credstack-api"
KEY = Ed25519PrivateKey.generate()
VERIFIER = TokenVerifier(KEY.public_key(), issuer=ISSUER, audience=AUDIENCE)


def _claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "client", "org": str(uuid.uuid4()), "scope": "admin"}
    return {**claims, "iat": now, "exp": now + 300, **changes}


def _refusal(token: str) -> str:
    with pytest.raises(Unauthorized) as refused:
        VERIFIER.verify(token)
    return str(refused.value.detail)


def test_a_good_token_passes() -> None:
    authority = TokenAuthority(KEY, issuer=ISSUER, audience=AUDIENCE, ttl_seconds=60)
    principal = VERIFIER.verify(authority.issue(org_id=uuid.uuid4(), client_id="c", scopes=frozenset({"admin"})))
    assert principal.client_id == "c"


@pytest.mark.parametrize(
    ("token", "says"),
    [
        (lambda: jwt.encode(_claims(exp=int(time.time()) - 60), KEY, algorithm="EdDSA"), "has expired"),
        (lambda: jwt.encode(_claims(aud="another-api"), KEY, algorithm="EdDSA"), "another audience"),
        (lambda: jwt.encode(_claims(iss="https://elsewhere.invalid"), KEY, algorithm="EdDSA"), "another token issuer"),
        (lambda: jwt.encode(_claims(), Ed25519PrivateKey.generate(), algorithm="EdDSA"), "signature does not verify"),
        (
            lambda: jwt.encode(_claims(), "a-shared-secret-long-enough-for-hs256", algorithm="HS256"),
            "must be signed with EdDSA",
        ),
        (lambda: jwt.encode(_claims(), None, algorithm="none"), "must be signed with EdDSA"),
        (lambda: jwt.encode({k: v for k, v in _claims().items() if k != "org"}, KEY, algorithm="EdDSA"), "claim 'org'"),
        (lambda: jwt.encode(_claims(iat=int(time.time()) + 3600), KEY, algorithm="EdDSA"), "not valid yet"),
        (lambda: "not.a.jwt", "not a well-formed JWT"),
        (lambda: jwt.encode(_claims(org="not-a-uuid"), KEY, algorithm="EdDSA"), "claims are malformed"),
    ],
    ids=[
        "expired",
        "audience",
        "issuer",
        "other-key",
        "hs256",
        "none",
        "missing-claim",
        "future",
        "garbage",
        "bad-org",
    ],
)
def test_a_refused_token_says_which_check_it_failed(token: Callable[[], str], says: str) -> None:
    detail = _refusal(token())  # signed now: tokens made at collection would expire in a long run
    assert says in detail
    assert "invalid or expired" not in detail
