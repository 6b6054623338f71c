"""O*NET® occupations and the skills and knowledge they need, from O*NET's tab-delimited text files.

Files (a directory of them, or the files): Skills.txt and Knowledge.txt (ratings), Occupation Data.txt
(titles and descriptions), Content Model Reference.txt (element descriptions and the groups above them),
and, if given, Job Zones.txt (a role's grade). Skills and knowledge become skills "onet:<element id>"; the
content-model element above each becomes its capability; rated occupations become roles "onet:<code>".

Every occupation is rated on every element for Importance (IM, 1-5) and Level (LV, 0-7). The rule turning
a rating pair into a requirement (requirement_from, thresholds in OnetOptions):

- no requirement when LV is marked Not Relevant, or either rating Recommend Suppress (O*NET's flag for
  estimates too imprecise to publish), or IM < min_importance (2.5);
- level = LV / 7 * 5 rounded half up, clamped to 0..5: the organisation's 0-5 scale;
- weight = IM;
- criticality "must" when IM >= must_importance (3.0), else "should".

O*NET OnLine calls an element important from IM 3.0 (50 on its 0-100 display), hence "must" there; pairs
from 2.5 to 3 are kept as "should" so a near-important skill still shows in a gap report. Pairs the rule
drops are counted in Bundle.left_out. Lines in problems are physical lines, the header being line 1.
"""

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from services.taxonomy_api.frameworks.bundle import (
    Bundle,
    BundleCapability,
    BundleRequirement,
    BundleRole,
    BundleSkill,
    FrameworkInfo,
    ImportProblem,
    Progress,
    no_progress,
)
from services.taxonomy_api.frameworks.sources import SourceFile, find_sources, read_rows

ATTRIBUTION = (
    "This page includes information from the O*NET 29.2 Database by the U.S. Department of Labor, Employment "
    "and Training Administration (USDOL/ETA). Used under the CC BY 4.0 license. O*NET® is a trademark of "
    "USDOL/ETA. CredStack has modified all or some of this information. USDOL/ETA has not approved, endorsed, "
    "or tested these modifications."
)
ONET_URI = "https://www.onetcenter.org/"
DESCRIPTOR_URL = "https://www.onetonline.org/find/descriptor/result/"
IMPORTANCE_RANGE = (1.0, 5.0)
LEVEL_RANGE = (0.0, 7.0)
PROGRESS_EVERY = 1000
RATING_FILES = {"skills": "skill", "knowledge": "knowledge"}
RATING_COLUMNS = (
    "O*NET-SOC Code",
    "Element ID",
    "Scale ID",
    "Data Value",
    "Recommend Suppress",
    "Not Relevant",
)
FILE_KEYS = {
    "skills.txt": "skills",
    "knowledge.txt": "knowledge",
    "occupation data.txt": "occupations",
    "content model reference.txt": "content model",
    "job zones.txt": "job zones",
}
# The SOC major groups the first two digits of an O*NET-SOC code name (2018 SOC titles).
SOC_MAJOR_GROUPS = {
    "11": "Management Occupations",
    "13": "Business and Financial Operations Occupations",
    "15": "Computer and Mathematical Occupations",
    "17": "Architecture and Engineering Occupations",
    "19": "Life, Physical, and Social Science Occupations",
    "21": "Community and Social Service Occupations",
    "23": "Legal Occupations",
    "25": "Educational Instruction and Library Occupations",
    "27": "Arts, Design, Entertainment, Sports, and Media Occupations",
    "29": "Healthcare Practitioners and Technical Occupations",
    "31": "Healthcare Support Occupations",
    "33": "Protective Service Occupations",
    "35": "Food Preparation and Serving Related Occupations",
    "37": "Building and Grounds Cleaning and Maintenance Occupations",
    "39": "Personal Care and Service Occupations",
    "41": "Sales and Related Occupations",
    "43": "Office and Administrative Support Occupations",
    "45": "Farming, Fishing, and Forestry Occupations",
    "47": "Construction and Extraction Occupations",
    "49": "Installation, Maintenance, and Repair Occupations",
    "51": "Production Occupations",
    "53": "Transportation and Material Moving Occupations",
    "55": "Military Specific Occupations",
}


@dataclass(frozen=True)
class OnetOptions:
    """The thresholds of the requirement rule (module docstring), on O*NET's IM scale of 1-5.
    `unrated_occupations` also brings occupations O*NET has not rated (137 of 1,016 in 29.2), as roles
    without requirements."""

    min_importance: float = 2.5
    must_importance: float = 3.0
    skip_not_relevant: bool = True
    skip_suppressed: bool = True
    unrated_occupations: bool = False
    release: str = "29.2"

    def __post_init__(self) -> None:
        if self.must_importance < self.min_importance:
            raise ValueError("must_importance cannot be below min_importance")


