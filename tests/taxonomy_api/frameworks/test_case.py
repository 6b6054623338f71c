"""CASE CFPackages: every real package read, applied to the database, written back in 1.0 and 1.1,
validated against the official schemas and read again; edits show in the export; re-imports change nothing."""

import dataclasses
import json
import uuid
from typing import Any

import pytest
from jsonschema import validators

from services.taxonomy_api.domain.version_content import read_working_taxonomy
from services.taxonomy_api.frameworks.apply import apply_bundle
from services.taxonomy_api.frameworks.bundle import Bundle
from services.taxonomy_api.frameworks.case import (
    OwnTaxonomy,
    as_case_version,
    own_document_identifier,
    read_case_package,
    write_case_package,
)
from services.taxonomy_api.provisioning import seed_demo_taxonomy
from tests.material import SHARED_DIR

CASE_DATA = SHARED_DIR / "data" / "case-1edtech"
# Read once, before any event loop runs: the file names, and each file's bytes.
RAW = {path.name: path.read_bytes() for path in sorted((CASE_DATA / "frameworks").glob("*.json"))}
PACKAGES = list(RAW)
SCHEMA_FILES = {"1.0": "case-v1p0-cfpackage-schema.json", "1.1": "case-v1p1-cfpackage-schema.json"}
BASE_URL = "https://credstack.example"
pytestmark = pytest.mark.anyio
# What the 1.0 schema makes the writer change in the 2017 pre-final dialect (README: 3 schema errors):
# string sequence numbers, and nulls where the schema wants a string. Nothing else, in no other file.
NORMALISED_FOR_1_0 = {
    "what-standards-could-be-ccss-math-6-rp.json": [
        "CFAssociations[a7364b9e-91e7-4b09-875f-5eab0d3e6f7c].sequenceNumber",
        "CFAssociations[fd349663-3904-4f28-b27d-9b07e6d0165c].sequenceNumber",
        "CFDefinitions.CFItemTypes[25e51172-9ee2-4990-806f-1bceb32633d1].description",
        "CFDefinitions.CFItemTypes[5b5f9983-eabb-4661-aca4-9e0c81046772].description",
        "CFDefinitions.CFItemTypes[bbc1a9ba-640e-4bf2-a52c-b1cec75b4ee7].description",
    ]
}


def schema_validator(version: str):
    schema = json.loads((CASE_DATA / "schema" / SCHEMA_FILES[version]).read_text())
    return validators.validator_for(schema)(schema)


VALIDATORS = {version: schema_validator(version) for version in SCHEMA_FILES}


def schema_errors(package: dict[str, Any], version: str) -> list[str]:
    return [f"{list(error.path)}: {error.message[:200]}" for error in VALIDATORS[version].iter_errors(package)][:5]


def _keyed(values: list[Any]) -> dict[str, Any] | None:
    """Records of a CASE list by identifier (array order carries no meaning in CASE), else None."""
    if values and all(isinstance(value, dict) and isinstance(value.get("identifier"), str) for value in values):
        return {value["identifier"]: value for value in values}
    return None


def differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Every field of `expected` that `actual` lacks or holds differently (type included: 1 is not "1")."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [path or "."]
        found = []
        for key, value in expected.items():
            where = f"{path}.{key}" if path else key
            found += differences(value, actual[key], where) if key in actual else [where]
        return found
    if isinstance(expected, list):
        keyed, actual_keyed = _keyed(expected), _keyed(actual) if isinstance(actual, list) else None
        if keyed is not None and actual_keyed is not None:
            found = [f"{path}[{key}]" for key in keyed if key not in actual_keyed]
            found += [f"{path}[{key}] extra" for key in actual_keyed if key not in keyed]
            for key in sorted(keyed.keys() & actual_keyed.keys()):
                found += differences(keyed[key], actual_keyed[key], f"{path}[{key}]")
            return found
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [path]
        return [
            found
            for index, value in enumerate(expected)
            for found in differences(value, actual[index], f"{path}[{index}]")
        ]
    same = type(expected) is type(actual) and expected == actual
    return [] if same else [path]


def first_difference(expected: Any, actual: Any) -> str | None:
    found = differences(expected, actual)
    if not found:
        return None
    where = found[0]
    return f"{where}: {len(found)} field(s) differ, first at {where}"


def canonical(bundle: Bundle) -> dict[str, Any]:
    """A bundle as plain data, its node lists by identifier (the package's array order is not content)."""
    data = dataclasses.asdict(bundle)
    for kind, key in (("capabilities", "external_id"), ("skills", "external_id"), ("associations", "identifier")):
        data[kind] = sorted(data[kind], key=lambda node, key=key: node[key])
    return data


