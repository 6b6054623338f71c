"""The ESCO reader against the EC's own v1.1.1 download (read from ../shared/data, never copied here), its
ICT/sales/service slice, and hand-made bad files. Expected figures are counted from the files with csv."""

import csv
import io
import time
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from services.taxonomy_api.frameworks.bundle import Bundle
from services.taxonomy_api.frameworks.esco import EscoOptions, read_esco
from tests.material import SHARED_DIR

ESCO = SHARED_DIR / "data" / "esco-v1.1.1"
CLASSIFICATION_ZIP = ESCO / "original" / "esco-v1.1.1-classification-en-csv.zip"
RELATIONS_ZIP = ESCO / "original" / "esco-v1.1.1-relations-csv.zip"
DOWNLOAD = [CLASSIFICATION_ZIP, RELATIONS_ZIP]
SLICE = ESCO / "slice-ict-sales-service"

MANAGE_MUSICAL_STAFF = "http://data.europa.eu/esco/skill/0005c151-5b5a-4a66-8aac-60e734beb1ab"
SOFTWARE_DEVELOPER = "http://data.europa.eu/esco/occupation/f2b15a0e-e65a-438a-affb-29b9d50b77d1"


def zip_rows(archive: Path, member: str) -> list[dict[str, str]]:
    with zipfile.ZipFile(archive) as opened, opened.open(member) as raw:
        return list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline="")))


def file_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture(scope="module")
def download() -> Bundle:
    started = time.perf_counter()
    bundle = read_esco(DOWNLOAD, options=EscoOptions())
    print(f"full ESCO download read in {time.perf_counter() - started:.2f} s")
    return bundle


@pytest.fixture(scope="module")
def occupation_relations() -> list[dict[str, str]]:
    return zip_rows(RELATIONS_ZIP, "occupationSkillRelations.csv")


def test_the_full_download_gives_every_skill_occupation_and_requirement(download, occupation_relations):
    skill_rows = zip_rows(CLASSIFICATION_ZIP, "skills_en.csv")
    occupation_uris = {row["conceptUri"] for row in zip_rows(CLASSIFICATION_ZIP, "occupations_en.csv")}
    known_relations = [row for row in occupation_relations if row["occupationUri"] in occupation_uris]

    assert len(download.skills) == len(skill_rows) == 13_896
    assert [skill.external_id for skill in download.skills] == [row["conceptUri"] for row in skill_rows]
    assert len(download.roles) == len(occupation_uris) == 3_007
    assert download.counts()["requirements"] == len(known_relations)
    assert 123_000 < len(known_relations) < 124_000
    assert len(download.capabilities) > 500
    assert download.framework.release == "v1.1.1"
    assert download.framework.uri == "http://data.europa.eu/esco/"


def test_the_download_has_no_problems_and_leaves_out_relations_of_an_occupation_the_english_files_lack(
    download, occupation_relations
):
    occupation_uris = {row["conceptUri"] for row in zip_rows(CLASSIFICATION_ZIP, "occupations_en.csv")}
    outside = [row for row in occupation_relations if row["occupationUri"] not in occupation_uris]

    assert download.problems == []
    assert len(outside) == 67
    assert download.left_out == {"requirements": len(outside)}


def test_a_known_skill_keeps_its_labels_type_and_group(download):
    skill = next(skill for skill in download.skills if skill.external_id == MANAGE_MUSICAL_STAFF)
    assert skill.name == "manage musical staff"
    assert skill.alternative_labels == [
        "manage staff of music",
        "coordinate duties of musical staff",
        "manage music staff",
        "direct musical staff",
        "manage musical staff",
    ]
    assert skill.skill_type == "skill/competence"
    assert skill.reuse_level == "sector-specific"
    assert skill.url == MANAGE_MUSICAL_STAFF
    assert skill.description.startswith("Assign and manage staff tasks in areas such as scoring")
    assert skill.source["modifiedDate"] == "2016-12-20T17:43:43Z"
    assert skill.source["inScheme"] == [
        "http://data.europa.eu/esco/concept-scheme/skills",
        "http://data.europa.eu/esco/concept-scheme/member-skills",
    ]
    broader = zip_rows(RELATIONS_ZIP, "broaderRelationsSkillPillar.csv")
    first_group = next(
        row["broaderUri"]
        for row in broader
        if row["conceptUri"] == MANAGE_MUSICAL_STAFF and row["broaderType"] == "SkillGroup"
    )
    assert skill.capability_external_id == first_group