def requirement_from(
    importance: float,
    level: float,
    options: OnetOptions,
    *,
    skill_external_id: str,
    not_relevant: bool = False,
    suppressed: bool = False,
) -> BundleRequirement | None:
    """The requirement one IM/LV rating pair makes, or None when the rule drops it (module docstring)."""
    if (not_relevant and options.skip_not_relevant) or (suppressed and options.skip_suppressed):
        return None
    if importance < options.min_importance:
        return None
    # Half up, not Python's half to even: LV 3.5 is level 3 (2.5 on our scale) and should not depend on parity.
    scaled = math.floor(level / LEVEL_RANGE[1] * 5 + 0.5)
    return BundleRequirement(
        skill_external_id=skill_external_id,
        level=min(5, max(0, scaled)),
        weight=importance,
        criticality="must" if importance >= options.must_importance else "should",
    )


@dataclass
class _Rating:
    value: float
    line: int
    file: str
    suppressed: bool
    not_relevant: bool


@dataclass
class _Element:
    name: str
    skill_type: str


@dataclass
class _Reading:
    sources: dict[str, SourceFile]
    progress: Progress
    problems: list[ImportProblem]
    left_out: dict[str, int] = field(default_factory=dict)

    def rows(self, key: str, columns: Sequence[str]) -> Iterator[tuple[str, int, dict[str, str]]]:
        source = self.sources.get(key)
        if source is None:
            return
        stage = f"onet: {key}"
        done = 0
        self.progress(stage, 0, 0)
        for line, row in read_rows(source, columns, self.problems, delimiter="\t", fill_short_rows=False):
            yield source.name, line, row
            done += 1
            if done % PROGRESS_EVERY == 0:
                self.progress(stage, done, 0)
        self.progress(stage, done, done)

    def problem(self, file: str, line: int | None, message: str) -> None:
        self.problems.append(ImportProblem(file, line, message))


def _file_key(name: str) -> str | None:
    return FILE_KEYS.get(name.lower().replace("_", " "))


def _flag(value: str) -> bool:
    return value.strip().upper() == "Y"


def _read_ratings(reading: _Reading, elements: dict[str, _Element]) -> dict[tuple[str, str], dict[str, _Rating]]:
    """Every (occupation code, element id) pair's ratings by scale, in file order."""
    ratings: dict[tuple[str, str], dict[str, _Rating]] = {}
    for key, skill_type in RATING_FILES.items():
        for file, line, row in reading.rows(key, RATING_COLUMNS):
            code, element, scale = (row[column].strip() for column in ("O*NET-SOC Code", "Element ID", "Scale ID"))
            if not code or not element:
                reading.problem(file, line, "no O*NET-SOC Code or Element ID")
                continue
            bounds = {"IM": IMPORTANCE_RANGE, "LV": LEVEL_RANGE}.get(scale)
            if bounds is None:
                reading.problem(file, line, f"Scale ID {scale!r} is neither IM nor LV")
                continue
            try:
                value = float(row["Data Value"])
            except ValueError:
                reading.problem(file, line, f"Data Value {row['Data Value']!r} is not a number")
                continue
            if not bounds[0] <= value <= bounds[1]:
                reading.problem(file, line, f"{scale} {value} is outside {bounds[0]:g}-{bounds[1]:g}")
                continue
            known = elements.get(element)
            if known is None:
                elements[element] = _Element(row.get("Element Name", "").strip() or element, skill_type)
            elif known.skill_type != skill_type:
                reading.problem(file, line, f"element {element} is rated as both {known.skill_type} and {skill_type}")
                continue
            pair = ratings.setdefault((code, element), {})
            if scale in pair:
                reading.problem(file, line, f"{code} {element} {scale} is rated twice; the first row is kept")
                continue
            pair[scale] = _Rating(value, line, file, _flag(row["Recommend Suppress"]), _flag(row["Not Relevant"]))
    return ratings


def _read_content_model(reading: _Reading) -> dict[str, tuple[str, str]]:
    content: dict[str, tuple[str, str]] = {}
    for file, line, row in reading.rows("content model", ("Element ID", "Element Name", "Description")):
        element, name = row["Element ID"].strip(), row["Element Name"].strip()
        if not element or not name:
            reading.problem(file, line, "no Element ID or Element Name")
            continue
        content.setdefault(element, (name, row["Description"].strip()))
    return content


def _read_occupations(reading: _Reading) -> dict[str, tuple[str, str]]:
    occupations: dict[str, tuple[str, str]] = {}
    for file, line, row in reading.rows("occupations", ("O*NET-SOC Code", "Title", "Description")):
        code, title = row["O*NET-SOC Code"].strip(), row["Title"].strip()
        if not code or not title:
            reading.problem(file, line, "no O*NET-SOC Code or Title")
        elif code in occupations:
            reading.problem(file, line, f"{code} appears twice; the first row is kept")
        else:
            occupations[code] = (title, row["Description"].strip())
    return occupations