def in_our_terms(bundle: Bundle) -> dict[str, Any]:
    """What the platform makes of a bundle, records aside: names, statements, the tree, every
    association's ends and order."""
    data = canonical(bundle)
    for kind in ("capabilities", "skills", "associations"):
        for node in data[kind]:
            source = node.pop("source") or {}
            if kind == "associations":
                node["sequenceNumber"] = int(source["sequenceNumber"]) if "sequenceNumber" in source else None
    return {kind: data[kind] for kind in ("capabilities", "skills", "associations")}


def package_bytes(package: dict[str, Any]) -> bytes:
    return json.dumps(package, ensure_ascii=False, indent=2).encode()


async def imported(taxonomy_app, org: uuid.UUID, raw: bytes, name: str):
    bundle = read_case_package(raw, file=name)
    assert bundle.problems == []
    async with taxonomy_app.state.database.sessions() as session:
        applied = await apply_bundle(session, org, bundle)
        await session.commit()
        content = await read_working_taxonomy(session, org, BASE_URL)
    return bundle, applied, content


def test_the_real_packages_are_all_here():
    assert len(PACKAGES) == 8, PACKAGES


@pytest.mark.parametrize("package", PACKAGES)
async def test_every_real_package_round_trips_through_the_database(taxonomy_app, org, package: str):
    raw = RAW[package]
    original = json.loads(raw)
    bundle, applied, content = await imported(taxonomy_app, org, raw, package)
    assert bundle.counts()["capabilities"] + bundle.counts()["skills"] == len(original["CFItems"])
    assert len(bundle.associations) == len(original["CFAssociations"])
    framework_id = str(applied.framework_id)

    # 1.0, the version these packages are in: the written package gives back every field the original
    # had, except the documented normalisations of the pre-final dialect.
    expected = as_case_version(original, "1.0")
    assert differences(original, expected) == NORMALISED_FOR_1_0.get(package, [])
    written = write_case_package(content, framework_id, version="1.0", base_url=BASE_URL)
    assert schema_errors(written, "1.0") == []
    assert first_difference(expected, written) is None
    assert first_difference(written, expected) is None  # and adds nothing
    reread = read_case_package(package_bytes(written), file=f"{package} as written")
    assert reread.problems == []
    assert canonical(reread) == canonical(read_case_package(expected, file=f"{package} as written"))
    if package not in NORMALISED_FOR_1_0:
        assert canonical(reread) == canonical(bundle)

    # 1.1: valid against 1EdTech's schema, the same nodes, tree and associations; each record is the
    # original's as 1.1 has it.
    written_1_1 = write_case_package(content, framework_id, version="1.1", base_url=BASE_URL)
    assert schema_errors(written_1_1, "1.1") == []
    assert first_difference(as_case_version(original, "1.1"), written_1_1) is None
    reread_1_1 = read_case_package(package_bytes(written_1_1), file=f"{package} as 1.1")
    assert reread_1_1.problems == []
    assert in_our_terms(reread_1_1) == in_our_terms(bundle)
    assert canonical(reread_1_1) == canonical(read_case_package(as_case_version(original, "1.1"), file="1.1"))
    # Read again and written again, 1.1 stays as it is.
    assert as_case_version(written_1_1, "1.1") == written_1_1


async def test_text_survives_byte_for_byte(taxonomy_app, new_org):
    # OpenSALT's test packages share their identifiers: each is imported into an organisation of its own.
    for name, text in (
        ("opensalt-test-utf8.json", "Item 𝑑 1"),
        ("opensalt-test-markdown.json", "| data 1 | data 2|\r\n"),
    ):
        raw = RAW[name]
        _, applied, content = await imported(taxonomy_app, await new_org(), raw, name)
        written = package_bytes(
            write_case_package(content, str(applied.framework_id), version="1.0", base_url=BASE_URL)
        )
        assert json.dumps(text, ensure_ascii=False)[1:-1].encode() in written
        statements = {item["fullStatement"] for item in json.loads(raw)["CFItems"]}
        assert statements == {item["fullStatement"] for item in json.loads(written)["CFItems"]}


async def test_sequence_numbers_and_the_nested_tree_survive(taxonomy_app, org, new_org):
    name = "opensalt-test-smartlevel.json"
    raw = RAW[name]
    bundle, applied, content = await imported(taxonomy_app, org, raw, name)
    assert sorted(capability.name for capability in bundle.capabilities) == ["Item 1", "Item 2"]
    item_1_children = [skill.name for skill in bundle.skills if skill.capability_external_id.endswith("0001")]
    assert len(item_1_children) == 10
    written = write_case_package(content, str(applied.framework_id), version="1.0", base_url=BASE_URL)
    # Depth first: each capability is followed by its own skills.
    titles = [item["fullStatement"] for item in written["CFItems"]]
    assert titles.index("Item 2") > titles.index("Item 1.10") and titles.index("Item 2.1") > titles.index("Item 2")
    sequence = "opensalt-test-sequencenumber.json"
    original = json.loads(RAW[sequence])
    _, applied, content = await imported(taxonomy_app, await new_org(), RAW[sequence], sequence)
    written = write_case_package(content, str(applied.framework_id), version="1.1", base_url=BASE_URL)
    numbers = {record["identifier"]: record.get("sequenceNumber") for record in original["CFAssociations"]}
    assert {record["identifier"]: record.get("sequenceNumber") for record in written["CFAssociations"]} == numbers
    assert any(number is not None for number in numbers.values())
    # Siblings in sequenceNumber order, not in the order the file listed them.
    first = min(
        (n, a["originNodeURI"]["identifier"]) for a in original["CFAssociations"] if (n := a.get("sequenceNumber"))
    )
    assert written["CFItems"][0]["identifier"] == first[1]


