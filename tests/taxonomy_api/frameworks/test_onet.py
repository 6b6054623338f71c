"""The O*NET reader against O*NET 29.2 (read from ../shared/data), the requirement rule on its edges, and
hand-made bad files. Expected figures are counted from the files with csv."""

import csv
from collections import Counter
from pathlib import Path

import pytest

from services.taxonomy_api.frameworks.bundle import BundleRequirement
from services.taxonomy_api.frameworks.onet import OnetOptions, read_onet, requirement_from
from tests.taxonomy_api.frameworks.conftest import ONET


def tab_rows(name: str) -> list[dict[str, str]]:
    with open(ONET / name, encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream, delimiter="\t", quoting=csv.QUOTE_NONE))


def test_every_rated_occupation_is_a_role_and_every_element_a_skill(onet):
    skills, knowledge = tab_rows("Skills.txt"), tab_rows("Knowledge.txt")
    rated = {row["O*NET-SOC Code"] for row in skills + knowledge}
    by_type = Counter(skill.skill_type for skill in onet.skills)

    assert len(onet.roles) == len(rated) == 879
    assert {role.external_id for role in onet.roles} == {f"onet:{code}" for code in rated}
    assert by_type == {"skill": 35, "knowledge": 33}
    assert {skill.external_id for skill in onet.skills} == {f"onet:{row['Element ID']}" for row in skills + knowledge}
    assert onet.problems == []
    assert (onet.framework.kind, onet.framework.identifier, onet.framework.title, onet.framework.release) == (
        "onet",
        "onet",
        "O*NET",
        "29.2",
    )


def test_requirements_are_the_pairs_the_rule_keeps(onet):
    pairs: dict[tuple[str, str], dict[str, dict[str, str]]] = {}
    for row in tab_rows("Skills.txt") + tab_rows("Knowledge.txt"):
        pairs.setdefault((row["O*NET-SOC Code"], row["Element ID"]), {})[row["Scale ID"]] = row
    kept = [
        pair
        for pair in pairs.values()
        if float(pair["IM"]["Data Value"]) >= 2.5
        and pair["LV"]["Not Relevant"] != "Y"
        and "Y" not in (pair["IM"]["Recommend Suppress"], pair["LV"]["Recommend Suppress"])
    ]
    assert onet.counts()["requirements"] == len(kept)
    assert onet.left_out == {"requirements": len(pairs) - len(kept)}
    assert sum(1 for role in onet.roles for r in role.requirements if r.criticality == "must") == sum(
        1 for pair in kept if float(pair["IM"]["Data Value"]) >= 3.0
    )


def test_computer_programmers_need_programming_weighted_by_its_importance(onet):
    ratings = {
        row["Scale ID"]: float(row["Data Value"])
        for row in tab_rows("Skills.txt")
        if row["O*NET-SOC Code"] == "15-1251.00" and row["Element ID"] == "2.B.3.e"
    }
    role = next(role for role in onet.roles if role.external_id == "onet:15-1251.00")
    programming = next(r for r in role.requirements if r.skill_external_id == "onet:2.B.3.e")

    assert role.name == "Computer Programmers"
    assert role.job_family == "SOC 15 Computer and Mathematical Occupations"
    assert role.grade == "Job Zone 4"
    assert programming.weight == ratings["IM"] == 4.75
    assert programming.level == round(ratings["LV"] / 7 * 5) == 3
    assert programming.criticality == "must"


def test_software_developers_have_no_ratings_in_29_2_so_are_a_role_only_when_asked_for(onet, onet_with_unrated):
    assert "onet:15-1252.00" not in {role.external_id for role in onet.roles}
    developers = next(role for role in onet_with_unrated.roles if role.external_id == "onet:15-1252.00")
    assert developers.name == "Software Developers"
    assert developers.requirements == []
    assert len(onet_with_unrated.roles) == len(tab_rows("Occupation Data.txt")) == 1_016


def test_skills_hang_from_their_content_model_parent(onet):
    skills = {skill.external_id: skill for skill in onet.skills}
    capabilities = {capability.external_id: capability for capability in onet.capabilities}
    reading = skills["onet:2.A.1.a"]
    assert (reading.name, reading.skill_type, reading.capability_external_id) == (
        "Reading Comprehension",
        "skill",
        "onet:2.A.1",
    )
    assert reading.description == "Understanding written sentences and paragraphs in work-related documents."
    assert skills["onet:2.C.1.a"].capability_external_id == "onet:2.C.1"
    assert capabilities["onet:2.C.1"].name == "Business and Management"
    assert capabilities["onet:2.C.1"].parent_external_id == "onet:2.C"
    assert capabilities["onet:2.A.1"].parent_external_id == "onet:2.A"
    assert all(skill.capability_external_id in capabilities for skill in onet.skills)
    position = {capability.external_id: index for index, capability in enumerate(onet.capabilities)}
    assert all(
        position[c.parent_external_id] < position[c.external_id] for c in onet.capabilities if c.parent_external_id
    )
    assert all(c.parent_external_id is None or c.parent_external_id in capabilities for c in capabilities.values())


def rule(importance: float, level: float, options: OnetOptions | None = None, **flags) -> BundleRequirement | None:
    return requirement_from(importance, level, options or OnetOptions(), skill_external_id="onet:x", **flags)


