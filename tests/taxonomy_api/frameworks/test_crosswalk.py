"""Nesta's ESCO-O*NET crosswalk as associations, joined against the O*NET reader's ids."""

import csv
from collections import Counter
from pathlib import Path

from services.taxonomy_api.frameworks.bundle import ImportProblem
from services.taxonomy_api.frameworks.crosswalk import read_esco_onet_crosswalk
from tests.material import SHARED_DIR

CROSSWALK = SHARED_DIR / "data" / "esco-onet-crosswalk-nesta" / "esco_onet_crosswalk_Nov2020.csv"
SOFTWARE_DEVELOPER = "http://data.europa.eu/esco/occupation/f2b15a0e-e65a-438a-affb-29b9d50b77d1"
MEMBER_OF_PARLIAMENT = "http://data.europa.eu/esco/occupation/5bca96fd-4203-400b-be58-9e9b50bc98da"


def test_every_row_is_an_association_typed_by_confidence():
    with open(CROSSWALK, encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    problems: list[ImportProblem] = []
    associations = read_esco_onet_crosswalk(CROSSWALK, problems=problems)

    assert problems == []
    assert len(associations) == len(rows) == 1_680
    assert [(a.origin, a.destination) for a in associations] == [
        (row["concept_uri"], f"onet:{row['onet_code']}") for row in rows
    ]
    assert Counter(a.association_type for a in associations) == {
        "closeMatch": sum(1 for row in rows if float(row["confidence"]) == 2.0),
        "isRelatedTo": sum(1 for row in rows if float(row["confidence"]) < 2.0),
    }


def test_known_pairs_keep_nesta_s_evidence():
    associations = {a.origin: a for a in read_esco_onet_crosswalk(CROSSWALK)}
    developer = associations[SOFTWARE_DEVELOPER]
    assert (developer.association_type, developer.destination) == ("isRelatedTo", "onet:15-1131.00")
    assert developer.identifier == f"isRelatedTo:{SOFTWARE_DEVELOPER}->onet:15-1131.00"
    assert developer.source["confidence"] == 1.0
    assert developer.source["matching_job_titles"] == ["software developer", "programmer", "software engineer"]
    assert developer.source["onet_occupation"] == "computer programmers"
    member = associations[MEMBER_OF_PARLIAMENT]
    assert (member.association_type, member.destination) == ("closeMatch", "onet:11-1031.00")


def test_destinations_meet_the_o_net_reader_s_roles_where_the_code_survived_the_2019_soc(onet, onet_with_unrated):
    destinations = [a.destination for a in read_esco_onet_crosswalk(CROSSWALK)]
    rated = {role.external_id for role in onet.roles}
    every = {role.external_id for role in onet_with_unrated.roles}
    # The figures the data's README gives for this join.
    assert sum(1 for destination in destinations if destination in every) == 1_355
    assert sum(1 for destination in destinations if destination in rated) == 1_315


def test_bad_rows_are_problems_and_skipped(tmp_path: Path):
    path = tmp_path / "crosswalk.csv"
    path.write_text(
        "id,esco_occupation,isco_code,onet_code,onet_occupation,matching_job_titles,semantic_similarity,confidence,concept_uri\n"
        "1,a,2512,15-1131.00,programmers,na,0.8,2.0,http://x/occupation/1\n"
        "2,b,2512,15-1131.00,programmers,na,0.8,2.0,\n"
        "3,c,2512,15-1131.00,programmers,na,0.8,high,http://x/occupation/3\n"
        "4,a,2512,15-1131.00,programmers,na,0.8,1.0,http://x/occupation/1\n",
        encoding="utf-8",
    )
    problems: list[ImportProblem] = []
    associations = read_esco_onet_crosswalk(path, problems=problems)
    assert [a.origin for a in associations] == ["http://x/occupation/1"]
    assert "matching_job_titles" not in associations[0].source
    assert [(problem.file, problem.line, problem.message) for problem in problems] == [
        ("crosswalk.csv", 3, "no concept_uri or onet_code"),
        ("crosswalk.csv", 4, "confidence 'high' is not a number"),
        ("crosswalk.csv", 5, "http://x/occupation/1 → 15-1131.00 appears twice; the first is kept"),
    ]