def test_every_skill_has_a_group_even_those_hanging_only_from_skills(download):
    broader = zip_rows(RELATIONS_ZIP, "broaderRelationsSkillPillar.csv")
    with_group = {row["conceptUri"] for row in broader if row["broaderType"] == "SkillGroup"}
    first_broader_skill: dict[str, str] = {}
    for row in broader:
        if row["broaderType"] == "KnowledgeSkillCompetence":
            first_broader_skill.setdefault(row["conceptUri"], row["broaderUri"])
    skills = {skill.external_id: skill for skill in download.skills}
    only_under_skills = [uri for uri in skills if uri not in with_group]

    assert len(only_under_skills) > 100
    for uri in only_under_skills:
        assert skills[uri].capability_external_id == skills[first_broader_skill[uri]].capability_external_id
    capability_ids = {capability.external_id for capability in download.capabilities}
    assert all(skill.capability_external_id in capability_ids for skill in download.skills)


def test_skill_groups_take_their_parents_from_the_hierarchy(download):
    hierarchy = zip_rows(CLASSIFICATION_ZIP, "skillsHierarchy_en.csv")
    groups = zip_rows(CLASSIFICATION_ZIP, "skillGroups_en.csv")
    capabilities = {capability.external_id: capability for capability in download.capabilities}
    expected_parents = {}
    for row in hierarchy:
        uris = [row[f"Level {level} URI"] for level in range(4) if row.get(f"Level {level} URI")]
        expected_parents[uris[0]] = None
        for parent, child in zip(uris, uris[1:], strict=False):
            expected_parents[child] = parent

    assert set(capabilities) == {row["conceptUri"] for row in groups} | set(expected_parents)
    assert len(capabilities) == 647
    assert {uri: capability.parent_external_id for uri, capability in capabilities.items()} == expected_parents
    position = {capability.external_id: index for index, capability in enumerate(download.capabilities)}
    assert all(
        position[capability.parent_external_id] < position[capability.external_id]
        for capability in download.capabilities
        if capability.parent_external_id
    ), "parents come before their children"
    only_in_hierarchy = capabilities["http://data.europa.eu/esco/skill/1e924921-b7ff-4326-a698-c8275bbcf60d"]
    assert only_in_hierarchy.name == "positioning materials, tools or equipment"
    assert only_in_hierarchy.source["code"] == "S6.8"


def test_broader_and_related_skills_become_associations(download):
    broader = zip_rows(RELATIONS_ZIP, "broaderRelationsSkillPillar.csv")
    related = zip_rows(RELATIONS_ZIP, "skillSkillRelations.csv")
    by_type = Counter(association.association_type for association in download.associations)

    assert by_type["broader"] == sum(1 for row in broader if row["conceptType"] == "KnowledgeSkillCompetence")
    assert by_type["hasEssentialSkill"] == sum(1 for row in related if row["relationType"] == "essential")
    assert by_type["hasOptionalSkill"] == sum(1 for row in related if row["relationType"] == "optional")
    first = related[0]
    kind = {"essential": "hasEssentialSkill", "optional": "hasOptionalSkill"}[first["relationType"]]
    identifier = f"{kind}:{first['originalSkillUri']}->{first['relatedSkillUri']}"
    association = next(association for association in download.associations if association.identifier == identifier)
    assert (association.origin, association.destination) == (first["originalSkillUri"], first["relatedSkillUri"])
    assert len({association.identifier for association in download.associations}) == len(download.associations)