def test_the_rule_on_its_edges():
    assert rule(2.49, 4.0) is None
    assert rule(2.5, 4.0) == BundleRequirement("onet:x", level=3, weight=2.5, criticality="should")
    assert rule(2.99, 4.0).criticality == "should"
    assert rule(3.0, 4.0).criticality == "must"
    assert rule(5.0, 7.0) == BundleRequirement("onet:x", level=5, weight=5.0, criticality="must")
    assert rule(3.0, 0.0).level == 0
    # 3.5 / 7 * 5 = 2.5 rounds up, and 4.9 / 7 * 5 = 3.5 too: half up, not to even.
    assert rule(3.0, 3.5).level == 3
    assert rule(3.0, 4.9).level == 4
    assert rule(3.0, 3.49).level == 2
    assert rule(3.0, 8.0).level == 5
    assert rule(3.0, -1.0).level == 0


def test_the_rule_drops_not_relevant_and_suppressed_ratings_unless_told_to_keep_them():
    assert rule(4.0, 4.0, not_relevant=True) is None
    assert rule(4.0, 4.0, suppressed=True) is None
    keep = OnetOptions(skip_not_relevant=False, skip_suppressed=False)
    assert rule(4.0, 4.0, keep, not_relevant=True, suppressed=True).criticality == "must"


def test_the_rule_thresholds_come_from_the_options():
    strict = OnetOptions(min_importance=3.5, must_importance=4.0)
    assert rule(3.4, 4.0, strict) is None
    assert rule(3.5, 4.0, strict).criticality == "should"
    assert rule(4.0, 4.0, strict).criticality == "must"
    with pytest.raises(ValueError):
        OnetOptions(min_importance=3.5, must_importance=3.0)


HEADER = (
    "O*NET-SOC Code\tElement ID\tElement Name\tScale ID\tData Value\tN\tStandard Error\tLower CI Bound\t"
    "Upper CI Bound\tRecommend Suppress\tNot Relevant\tDate\tDomain Source"
)


def rating(code: str, element: str, scale: str, value: str, suppress: str = "N", not_relevant: str = "N") -> str:
    fields = (code, element, f"Element {element}", scale, value, "8", "0.1", "0", "0", suppress, not_relevant)
    return "\t".join((*fields, "08/2023", "Analyst"))


def write(path: Path, *lines: str) -> Path:
    path.write_bytes("".join(f"{line}\r\n" for line in lines).encode())
    return path


def test_bad_rows_are_problems_at_their_lines_in_crlf_files(tmp_path):
    write(
        tmp_path / "Skills.txt",
        HEADER,
        rating("15-1251.00", "2.B.3.e", "IM", "4.75"),
        rating("15-1251.00", "2.B.3.e", "LV", "high"),
        rating("15-1251.00", "2.A.1.a", "IM", "4.00"),
        rating("15-1251.00", "2.A.1.b", "XX", "4.00"),
        rating("15-1251.00", "2.A.1.c", "IM", "9.00"),
        rating("99-9999.00", "2.A.1.a", "IM", "4.00"),
        rating("99-9999.00", "2.A.1.a", "LV", "4.00"),
        rating("15-1251.00", "2.A.1.a", "IM", "3.00"),
        "15-1251.00\t2.A.1.d\ttoo short",
        rating("", "2.A.1.d", "IM", "3.00"),
    )
    write(tmp_path / "Occupation Data.txt", "O*NET-SOC Code\tTitle\tDescription", "15-1251.00\tComputer Programmers\tx")
    bundle = read_onet([tmp_path / "Skills.txt", tmp_path / "Occupation Data.txt"], options=OnetOptions())

    assert [(problem.file, problem.line, problem.message) for problem in bundle.problems] == [
        ("Skills.txt", 3, "Data Value 'high' is not a number"),
        ("Skills.txt", 5, "Scale ID 'XX' is neither IM nor LV"),
        ("Skills.txt", 6, "IM 9.0 is outside 1-5"),
        ("Skills.txt", 9, "15-1251.00 2.A.1.a IM is rated twice; the first row is kept"),
        ("Skills.txt", 10, "3 fields; the header has 13"),
        ("Skills.txt", 11, "no O*NET-SOC Code or Element ID"),
        ("Skills.txt", 2, "15-1251.00 2.B.3.e has no LV rating"),
        ("Skills.txt", 4, "15-1251.00 2.A.1.a has no LV rating"),
        ("Skills.txt", 7, "99-9999.00 is not in Occupation Data.txt"),
    ]
    assert [role.name for role in bundle.roles] == ["Computer Programmers"]
    assert bundle.roles[0].requirements == []


def test_a_ratings_file_missing_columns_gives_one_problem_naming_them(tmp_path):
    write(tmp_path / "Knowledge.txt", "O*NET-SOC Code\tElement ID\tScale ID\tData Value", "15-1251.00\t2.C.1.a\tIM\t4")
    bundle = read_onet([tmp_path], options=OnetOptions())
    assert [(problem.file, problem.line, problem.message) for problem in bundle.problems] == [
        ("Knowledge.txt", 1, "missing columns: Recommend Suppress, Not Relevant"),
        ("Occupation Data.txt", None, "not among the files; no roles without titles"),
    ]
    assert bundle.skills == []
