"""The compiled fast path of the 1EdTech schema check agrees with jsonschema, document for document.

The fast path may only ever answer "valid" when jsonschema does (then the issuer skips jsonschema);
these tests hold it to agreeing in both directions, on valid credentials and on thousands of broken
copies of them (every field removed, retyped or emptied, in turn).
"""

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.badge_issuer.ob3 import schema_validation
from services.badge_issuer.ob3.schema_validation import (
    achievement_credential_check,
    achievement_credential_validator,
    endorsement_credential_check,
    endorsement_credential_validator,
    validate_achievement_credential,
)

PROOF = {
    "type": "DataIntegrityProof",
    "cryptosuite": "eddsa-rdfc-2022",
    "created": "2026-01-15T09:30:00Z",
    "verificationMethod": "did:key:z6MkexampleKey#z6MkexampleKey",
    "proofPurpose": "assertionMethod",
    "proofValue": "z3FXQjecWufY46yg5abdVZsXqLhxhueuSoZgNSARiKBk9czhSePTFehP8c3PGfb6a22gkfUKods5D2UAUL5n2Brbx",
}
REPLACEMENTS: list[Any] = [None, 7, 2.5, True, "", "not a date", [], {}, ["x"], {"type": "x"}, "delete"]
PER_PATH = 3  # mutations per field, rotating through REPLACEMENTS so every kind is used


def _credentials(ob3_dir: Path, sample: dict[str, Any]) -> list[dict[str, Any]]:
    found = [{**sample, "proof": [PROOF]}]
    for path in sorted((ob3_dir / "examples").rglob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(document, dict) and "credentialSubject" in document:
            found.append(document)
    return found


def _paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for position, item in enumerate(value):
            yield from _paths(item, (*prefix, position))


def _mutants(document: dict[str, Any], fields: int = 60) -> Iterator[dict[str, Any]]:
    """PER_PATH broken copies for each of about `fields` fields spread over the document."""
    paths = [path for path in _paths(document) if path]
    for number, path in enumerate(paths[:: max(1, len(paths) // fields)]):
        for offset in range(PER_PATH):
            replacement = REPLACEMENTS[(number * PER_PATH + offset) % len(REPLACEMENTS)]
            mutant = copy.deepcopy(document)
            parent = mutant
            for part in path[:-1]:
                parent = parent[part]
            if replacement == "delete":
                del parent[path[-1]]
            else:
                parent[path[-1]] = copy.deepcopy(replacement)
            yield mutant


def _slow_valid(document: Any) -> bool:
    return achievement_credential_validator().is_valid(document)


def test_the_schema_compiles(ob3_dir):
    assert achievement_credential_check() is not None
    assert endorsement_credential_check() is not None


def test_fast_and_full_agree_on_valid_and_broken_credentials(ob3_dir, sample_credential):
    check = achievement_credential_check()
    compared = invalid = 0
    for document in _credentials(ob3_dir, sample_credential):
        assert check(document) == _slow_valid(document)
        for mutant in _mutants(document):
            fast, slow = check(mutant), _slow_valid(mutant)
            assert fast == slow, json.dumps(mutant)[:2000]
            compared += 1
            invalid += not slow
    assert compared > 500 and invalid > 150, (compared, invalid)


def test_fast_and_full_agree_on_endorsements(ob3_dir):
    check, full = endorsement_credential_check(), endorsement_credential_validator()
    for path in sorted((ob3_dir / "examples").rglob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        for mutant in [document, *_mutants(document, fields=30)] if isinstance(document, dict) else []:
            assert check(mutant) == full.is_valid(mutant)


@pytest.mark.parametrize("value", [None, [], "credential", 3, {"@context": []}])
def test_odd_documents_are_judged_and_reported_by_jsonschema(value):
    errors = validate_achievement_credential(value)
    assert errors and not achievement_credential_check()(value)


def test_a_deeply_nested_document_is_reported_not_raised(sample_credential):
    document = {**sample_credential, "proof": [PROOF]}
    nested: Any = {}
    for _ in range(5000):
        nested = {"type": ["Evidence"], "narrative": nested}
    document["evidence"] = [nested]
    assert validate_achievement_credential(document)


def test_a_schema_with_an_unknown_keyword_is_not_compiled():
    assert schema_validation._compile({"type": "object", "unevaluatedProperties": False}) is None
    assert schema_validation._compile({"enum": [1, True]}) is None
    assert schema_validation._compile({"$ref": "https://example.com/remote.json"}) is None
    assert schema_validation._compile({"type": "object", "required": ["a"]}) is not None


def _counted(check):
    calls = []

    def counted(value):
        calls.append(value)
        return check(value)

    return counted, calls


def test_a_recurring_value_is_judged_once_and_judged_again_once_edited():
    counted, calls = _counted(lambda value: value.get("name") != "bad")
    remembered = schema_validation._remembering(counted)
    achievement = {"id": "urn:example:a", "name": "good", "alignment": [{"targetName": "SQL"}]}
    assert remembered(achievement) and remembered(copy.deepcopy(achievement)) and remembered(achievement)
    assert len(calls) == 1, "an equal value is not judged again"
    achievement["name"] = "bad"  # edited in place after it was remembered
    assert not remembered(achievement) and not remembered(achievement)
    assert len(calls) == 3, "an invalid value is never remembered"


def test_values_whose_json_text_could_hide_a_difference_are_always_judged():
    counted, calls = _counted(lambda value: value.get("score") is None or value.get("score") == value.get("score"))
    remembered = schema_validation._remembering(counted)
    assert remembered({"score": None}) and remembered({"score": None})
    assert not remembered({"score": float("nan")}), "orjson writes NaN as null: null is not remembered"
    assert remembered({1: "a non-str key"}) and remembered({1: "a non-str key"})
    assert len(calls) == 5


def test_the_memory_of_one_definition_is_bounded(monkeypatch):
    monkeypatch.setattr(schema_validation, "_REMEMBERED_PER_DEFINITION", 3)
    counted, calls = _counted(lambda value: True)
    remembered = schema_validation._remembering(counted)
    for number in range(4):
        remembered({"id": number})
    remembered({"id": 0})  # forgotten when the fourth value filled the memory
    remembered({"id": 3})
    assert len(calls) == 5


def test_a_remembered_achievement_edited_inside_a_credential_is_refused(sample_credential):
    document = {**copy.deepcopy(sample_credential), "proof": [PROOF]}
    assert validate_achievement_credential(document) == []
    document["credentialSubject"]["achievement"]["criteria"] = "not an object"
    assert not achievement_credential_check()(document)
    assert validate_achievement_credential(document), "jsonschema reports what the check refused"