def test_an_occupation_requires_its_essential_skills_as_must_and_optional_as_should(download, occupation_relations):
    role = next(role for role in download.roles if role.external_id == SOFTWARE_DEVELOPER)
    relations = [row for row in occupation_relations if row["occupationUri"] == SOFTWARE_DEVELOPER]
    essential = [row["skillUri"] for row in relations if row["relationType"] == "essential"]
    optional = [row["skillUri"] for row in relations if row["relationType"] == "optional"]

    assert role.name == "software developer"
    assert role.job_family == "ISCO 2512 Software developers"
    must = [requirement for requirement in role.requirements if requirement.criticality == "must"]
    should = [requirement for requirement in role.requirements if requirement.criticality == "should"]
    assert [requirement.skill_external_id for requirement in must] == essential
    assert [requirement.skill_external_id for requirement in should] == optional
    assert len(essential) > 10 and len(optional) > 10
    assert {(requirement.level, requirement.weight) for requirement in must} == {(3, 1.0)}
    assert {(requirement.level, requirement.weight) for requirement in should} == {(2, 0.5)}


def test_collection_files_tag_their_skills(download):
    digital = {row["conceptUri"] for row in zip_rows(CLASSIFICATION_ZIP, "digitalSkillsCollection_en.csv")}
    tagged = {skill.external_id for skill in download.skills if "digital" in skill.tags}
    assert tagged == digital


def test_the_digital_collection_alone_gives_its_skills_their_groups_and_no_occupations():
    bundle = read_esco(DOWNLOAD, options=EscoOptions(collection="digital"))
    digital = [row["conceptUri"] for row in zip_rows(CLASSIFICATION_ZIP, "digitalSkillsCollection_en.csv")]

    assert {skill.external_id for skill in bundle.skills} == set(digital)
    assert len(bundle.skills) == len(digital) == 1_201
    assert bundle.roles == []
    assert_closed(bundle)
    all_groups = {skill.capability_external_id for skill in bundle.skills}
    assert all_groups <= {capability.external_id for capability in bundle.capabilities}
    assert bundle.left_out["associations"] > 0


def test_an_isco_group_gives_its_occupations_and_exactly_the_skills_they_require(occupation_relations):
    bundle = read_esco(DOWNLOAD, options=EscoOptions(isco_group="25"))
    ict = {
        row["conceptUri"]
        for row in zip_rows(CLASSIFICATION_ZIP, "occupations_en.csv")
        if row["iscoGroup"].startswith("25")
    }
    required = {row["skillUri"] for row in occupation_relations if row["occupationUri"] in ict}

    assert {role.external_id for role in bundle.roles} == ict
    assert all(role.job_family.startswith("ISCO 25") for role in bundle.roles)
    assert {skill.external_id for skill in bundle.skills} == required
    assert bundle.counts()["requirements"] == sum(1 for row in occupation_relations if row["occupationUri"] in ict)
    assert bundle.left_out["requirements"] == 67, "only those of the occupation the English files lack"
    assert_closed(bundle)


def test_a_collection_with_an_isco_group_drops_and_counts_requirements_outside_the_collection(occupation_relations):
    bundle = read_esco(DOWNLOAD, options=EscoOptions(collection="digital", isco_group="25"))
    digital = {row["conceptUri"] for row in zip_rows(CLASSIFICATION_ZIP, "digitalSkillsCollection_en.csv")}
    ict = {role.external_id for role in bundle.roles}
    ict_relations = [row for row in occupation_relations if row["occupationUri"] in ict]

    assert {skill.external_id for skill in bundle.skills} == {row["skillUri"] for row in ict_relations} & digital
    assert bundle.counts()["requirements"] == sum(1 for row in ict_relations if row["skillUri"] in digital)
    outside_digital = sum(1 for row in ict_relations if row["skillUri"] not in digital)
    assert outside_digital > 0
    assert bundle.left_out["requirements"] == outside_digital + 67
    assert_closed(bundle)


def assert_closed(bundle: Bundle) -> None:
    """Everything the bundle's nodes point at is in the bundle."""
    skills = {skill.external_id for skill in bundle.skills}
    capabilities = {capability.external_id: capability for capability in bundle.capabilities}
    for role in bundle.roles:
        assert {requirement.skill_external_id for requirement in role.requirements} <= skills
    for capability in capabilities.values():
        assert capability.parent_external_id is None or capability.parent_external_id in capabilities
    for association in bundle.associations:
        assert {association.origin, association.destination} <= skills | set(capabilities)
    used = {skill.capability_external_id for skill in bundle.skills}
    ancestors = set()
    for uri in used:
        while uri is not None:
            ancestors.add(uri)
            uri = capabilities[uri].parent_external_id
    assert set(capabilities) == ancestors


