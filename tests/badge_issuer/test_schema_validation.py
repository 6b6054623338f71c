"""Credentials checked against the 1EdTech OB 3.0 JSON Schema (strict copy), held to 1EdTech's own examples."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from services.badge_issuer.ob3 import schema_validation
from services.badge_issuer.ob3.schema_validation import (
    ACHIEVEMENT_CREDENTIAL_SCHEMA_PATH,
    achievement_credential_validator,
    is_valid_achievement_credential,
    validate_achievement_credential,
    validate_endorsement_credential,
)
from tests.material import SHARED_DIR

SHARED = SHARED_DIR
SPEC_EXAMPLES = SHARED / "ob3" / "examples" / "spec"
REQUIRED_FIELDS = ["@context", "id", "type", "credentialSubject", "issuer", "validFrom"]


@pytest.fixture
def spec_examples_dir() -> Path:
    if not SPEC_EXAMPLES.is_dir():
        pytest.fail(f"1EdTech reference examples not found at {SPEC_EXAMPLES} (shared/ must sit beside the repo)")
    return SPEC_EXAMPLES


@pytest.fixture
def basic_credential(spec_examples_dir: Path) -> dict[str, Any]:
    return json.loads((spec_examples_dir / "basicOpenBadgeCredential-1.json").read_text())


def _example_names() -> list[str]:
    return sorted(path.name for path in SPEC_EXAMPLES.glob("*.json")) if SPEC_EXAMPLES.is_dir() else []


def test_the_reference_examples_are_present(spec_examples_dir: Path) -> None:
    assert len(_example_names()) >= 7  # guards the parametrised test below against passing vacuously


@pytest.mark.parametrize("example_name", _example_names())
def test_every_1edtech_specification_example_is_valid(spec_examples_dir: Path, example_name: str) -> None:
    example = json.loads((spec_examples_dir / example_name).read_text())
    is_endorsement = "EndorsementCredential" in example["type"]
    errors = (validate_endorsement_credential if is_endorsement else validate_achievement_credential)(example)
    assert errors == []


def test_the_bundled_schema_is_the_reference_schema_unchanged() -> None:
    reference = SHARED / "ob3" / "schema" / "ob_v3p0_achievementcredential_schema.json"
    if not reference.is_file():
        pytest.fail("reference schema not found (shared/ must sit beside the repo)")
    assert ACHIEVEMENT_CREDENTIAL_SCHEMA_PATH.read_bytes() == reference.read_bytes()


@pytest.mark.parametrize("field", REQUIRED_FIELDS)
def test_removing_a_required_field_fails(basic_credential: dict[str, Any], field: str) -> None:
    del basic_credential[field]
    errors = validate_achievement_credential(basic_credential)
    assert any(error.path == "$" and repr(field) in error.message for error in errors), errors
    assert not is_valid_achievement_credential(basic_credential)


def test_removing_a_required_nested_field_reports_its_path(basic_credential: dict[str, Any]) -> None:
    del basic_credential["credentialSubject"]["achievement"]["criteria"]
    errors = validate_achievement_credential(basic_credential)
    assert [str(error) for error in errors] == ["$.credentialSubject.achievement: 'criteria' is a required property"]


def test_proof_must_be_an_array(basic_credential: dict[str, Any]) -> None:
    proof = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": "2026-01-01T00:00:00Z",
        "verificationMethod": "did:key:z6Mk#z6Mk",
        "proofPurpose": "assertionMethod",
        "proofValue": "z58DAdFfa9SkqZMVPxAQpic7ndSayn1PzZs6ZjWp1CktyGesjuTSwRdoWhAfGFCF5bppETSTojQCrfFPP2oumHKtz",
    }
    basic_credential["proof"] = proof
    errors = validate_achievement_credential(basic_credential)
    assert [error.path for error in errors] == ["$.proof"]
    assert "array" in errors[0].message
    basic_credential["proof"] = [proof]
    assert validate_achievement_credential(basic_credential) == []


def test_a_credential_that_is_not_an_open_badge_fails(basic_credential: dict[str, Any]) -> None:
    basic_credential["type"] = ["VerifiableCredential"]
    errors = validate_achievement_credential(basic_credential)
    assert errors and errors[0].path == "$.type"
    assert "OpenBadgeCredential" in errors[0].message


def test_the_vc_2_0_context_must_come_first(basic_credential: dict[str, Any]) -> None:
    basic_credential["@context"].reverse()
    errors = validate_achievement_credential(basic_credential)
    assert '$["@context"][0]' in {error.path for error in errors}


@pytest.mark.parametrize(
    "valid_from",
    ["2010-13-01T00:00:00Z", "2010-01-01", "2010-01-01T00:00:00", "yesterday", "2010-02-30T00:00:00Z"],
)
def test_valid_from_must_be_an_rfc3339_date_time(basic_credential: dict[str, Any], valid_from: str) -> None:
    basic_credential["validFrom"] = valid_from
    assert [error.path for error in validate_achievement_credential(basic_credential)] == ["$.validFrom"]


@pytest.mark.parametrize("valid_from", ["2026-07-04T09:30:00.125+02:00", "2016-12-31T23:59:60Z"])
def test_offsets_fractions_and_leap_seconds_are_accepted(basic_credential: dict[str, Any], valid_from: str) -> None:
    basic_credential["validFrom"] = valid_from
    assert validate_achievement_credential(basic_credential) == []


def test_an_endorsement_is_not_an_achievement_credential(spec_examples_dir: Path) -> None:
    endorsement = json.loads((spec_examples_dir / "endorsement-1.json").read_text())
    assert validate_achievement_credential(endorsement) != []
    broken = copy.deepcopy(endorsement)
    del broken["name"]
    assert validate_endorsement_credential(broken) != []


def _deeply_nested(depth: int) -> list[Any]:
    nested: list[Any] = []
    for _ in range(depth):
        nested = [nested]
    return nested


@pytest.mark.parametrize(
    "document",
    [None, [], "a string", 42, float("nan"), {"@context": _deeply_nested(50_000)}, {1, 2}],
    ids=["null", "array", "string", "number", "nan", "deeply nested", "not JSON at all"],
)
def test_bad_input_yields_errors_and_never_raises(document: Any) -> None:
    errors = validate_achievement_credential(document)
    assert errors and all(error.path.startswith("$") and error.message for error in errors)


def test_long_messages_are_shortened(basic_credential: dict[str, Any]) -> None:
    basic_credential["issuer"] = ["x" * 5_000]
    errors = validate_achievement_credential(basic_credential)
    assert errors and all(len(error.message) <= 300 for error in errors)


def test_the_validator_is_compiled_once() -> None:
    assert achievement_credential_validator() is achievement_credential_validator()
    load_schema = schema_validation.load_achievement_credential_schema
    assert load_schema() is load_schema()