async def test_associations_out_of_the_package_and_of_every_type_are_kept(taxonomy_app, org):
    name = "what-standards-could-be-ccss-math-6-rp.json"
    raw = RAW[name]
    bundle, applied, content = await imported(taxonomy_app, org, raw, name)
    types = sorted({association.association_type for association in bundle.associations})
    assert types == ["exactMatchOf", "exemplar", "isChildOf", "isRelatedTo", "precedes"]
    items = {item["identifier"] for item in json.loads(raw)["CFItems"]}
    outside = [association for association in bundle.associations if association.destination not in items]
    assert len(outside) == 23  # 16 exactMatchOf, 2 exemplar, 2 isRelatedTo, 1 precedes, 2 to the document
    written = write_case_package(content, str(applied.framework_id), version="1.1", base_url=BASE_URL)
    assert len(written["CFAssociations"]) == 39
    # The pre-final dialect's spelling and its package links, as 1.1 has them.
    standard = next(item for item in written["CFItems"] if item["humanCodingScheme"] == "CCSS.Math.Content.6.RP.A.1")
    assert standard["educationLevel"] == ["06"] and "CFDocumentURI" not in standard
    assert {record["sequenceNumber"] for record in written["CFAssociations"] if "sequenceNumber" in record} == {1, 2}


async def test_an_edit_through_the_api_shows_in_the_export(taxonomy_app, org, client, bearer):
    name = "act-holistic-framework-math-excerpt.json"
    raw = RAW[name]
    original = {item["identifier"]: item for item in json.loads(raw)["CFItems"]}
    bundle, applied, content = await imported(taxonomy_app, org, raw, name)
    skill = next(body for body in content.of("skill") if not body["source"].get("abbreviatedStatement"))
    headers = bearer(org)
    editable = ("name", "description", "capability_id", "scale_id", "alternative_labels", "skill_type", "reuse_level")
    body = {key: skill[key] for key in editable} | {"description": "Tell **straight** from curved 𝑑", "name": "Lines"}
    response = await client.put(f"/v1/skills/{skill['id']}", json=body, headers=headers)
    assert response.status_code == 200, response.text
    async with taxonomy_app.state.database.sessions() as session:
        content = await read_working_taxonomy(session, org, BASE_URL)
    for version in ("1.0", "1.1"):
        written = write_case_package(content, str(applied.framework_id), version=version, base_url=BASE_URL)
        assert schema_errors(written, version) == []
        items = {item["identifier"]: item for item in written["CFItems"]}
        edited = items[skill["external_id"]]
        assert edited["fullStatement"] == "Tell **straight** from curved 𝑑"
        assert edited["abbreviatedStatement"] == "Lines"
        assert edited["lastChangeDateTime"] != original[skill["external_id"]]["lastChangeDateTime"]
        assert edited["humanCodingScheme"] == original[skill["external_id"]]["humanCodingScheme"]
        unchanged = [key for key in items if key != skill["external_id"]]
        assert all(items[key]["lastChangeDateTime"] == original[key]["lastChangeDateTime"] for key in unchanged)
    reread = read_case_package(package_bytes(written), file="edited")
    assert next(s for s in reread.skills if s.external_id == skill["external_id"]).name == "Lines"


@pytest.mark.parametrize("package", PACKAGES)
async def test_importing_the_same_package_again_changes_nothing(taxonomy_app, org, package: str):
    raw = RAW[package]
    _, first, before = await imported(taxonomy_app, org, raw, package)
    _, again, after = await imported(taxonomy_app, org, raw, package)
    assert first.changed and not again.changed
    assert again.framework_id == first.framework_id
    assert {kind: counts.created + counts.updated for kind, counts in again.counts.items()} == dict.fromkeys(
        again.counts, 0
    )
    assert before.documents == after.documents


