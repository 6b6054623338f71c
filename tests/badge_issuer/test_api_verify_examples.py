"""1EdTech's own example credentials through `POST /v1/verify`: the verifier must not only know its
own output. The did:key example is checked offline; the https one is fetched (from the in-process
`remote_web`: tests have no network); the others must fail with a reason that says what was not
checked (a remote key that could not be had, no proof), never a 500."""

import json
from typing import Any

import pytest

from tests.badge_issuer.conftest import checks_of, verify_json
from tests.material import SHARED_DIR

# Marked at collection so anyio's plugin sees the parametrized coroutine tests (see test_api_baking).
pytestmark = pytest.mark.anyio

EXAMPLES = SHARED_DIR / "ob3" / "examples"

# Checkable offline: a did:key verification method (1EdTech's, without a fragment).
OFFLINE = ["simple-did-key-method.json"]
# Unsigned specification examples: respec signs them at render time, so they carry no proof.
UNSIGNED = [
    "full-example-from-spec.json",
    *(
        f"spec/{name}"
        for name in (
            "achievementAlignmentCase-1.json",
            "achievementAlignmentCe-1.json",
            "basicOpenBadgeCredential-1.json",
            "endorsement-1.json",
            "fullOpenBadge-1.json",
            "skillAssertionCase-1.json",
            "skillAssertionCtdl-1.json",
        )
    ),
]


def _example(name: str) -> Any:
    path = EXAMPLES / name
    assert path.is_file(), f"1EdTech example {path} is missing (expected /work/shared/ob3 next to the repo)"
    return path.read_text(encoding="utf-8")


def test_every_example_is_classified():
    """A new example in /work/shared must be given a place above, not silently ignored."""
    assert EXAMPLES.is_dir(), f"1EdTech examples not found at {EXAMPLES} (expected /work/shared next to the repo)"
    found = {str(path.relative_to(EXAMPLES)) for path in EXAMPLES.rglob("*.json")}
    assert found == {*OFFLINE, *UNSIGNED, "simple.json"}


@pytest.mark.parametrize("example", OFFLINE)
async def test_1edtech_did_key_example_verifies(client, example):
    result = await verify_json(client, json.loads(_example(example)))
    assert result["verified"] is True, result["failures"]
    checks = checks_of(result)
    assert checks["signature"]["outcome"] == "passed"
    assert "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi" in checks["signature"]["reason"]
    assert checks["schema"]["outcome"] == "passed" and checks["validity_window"]["outcome"] == "passed"
    # The issuer is a urn:uuid: nobody to ask, so the binding is reported as not checked, with the signer.
    assert checks["issuer"]["outcome"] == "skipped" and "z6MkjZRZ" in checks["issuer"]["reason"]


def _tamper_content(credential: dict) -> None:
    credential["credentialSubject"]["achievement"]["name"] = "test 1 (with distinction)"


def _tamper_proof_value(credential: dict) -> None:
    value = credential["proof"][0]["proofValue"]
    credential["proof"][0]["proofValue"] = value[:-3] + ("a" if value[-3] != "a" else "b") + value[-2:]


def _tamper_date(credential: dict) -> None:
    credential["validFrom"] = "2021-11-10T07:38:00-08:00"


@pytest.mark.parametrize("example", OFFLINE)
@pytest.mark.parametrize("tamper", [_tamper_content, _tamper_proof_value, _tamper_date])
async def test_a_tampered_1edtech_example_fails_on_its_signature(client, example, tamper):
    credential = json.loads(_example(example))
    tamper(credential)
    result = await verify_json(client, credential)
    assert result["verified"] is False
    assert checks_of(result)["signature"]["outcome"] == "failed"
    assert result["failures"][0].startswith("signature: invalid_signature"), result["failures"]
    assert checks_of(result)["signature"]["code"] == "invalid_signature"
    # The other checks still run on the (unauthenticated) content and say so; no key, no binding.
    assert checks_of(result)["issuer"]["code"] == "no_signature" and result["issuer_bound"] is None
    for check in ("schema", "validity_window"):
        assert checks_of(result)[check]["outcome"] == "passed"
        assert "signature did not verify" in checks_of(result)[check]["reason"]