def _read_job_zones(reading: _Reading) -> dict[str, str]:
    zones: dict[str, str] = {}
    for _file, _line, row in reading.rows("job zones", ("O*NET-SOC Code", "Job Zone")):
        if row["Job Zone"].strip():
            zones.setdefault(row["O*NET-SOC Code"].strip(), row["Job Zone"].strip())
    return zones


def _outline_order(element: str) -> tuple[tuple[int, int | str], ...]:
    """2.C.2 before 2.C.10, as the content model numbers them."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in element.split("."))


def _parent(element: str) -> str | None:
    return element.rpartition(".")[0] or None


def read_onet(paths: Sequence[Path], *, options: OnetOptions, progress: Progress = no_progress) -> Bundle:
    """The O*NET occupations, skills and knowledge in `paths` as a Bundle; every row that could not be
    taken is in its problems."""
    problems: list[ImportProblem] = []
    reading = _Reading(find_sources(paths, _file_key, problems), progress, problems)
    bundle = Bundle(
        framework=FrameworkInfo(
            kind="onet",
            identifier="onet",
            title="O*NET",
            release=options.release,
            uri=ONET_URI,
            document={"attribution": ATTRIBUTION, "licence": "CC BY 4.0"},
        ),
        problems=problems,
        left_out=reading.left_out,
    )
    if not any(key in reading.sources for key in RATING_FILES):
        problems.append(ImportProblem("Skills.txt", None, "neither Skills.txt nor Knowledge.txt is among the files"))
        return bundle

    elements: dict[str, _Element] = {}
    ratings = _read_ratings(reading, elements)
    content = _read_content_model(reading)
    occupations = _read_occupations(reading)
    job_zones = _read_job_zones(reading)

    used_capabilities: set[str] = set()
    for element_id, element in elements.items():
        parent = _parent(element_id)
        capability = f"onet:{parent}" if parent in content else None
        bundle.skills.append(
            BundleSkill(
                external_id=f"onet:{element_id}",
                name=element.name,
                description=content.get(element_id, ("", ""))[1],
                capability_external_id=capability,
                skill_type=element.skill_type,
                url=f"{DESCRIPTOR_URL}{element_id}",
                source={"elementId": element_id},
            )
        )
        while parent in content and parent not in used_capabilities:
            used_capabilities.add(parent)
            parent = _parent(parent)
    for element_id in sorted(used_capabilities, key=_outline_order):
        name, description = content[element_id]
        parent = _parent(element_id)
        bundle.capabilities.append(
            BundleCapability(
                external_id=f"onet:{element_id}",
                name=name,
                description=description,
                parent_external_id=f"onet:{parent}" if parent in used_capabilities else None,
                source={"elementId": element_id},
            )
        )

    requirements: dict[str, list[BundleRequirement]] = {}
    unknown_occupations: set[str] = set()
    for (code, element_id), pair in ratings.items():
        importance, level = pair.get("IM"), pair.get("LV")
        if importance is None or level is None:
            present = importance or level
            missing = "LV" if level is None else "IM"
            reading.problem(present.file, present.line, f"{code} {element_id} has no {missing} rating")
            continue
        if occupations and code not in occupations:
            if code not in unknown_occupations:
                unknown_occupations.add(code)
                reading.problem(importance.file, importance.line, f"{code} is not in Occupation Data.txt")
            continue
        requirement = requirement_from(
            importance.value,
            level.value,
            options,
            skill_external_id=f"onet:{element_id}",
            not_relevant=level.not_relevant,
            suppressed=importance.suppressed or level.suppressed,
        )
        if requirement is None:
            reading.left_out["requirements"] = reading.left_out.get("requirements", 0) + 1
        else:
            requirements.setdefault(code, []).append(requirement)

    rated = {code for code, _element in ratings}
    if not occupations:
        problems.append(ImportProblem("Occupation Data.txt", None, "not among the files; no roles without titles"))
    for code, (title, description) in occupations.items():
        if code not in rated and not options.unrated_occupations:
            continue
        major = code[:2]
        zone = job_zones.get(code)
        bundle.roles.append(
            BundleRole(
                external_id=f"onet:{code}",
                name=title,
                description=description,
                job_family=" ".join(part for part in ("SOC", major, SOC_MAJOR_GROUPS.get(major, "")) if part),
                grade=f"Job Zone {zone}" if zone else "",
                requirements=requirements.get(code, []),
                source={"code": code},
            )
        )
    return bundle