def test_the_slice_as_a_directory():
    bundle = read_esco([SLICE], options=EscoOptions())
    relations = file_rows(SLICE / "occupationSkillRelations.csv")
    skill_uris = {row["conceptUri"] for row in file_rows(SLICE / "skills_en.csv")}
    broader = file_rows(SLICE / "broaderRelationsSkillPillar.csv")

    assert bundle.problems == []
    assert bundle.counts() | {"associations": 0} == {
        "capabilities": 0,
        "skills": 1_487,
        "roles": 136,
        "requirements": 7_390,
        "associations": 0,
        "problems": 0,
    }
    criticality = Counter(requirement.criticality for role in bundle.roles for requirement in role.requirements)
    assert criticality == {"must": 2_935, "should": 4_455}
    assert sum(1 for row in relations if row["relationType"] == "essential") == 2_935
    # No skill groups in the slice, and broader skills outside it: those relations are left out, not problems.
    assert bundle.left_out == {"associations": sum(1 for row in broader if row["broaderUri"] not in skill_uris)}
    assert sum(1 for skill in bundle.skills if skill.skill_type == "") == 1
    assert all(skill.capability_external_id is None for skill in bundle.skills)


def test_levels_and_weights_come_from_the_options():
    options = EscoOptions(essential_level=5, optional_level=1, essential_weight=2.0, optional_weight=0.25)
    bundle = read_esco([SLICE], options=options)
    shapes = {
        (requirement.criticality, requirement.level, requirement.weight)
        for role in bundle.roles
        for requirement in role.requirements
    }
    assert shapes == {("must", 5, 2.0), ("should", 1, 0.25)}


@pytest.mark.parametrize(
    "options",
    [
        {"isco_group": "25x"},
        {"isco_group": ""},
        {"essential_level": 6},
        {"optional_weight": -1.0},
        {"collection": "blue"},
    ],
)
def test_options_outside_their_range_are_refused(options):
    with pytest.raises(ValueError):
        EscoOptions(**options)


SKILLS_HEADER = "conceptType,conceptUri,skillType,reuseLevel,preferredLabel,altLabels,status,description"


def write(path: Path, *lines: str) -> Path:
    path.write_bytes("".join(f"{line}\r\n" for line in lines).encode())
    return path


def test_bad_rows_are_problems_at_the_line_they_start_on(tmp_path):
    write(
        tmp_path / "skills_en.csv",
        SKILLS_HEADER,
        "KnowledgeSkillCompetence,http://x/skill/1,knowledge,,one,,released,first",
        "KnowledgeSkillCompetence,,knowledge,,no uri,,released,missing its URI",
        'KnowledgeSkillCompetence,http://x/skill/2,knowledge,,two,"two\nsecond\n third ",released,lines 4-6',
        "KnowledgeSkillCompetence,http://x/skill/3,knowledge,,,,released,no label on line 7",
        "KnowledgeSkillCompetence,http://x/skill/4,knowledge,,four,,released,too,many",
        "KnowledgeSkillCompetence,http://x/skill/5,knowledge,,five,,obsolete,withdrawn",
        "KnowledgeSkillCompetence,http://x/skill/1,knowledge,,one again,,released,duplicate",
        'KnowledgeSkillCompetence,,knowledge,,multi-line and no uri,"a\nb",released,lines 11-12',
    )
    write(
        tmp_path / "occupations_en.csv",
        "conceptType,conceptUri,iscoGroup,preferredLabel,status,description",
        "Occupation,http://x/occupation/1,2512,developer,released,",
    )
    write(
        tmp_path / "occupationSkillRelations.csv",
        "occupationUri,relationType,skillType,skillUri",
        "http://x/occupation/1,essential,knowledge,http://x/skill/1",
        "http://x/occupation/1,optional,knowledge,http://x/skill/404",
        "http://x/occupation/1,useful,knowledge,http://x/skill/2",
        "http://x/occupation/9,essential,knowledge,http://x/skill/2",
        "http://x/occupation/1,essential,knowledge,http://x/skill/5",
    )
    bundle = read_esco([tmp_path], options=EscoOptions())

    assert [(problem.file, problem.line, problem.message) for problem in bundle.problems] == [
        ("skills_en.csv", 3, "no conceptUri"),
        ("skills_en.csv", 7, "no preferredLabel"),
        ("skills_en.csv", 8, "9 fields; the header has 8"),
        ("skills_en.csv", 9, "status 'obsolete': only released concepts are imported"),
        ("skills_en.csv", 10, "http://x/skill/1 appears twice; the first row is kept"),
        ("skills_en.csv", 11, "no conceptUri"),
        ("occupationSkillRelations.csv", 3, "unknown skill http://x/skill/404"),
        ("occupationSkillRelations.csv", 4, "relationType 'useful' is neither essential nor optional"),
    ]
    assert [skill.external_id for skill in bundle.skills] == ["http://x/skill/1", "http://x/skill/2"]
    assert bundle.skills[1].alternative_labels == ["two", "second", "third"]
    assert [requirement.skill_external_id for requirement in bundle.roles[0].requirements] == ["http://x/skill/1"]
    # Relations to the withdrawn skill and of an occupation not in the input are outside the import.
    assert bundle.left_out == {"requirements": 2}
    assert bundle.framework.release == ""