async def test_an_example_signed_for_someone_else_is_not_theirs(client):
    """The signature is the did:key's; moving the proof to a different did:key fails, not passes."""
    credential = json.loads(_example("simple-did-key-method.json"))
    other = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    credential["proof"][0]["verificationMethod"] = other
    result = await verify_json(client, credential)
    assert result["verified"] is False and "invalid_signature" in result["failures"][0]


SIMPLE_ISSUER = "https://example.com/issuers/876543"
SIMPLE_KEY = "z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"


async def test_an_https_verification_method_is_fetched_and_its_failure_named(client, remote_web):
    """1EdTech's simple.json names its key by an https URL whose fragment is the Multikey itself. Tests
    have no network: example.com is known here but serves nothing, then resolves to a private address.
    The key is still read from the fragment, so the signature verifies, but it is self-asserted: the
    issuer is reported unbound, with the fetch failure named."""
    remote_web.host("example.com")
    result = await verify_json(client, json.loads(_example("simple.json")))
    signature = checks_of(result)["signature"]
    assert signature["outcome"] == "passed", signature
    assert f"{SIMPLE_ISSUER}#{SIMPLE_KEY}" in signature["reason"] and "HTTP 404" in signature["reason"]
    assert (
        checks_of(result)["issuer"]["outcome"] == "warning" and checks_of(result)["issuer"]["code"] == "issuer_unbound"
    )
    assert result["issuer_bound"] is False and result["verified"] is True
    assert result["warnings"] and result["warnings"][0].startswith("issuer: the signature is valid")
    remote_web.host("example.com", "10.0.0.8")
    refused = checks_of(await verify_json(client, json.loads(_example("simple.json"))))["signature"]
    assert "10.0.0.8, a private address" in refused["reason"] and "(address)" in refused["reason"]
    tampered = json.loads(_example("simple.json"))
    _tamper_content(tampered)
    assert checks_of(await verify_json(client, tampered))["signature"]["code"] == "invalid_signature"


async def test_1edtech_https_example_verifies_once_its_issuer_document_is_served(client, remote_web):
    """The same example, with the issuer's controller document served as a Multikey in assertionMethod:
    the key is fetched, the signature verifies, and the issuer is bound to the key's document."""
    method = f"{SIMPLE_ISSUER}#{SIMPLE_KEY}"
    remote_web.serve(
        SIMPLE_ISSUER,
        {
            "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
            "id": SIMPLE_ISSUER,
            "verificationMethod": [
                {"id": method, "type": "Multikey", "controller": SIMPLE_ISSUER, "publicKeyMultibase": SIMPLE_KEY}
            ],
            "assertionMethod": [method],
        },
        content_type="application/ld+json",
    )
    result = await verify_json(client, json.loads(_example("simple.json")))
    checks = checks_of(result)
    assert checks["signature"]["outcome"] == "passed", checks["signature"]
    assert f"controller document {SIMPLE_ISSUER}" in checks["signature"]["reason"]
    assert checks["issuer"]["outcome"] == "passed"
    tampered = json.loads(_example("simple.json"))
    _tamper_content(tampered)
    tampered_result = await verify_json(client, tampered)
    assert tampered_result["failures"][0].startswith("signature: invalid_signature")


async def test_a_jwt_that_names_no_key_is_reported(client):
    """1EdTech's simple.jwt (RS256, https issuer) has neither kid nor jwk: there is no key to look up."""
    result = await verify_json(client, {"jwt": _example("simple.jwt").strip()})
    assert result["verified"] is False and result["format"] == "vc-jwt"
    signature = checks_of(result)["signature"]
    assert signature["outcome"] == "failed" and "unresolvable_key" in signature["reason"]
    assert "no kid" in signature["reason"]


@pytest.mark.parametrize("example", UNSIGNED)
async def test_an_unsigned_specification_example_fails_for_want_of_a_proof(client, example):
    result = await verify_json(client, json.loads(_example(example)))
    assert result["verified"] is False and result["format"] == "data-integrity"
    assert result["failures"][0] == "signature: no_proof: the credential has no proof"
    # The examples carry a 1EdTech revocation list entry at a host that does not answer here: its
    # list is asked for and found unavailable, said, not hidden.
    assert [check["code"] for check in result["checks"] if check["outcome"] == "failed"] in (
        ["no_proof"],
        ["no_proof", "status_unavailable"],
    )