async def test_an_organisations_own_taxonomy_exports_as_a_package(taxonomy_app, org):
    async with taxonomy_app.state.database.sessions() as session:
        await seed_demo_taxonomy(session, org)
        await session.commit()
        content = await read_working_taxonomy(session, org, BASE_URL)
    version_id = uuid.uuid4()
    own = OwnTaxonomy(version_id=version_id, title="Demo skills", creator="Demo Co", version_label="3")
    for version in ("1.0", "1.1"):
        written = write_case_package(content, None, version=version, base_url=BASE_URL, own=own)
        assert schema_errors(written, version) == []
        assert written["CFDocument"]["identifier"] == own_document_identifier(version_id)
        assert written == write_case_package(content, None, version=version, base_url=BASE_URL, own=own)
        reread = read_case_package(package_bytes(written), file="own")
        assert reread.problems == []
        skills = {skill["id"]: skill for skill in content.of("skill")}
        assert {s.external_id: s.name for s in reread.skills} | {
            c.external_id: c.name for c in reread.capabilities
        } == {key: body["name"] for key, body in skills.items()} | {
            body["id"]: body["name"] for body in content.of("capability")
        }
        for skill in reread.skills:
            assert skill.capability_external_id == skills[skill.external_id]["capability_id"]


def test_problems_name_the_file_and_where():
    def problems(document: Any) -> list[tuple[int | None, str]]:
        return [(problem.line, problem.message) for problem in read_case_package(document, file="f.json").problems]

    assert problems(b'{\n  "CFDocument": {,\n}') == [
        (2, "not valid JSON: Expecting property name enclosed in double quotes (column 18)")
    ]
    assert problems(b"\xff\xfe") and problems(b"\xff\xfe")[0][1].startswith("not")
    assert problems(b"[]") == [(None, "not a CFPackage: the JSON is not an object")]
    assert problems({"CFItems": []}) == [(None, "not a CFPackage: no CFDocument object")]
    assert problems({"CFDocument": {"title": "x"}}) == [(None, "CFDocument: missing identifier")]
    package = {
        "CFDocument": {"identifier": "d"},
        "CFItems": [{"identifier": "a", "fullStatement": "A"}, {"fullStatement": "no id"}, {"identifier": "a"}],
        "CFAssociations": [
            {"identifier": "x", "associationType": "isChildOf", "originNodeURI": {"identifier": "a"}},
            {"associationType": "isChildOf"},
            {"identifier": "y", "originNodeURI": {"identifier": "a"}, "destinationNodeURI": {"identifier": "d"}},
        ],
        "CFDefinitions": {"CFItemTypes": [{"title": "no id"}]},
    }
    assert problems(package) == [
        (None, "CFDefinitions.CFItemTypes[0]: missing identifier"),
        (None, "CFItems[1]: missing identifier"),
        (None, "CFItems[2]: identifier a repeats CFItems[0]"),
        (None, "CFAssociations[0]: association to nothing (destinationNodeURI has no identifier)"),
        (None, "CFAssociations[1]: missing identifier"),
        (None, "CFAssociations[2]: missing associationType"),
    ]


def test_names_are_short_unique_and_the_statement_stays_whole():
    long = "Use " + "ratio reasoning " * 20 + "to solve problems."
    package = {
        "CFDocument": {"identifier": "d"},
        "CFItems": [
            {"identifier": "a", "fullStatement": long},
            {"identifier": "b", "fullStatement": "Same", "humanCodingScheme": "X.1"},
            {"identifier": "c", "fullStatement": "Same", "humanCodingScheme": "X.2"},
            {"identifier": "e", "fullStatement": "", "humanCodingScheme": "Y.1"},
        ],
    }
    skills = {skill.external_id: skill for skill in read_case_package(package, file="f.json").skills}
    assert len(skills["a"].name) <= 200 and skills["a"].name.endswith("…") and skills["a"].description == long
    assert (skills["b"].name, skills["c"].name, skills["e"].name) == ("Same (X.1)", "Same (X.2)", "Y.1")


async def test_statements_keep_their_surrounding_whitespace(taxonomy_app, org):
    statement = "  Indented,\ttabbed, and ended by a line break\r\n"
    package = {
        "CFDocument": {
            "identifier": "7d1c4f0e-0a4b-4c55-9f0e-3c2b1a000001",
            "uri": "https://example.org/d",
            "creator": "test",
            "title": "Whitespace",
            "lastChangeDateTime": "2020-01-01T00:00:00+00:00",
        },
        "CFItems": [
            {
                "identifier": "7d1c4f0e-0a4b-4c55-9f0e-3c2b1a000002",
                "uri": "https://example.org/i",
                "fullStatement": statement,
                "lastChangeDateTime": "2020-01-01T00:00:00+00:00",
            }
        ],
    }
    _, applied, content = await imported(taxonomy_app, org, package_bytes(package), "whitespace.json")
    written = write_case_package(content, str(applied.framework_id), version="1.0", base_url=BASE_URL)
    assert written["CFItems"] == package["CFItems"]
