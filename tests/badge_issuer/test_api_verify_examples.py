"""1EdTech's own example credentials through `POST /v1/verify`: the verifier must not only know its
own output. Only the did:key example can be checked offline; the others must fail with a reason
that says what was not checked (a remote key, no proof), never a 500."""

import json
from pathlib import Path
from typing import Any

import pytest

# Marked at collection so anyio's plugin sees the parametrized coroutine tests (see test_api_baking).
pytestmark = pytest.mark.anyio

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "ob3" / "examples"

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


def _checks(result: dict) -> dict[str, dict]:
    return {check["check"]: check for check in result["checks"]}


async def _verify(client, body: dict) -> dict:
    response = await client.post("/v1/verify", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_every_example_is_classified():
    """A new example in /work/shared must be given a place above, not silently ignored."""
    assert EXAMPLES.is_dir(), f"1EdTech examples not found at {EXAMPLES} (expected /work/shared next to the repo)"
    found = {str(path.relative_to(EXAMPLES)) for path in EXAMPLES.rglob("*.json")}
    assert found == {*OFFLINE, *UNSIGNED, "simple.json"}


@pytest.mark.parametrize("example", OFFLINE)
async def test_1edtech_did_key_example_verifies(client, example):
    result = await _verify(client, json.loads(_example(example)))
    assert result["verified"] is True, result["failures"]
    checks = _checks(result)
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
    result = await _verify(client, credential)
    assert result["verified"] is False
    assert _checks(result)["signature"]["outcome"] == "failed"
    assert result["failures"][0].startswith("signature: invalid_signature"), result["failures"]
    assert {_checks(result)[check]["outcome"] for check in ("issuer", "schema", "validity_window", "status")} == {
        "skipped"
    }


async def test_an_example_signed_for_someone_else_is_not_theirs(client):
    """The signature is the did:key's; moving the proof to a different did:key fails, not passes."""
    credential = json.loads(_example("simple-did-key-method.json"))
    other = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    credential["proof"][0]["verificationMethod"] = other
    result = await _verify(client, credential)
    assert result["verified"] is False and "invalid_signature" in result["failures"][0]


async def test_an_https_verification_method_is_reported_not_fetched(client):
    """1EdTech's simple.json names its key by an https URL: checking it needs the network."""
    result = await _verify(client, json.loads(_example("simple.json")))
    assert result["verified"] is False
    signature = _checks(result)["signature"]
    assert signature["outcome"] == "failed"
    assert "unresolvable_verification_method" in signature["reason"]
    assert "https://example.com/issuers/876543#z6Mk" in signature["reason"] and "not fetched" in signature["reason"]


async def test_a_jwt_whose_key_is_in_a_remote_jwks_is_reported_not_fetched(client):
    """1EdTech's simple.jwt (RS256, no kid, https issuer): the key lives in the issuer's JWKS."""
    result = await _verify(client, {"jwt": _example("simple.jwt").strip()})
    assert result["verified"] is False and result["format"] == "vc-jwt"
    signature = _checks(result)["signature"]
    assert signature["outcome"] == "failed" and "unresolvable_key" in signature["reason"]
    assert "remote JWKS" in signature["reason"] and "not fetch" in signature["reason"]


@pytest.mark.parametrize("example", UNSIGNED)
async def test_an_unsigned_specification_example_fails_for_want_of_a_proof(client, example):
    result = await _verify(client, json.loads(_example(example)))
    assert result["verified"] is False and result["format"] == "data-integrity"
    assert result["failures"] == ["signature: no_proof: the credential has no proof"]