def test_a_file_missing_columns_gives_one_problem_naming_them(tmp_path):
    write(tmp_path / "skills_en.csv", "conceptType,uri,label", "KnowledgeSkillCompetence,http://x/skill/1,one")
    bundle = read_esco([tmp_path / "skills_en.csv"], options=EscoOptions())
    assert [(problem.file, problem.line, problem.message) for problem in bundle.problems] == [
        ("skills_en.csv", 1, "missing columns: conceptUri, preferredLabel")
    ]
    assert bundle.skills == []


def test_relations_to_unknown_skills_are_problems_and_en_suffixed_names_are_read_from_a_zip(tmp_path):
    skills = write(
        tmp_path / "skills_en.csv", SKILLS_HEADER, "KnowledgeSkillCompetence,http://x/skill/1,knowledge,,one,,released,"
    )
    related = write(
        tmp_path / "related.csv",
        "originalSkillUri,originalSkillType,relationType,relatedSkillType,relatedSkillUri",
        "http://x/skill/1,knowledge,essential,knowledge,http://x/skill/1",
        "http://x/skill/1,knowledge,optional,knowledge,http://x/skill/2",
        "http://x/skill/9,knowledge,optional,knowledge,http://x/skill/1",
    )
    archive = tmp_path / "ESCO dataset - v1.2.0 - classification - en - csv.zip"
    with zipfile.ZipFile(archive, "w") as written:
        written.write(skills, "esco/skills_en.csv")
        written.write(related, "esco/skillSkillRelations_en.csv")
    bundle = read_esco([archive], options=EscoOptions())

    assert [(problem.file, problem.line, problem.message) for problem in bundle.problems] == [
        ("skillSkillRelations_en.csv", 3, "unknown skill http://x/skill/2")
    ]
    assert [association.association_type for association in bundle.associations] == ["hasEssentialSkill"]
    assert bundle.left_out == {"associations": 1}, "a row about a skill the input lacks is outside it"
    assert bundle.framework.release == "v1.2.0"


def test_inputs_without_skills_or_that_do_not_exist_are_problems(tmp_path):
    bundle = read_esco([tmp_path / "nowhere.zip", tmp_path], options=EscoOptions())
    assert [(problem.file, problem.message) for problem in bundle.problems] == [
        (str(tmp_path / "nowhere.zip"), "no such file or directory"),
        ("skills_en.csv", "not among the files given; ESCO needs its skills"),
    ]


def test_progress_reports_each_stage_with_its_final_count():
    calls: list[tuple[str, int, int]] = []
    read_esco([SLICE], options=EscoOptions(), progress=lambda *call: calls.append(call))
    finals = {stage: done for stage, done, total in calls if total and done == total}
    assert finals == {
        "esco: skills": 1_487,
        "esco: broader relations": 2_344,
        "esco: skill relations": 488,
        "esco: occupations": 136,
        "esco: occupation skills": 7_390,
    }
    assert ("esco: occupation skills", 7_000, 0) in calls
