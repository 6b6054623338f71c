"""ESCO, the European Commission's classification of skills and occupations, from its CSV download.

Takes the download's two zips (classification, relations), directories of their CSVs, or single CSVs;
files are known by name, with or without the `_en` language suffix (the relations zip of v1.1.1 has none).

- skills_en.csv → skills; skillGroups_en.csv with skillsHierarchy_en.csv → capabilities (the hierarchy gives
  each group its parent, and names a few groups skillGroups_en.csv lacks).
- A skill's capability is its first broader skill group in broaderRelationsSkillPillar.csv (file order); a
  skill that hangs only from other skills takes the capability of its first broader skill. Every broader
  relation from a skill is kept as a "broader" association, origin the narrower concept.
- skillSkillRelations.csv → "hasEssentialSkill" / "hasOptionalSkill" associations, ESCO's own names: the
  original skill has the related skill as essential or optional.
- occupations_en.csv → roles; occupationSkillRelations.csv → requirements. ESCO has no proficiency levels, so
  essential means "must" at EscoOptions.essential_level and optional "should" at optional_level.
- `<name>SkillsCollection_en.csv` → the collection's name as a tag on its skills, and EscoOptions.collection.

Only released concepts are taken: any other status says the concept has left the classification (ESCO v1.1.1
publishes none), so such a row is reported and skipped, relations to it are left out, and a re-import sees
it gone.

A relation row is about its first concept: the occupation in occupationSkillRelations.csv, the narrower
concept in broaderRelationsSkillPillar.csv, the original skill in skillSkillRelations.csv. A row about a
concept the input lacks is outside the import and counted in Bundle.left_out: ESCO's relations package is
language-independent and covers concepts the English files do not (in v1.1.1 one occupation, 67 rows),
and a slice carries the full relation files. A row about a concept the import has, naming a skill it
lacks, is a problem; a broader concept it lacks is where a slice's hierarchy was cut, and is left out.
Lines in problems are the line a row starts on.
"""

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from services.taxonomy_api.frameworks.bundle import (
    Bundle,
    BundleAssociation,
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

ESCO_URI = "http://data.europa.eu/esco/"
# The wording the EC asks reusers to show (ESCO download conditions).
ATTRIBUTION = "This service uses the ESCO classification of the European Commission."

Collection = Literal["digital", "green", "transversal", "language", "research", "digcomp"]
COLLECTIONS: tuple[str, ...] = get_args(Collection)

PROGRESS_EVERY = 1000
RELEASED = "released"
SKILL_RELATION_TYPES = {"essential": "hasEssentialSkill", "optional": "hasOptionalSkill"}
SKILL_GROUP = "SkillGroup"

FILE_KEYS = {
    "skills",
    "skillgroups",
    "skillshierarchy",
    "iscogroups",
    "occupations",
    "occupationskillrelations",
    "broaderrelationsskillpillar",
    "skillskillrelations",
    *(f"{collection}skillscollection" for collection in COLLECTIONS),
}


@dataclass(frozen=True)
class EscoOptions:
    """Levels and weights are on the organisation's 0-5 scale.

    Subsets: each option narrows the import. `collection` keeps only that collection's skills, and no
    occupations unless `isco_group` is given too; `isco_group` keeps the occupations whose ISCO-08 code starts
    with it and the skills they require. A subset brings the skill groups its skills hang from and their
    ancestors; requirements and associations reaching outside it are counted in Bundle.left_out.
    `release` is read from the download's file names ("... - v1.1.1 - ...") unless given."""

    collection: Collection | None = None
    isco_group: str | None = None
    essential_level: int = 3
    optional_level: int = 2
    essential_weight: float = 1.0
    optional_weight: float = 0.5
    release: str | None = None

    def __post_init__(self) -> None:
        if self.collection is not None and self.collection not in COLLECTIONS:
            raise ValueError(f"collection must be one of {', '.join(COLLECTIONS)}")
        if self.isco_group is not None and not re.fullmatch(r"\d{1,4}", self.isco_group):
            raise ValueError("isco_group must be 1 to 4 digits of an ISCO-08 code")
        if not (0 <= self.essential_level <= 5 and 0 <= self.optional_level <= 5):
            raise ValueError("levels are on the 0-5 scale")
        if self.essential_weight < 0 or self.optional_weight < 0:
            raise ValueError("weights cannot be negative")


@dataclass
class _Requirement:
    skill: str
    essential: bool


@dataclass
class _Reading:
    """What one read has found so far, and where it reports."""

    sources: dict[str, SourceFile]
    progress: Progress
    problems: list[ImportProblem]
    left_out: dict[str, int] = field(default_factory=dict)
    # Concepts whose status says they have left ESCO: relations to them are left out, not problems.
    withdrawn: set[str] = field(default_factory=set)

    def rows(self, key: str, stage: str, columns: Sequence[str]) -> Iterator[tuple[str, int, dict[str, str]]]:
        source = self.sources.get(key)
        if source is None:
            return
        stage = f"esco: {stage}"
        done = 0
        self.progress(stage, 0, 0)
        for line, row in read_rows(source, columns, self.problems):
            yield source.name, line, row
            done += 1
            if done % PROGRESS_EVERY == 0:
                self.progress(stage, done, 0)
        self.progress(stage, done, done)

    def problem(self, file: str, line: int, message: str) -> None:
        self.problems.append(ImportProblem(file, line, message))

    def leave_out(self, kind: str) -> None:
        self.left_out[kind] = self.left_out.get(kind, 0) + 1

    def unknown(self, file: str, line: int, what: str, uri: str, kind: str) -> None:
        """A row naming a concept the input lacks: a problem, unless the input withdrew it."""
        if uri in self.withdrawn:
            self.leave_out(kind)
        else:
            self.problem(file, line, f"unknown {what} {uri}")


def _file_key(name: str) -> str | None:
    lowered = name.lower()
    if not lowered.endswith(".csv"):
        return None
    key = lowered.removesuffix(".csv").removesuffix("_en")
    return key if key in FILE_KEYS else None


def _release_of(paths: Sequence[Path]) -> str:
    for path in map(Path, paths):
        for name in (path.name, path.parent.name):
            found = re.search(r"v\d+(?:\.\d+)+", name)
            if found:
                return found.group(0)
    return ""


def _labels(text: str) -> list[str]:
    return list(dict.fromkeys(label for label in (part.strip() for part in text.split("\n")) if label))


def _kept(row: dict[str, str], *columns: str) -> dict[str, Any]:
    return {column: row[column].strip() for column in columns if row.get(column, "").strip()}


def _required(reading: _Reading, file: str, line: int, row: dict[str, str], *columns: str) -> tuple[str, ...] | None:
    values = tuple([row[column].strip() for column in columns])
    if all(values):
        return values
    missing = [column for column, value in zip(columns, values, strict=True) if not value]
    reading.problem(file, line, f"no {' or '.join(missing)}")
    return None


def _released(reading: _Reading, file: str, line: int, uri: str, row: dict[str, str]) -> bool:
    status = row.get("status", RELEASED).strip() or RELEASED
    if status != RELEASED:
        reading.problem(file, line, f"status {status!r}: only released concepts are imported")
        reading.withdrawn.add(uri)
    return status == RELEASED


def _read_skills(reading: _Reading) -> dict[str, BundleSkill]:
    skills: dict[str, BundleSkill] = {}
    for file, line, row in reading.rows("skills", "skills", ("conceptUri", "preferredLabel")):
        values = _required(reading, file, line, row, "conceptUri", "preferredLabel")
        if values is None or not _released(reading, file, line, values[0], row):
            continue
        uri, name = values
        if uri in skills:
            reading.problem(file, line, f"{uri} appears twice; the first row is kept")
            continue
        source = _kept(row, "conceptType", "status", "modifiedDate", "scopeNote", "definition")
        schemes = [scheme.strip() for scheme in row.get("inScheme", "").replace("\n", "").split(",") if scheme.strip()]
        if schemes:
            source["inScheme"] = schemes
        skills[uri] = BundleSkill(
            external_id=uri,
            name=name,
            description=row.get("description", "").strip(),
            alternative_labels=_labels(row.get("altLabels", "")),
            skill_type=row.get("skillType", "").strip(),
            reuse_level=row.get("reuseLevel", "").strip(),
            url=uri,
            source=source,
        )
    return skills


def _read_skill_groups(reading: _Reading) -> tuple[dict[str, BundleCapability], dict[str, str]]:
    """The skill groups, and each group's parent as skillsHierarchy_en.csv gives it."""
    groups: dict[str, BundleCapability] = {}
    for file, line, row in reading.rows("skillgroups", "skill groups", ("conceptUri", "preferredLabel")):
        values = _required(reading, file, line, row, "conceptUri", "preferredLabel")
        if values is None or not _released(reading, file, line, values[0], row):
            continue
        uri, name = values
        if uri in groups:
            reading.problem(file, line, f"{uri} appears twice; the first row is kept")
            continue
        groups[uri] = BundleCapability(
            external_id=uri,
            name=name,
            description=row.get("description", "").strip(),
            source=_kept(row, "conceptType", "code", "status", "modifiedDate", "scopeNote"),
        )
    parents: dict[str, str] = {}
    for file, line, row in reading.rows(
        "skillshierarchy", "skills hierarchy", ("Level 0 URI", "Level 0 preferred term")
    ):
        parent = None
        for level in range(4):
            uri = row.get(f"Level {level} URI", "").strip()
            if not uri:
                break
            if uri not in groups:
                name = row.get(f"Level {level} preferred term", "").strip()
                if not name:
                    reading.problem(file, line, f"no Level {level} preferred term for {uri}")
                    parent = None
                    break
                code = row.get(f"Level {level} code", "").strip()
                groups[uri] = BundleCapability(
                    external_id=uri,
                    name=name,
                    source={"conceptType": SKILL_GROUP, **({"code": code} if code else {})},
                )
            if parent is not None:
                parents.setdefault(uri, parent)
            parent = uri
        # A row's Description is its deepest level's.
        if parent is not None and not groups[parent].description:
            groups[parent].description = row.get("Description", "").strip()
    return groups, parents


def _read_collections(reading: _Reading, skills: dict[str, BundleSkill]) -> dict[str, set[str]]:
    members: dict[str, set[str]] = {}
    for collection in COLLECTIONS:
        key = f"{collection}skillscollection"
        if key not in reading.sources:
            continue
        found = members[collection] = set()
        for file, line, row in reading.rows(key, f"{collection} skills", ("conceptUri",)):
            values = _required(reading, file, line, row, "conceptUri")
            if values is None:
                continue
            (uri,) = values
            if uri not in skills:
                reading.unknown(file, line, "skill", uri, "tags")
                continue
            if uri not in found:
                found.add(uri)
                skills[uri].tags.append(collection)
    return members


def _read_broader_relations(
    reading: _Reading,
    skills: dict[str, BundleSkill],
    groups: dict[str, BundleCapability],
    parents: dict[str, str],
) -> list[BundleAssociation]:
    """Broader associations from skills; sets each skill's capability and fills in group parents the
    hierarchy did not give."""
    first_group: dict[str, str] = {}
    first_broader_skill: dict[str, str] = {}
    associations: list[BundleAssociation] = []
    columns = ("conceptUri", "broaderUri")
    for file, line, row in reading.rows("broaderrelationsskillpillar", "broader relations", columns):
        values = _required(reading, file, line, row, *columns)
        if values is None:
            continue
        concept, broader = values
        if (concept not in skills and concept not in groups) or (broader not in skills and broader not in groups):
            reading.leave_out("associations")
            continue
        if concept in groups:
            if broader in groups:
                parents.setdefault(concept, broader)
            else:
                reading.problem(file, line, f"skill group {concept} is under a skill, {broader}")
            continue
        associations.append(BundleAssociation(f"broader:{concept}->{broader}", "broader", concept, broader))
        if broader in groups:
            first_group.setdefault(concept, broader)
        else:
            first_broader_skill.setdefault(concept, broader)

    for uri, skill in skills.items():
        seen = {uri}
        while uri not in first_group and uri in first_broader_skill and first_broader_skill[uri] not in seen:
            uri = first_broader_skill[uri]
            seen.add(uri)
        skill.capability_external_id = first_group.get(uri)
    for uri, parent in parents.items():
        if parent in groups:
            groups[uri].parent_external_id = parent
    return associations


def _read_skill_relations(reading: _Reading, skills: dict[str, BundleSkill]) -> list[BundleAssociation]:
    associations: list[BundleAssociation] = []
    columns = ("originalSkillUri", "relationType", "relatedSkillUri")
    for file, line, row in reading.rows("skillskillrelations", "skill relations", columns):
        values = _required(reading, file, line, row, *columns)
        if values is None:
            continue
        origin, relation, destination = values
        association_type = SKILL_RELATION_TYPES.get(relation)
        if origin not in skills:
            reading.leave_out("associations")
        elif association_type is None:
            reading.problem(file, line, f"relationType {relation!r} is neither essential nor optional")
        elif destination not in skills:
            reading.unknown(file, line, "skill", destination, "associations")
        else:
            identifier = f"{association_type}:{origin}->{destination}"
            associations.append(BundleAssociation(identifier, association_type, origin, destination))
    return associations


def _read_isco_labels(reading: _Reading) -> dict[str, str]:
    labels: dict[str, str] = {}
    for _file, _line, row in reading.rows("iscogroups", "ISCO groups", ("code", "preferredLabel")):
        labels.setdefault(row["code"].strip(), row["preferredLabel"].strip())
    return labels


def _read_occupations(reading: _Reading) -> tuple[dict[str, BundleRole], dict[str, str]]:
    """The occupations, and each one's ISCO-08 unit group code."""
    isco_labels = _read_isco_labels(reading)
    roles: dict[str, BundleRole] = {}
    isco_groups: dict[str, str] = {}
    columns = ("conceptUri", "preferredLabel", "iscoGroup")
    for file, line, row in reading.rows("occupations", "occupations", columns):
        values = _required(reading, file, line, row, "conceptUri", "preferredLabel")
        if values is None or not _released(reading, file, line, values[0], row):
            continue
        uri, name = values
        if uri in roles:
            reading.problem(file, line, f"{uri} appears twice; the first row is kept")
            continue
        isco_group = isco_groups[uri] = row["iscoGroup"].strip()
        job_family = " ".join(part for part in ("ISCO", isco_group, isco_labels.get(isco_group, "")) if part)
        roles[uri] = BundleRole(
            external_id=uri,
            name=name,
            description=row.get("description", "").strip(),
            job_family=job_family if isco_group else "",
            source=_kept(row, "conceptType", "code", "iscoGroup", "status", "modifiedDate"),
        )
    return roles, isco_groups


def _read_occupation_skills(
    reading: _Reading, roles: dict[str, BundleRole], skills: dict[str, BundleSkill]
) -> dict[str, list[_Requirement]]:
    requirements: dict[str, list[_Requirement]] = {}
    seen: set[tuple[str, str]] = set()
    columns = ("occupationUri", "relationType", "skillUri")
    for file, line, row in reading.rows("occupationskillrelations", "occupation skills", columns):
        values = _required(reading, file, line, row, *columns)
        if values is None:
            continue
        occupation, relation, skill = values
        if occupation not in roles:
            reading.leave_out("requirements")
        elif skill not in skills:
            reading.unknown(file, line, "skill", skill, "requirements")
        elif relation not in SKILL_RELATION_TYPES:
            reading.problem(file, line, f"relationType {relation!r} is neither essential nor optional")
        elif (occupation, skill) in seen:
            reading.problem(file, line, f"{occupation} requires {skill} twice; the first row is kept")
        else:
            seen.add((occupation, skill))
            requirements.setdefault(occupation, []).append(_Requirement(skill, relation == "essential"))
    return requirements


def _parents_first(capabilities: list[BundleCapability]) -> list[BundleCapability]:
    """Each parent before its children, otherwise file order, so an applier can insert them in one pass."""
    by_id = {capability.external_id: capability for capability in capabilities}
    ordered: list[BundleCapability] = []
    placed: set[str] = set()
    for capability in capabilities:
        chain: list[BundleCapability] = []
        node: BundleCapability | None = capability
        while node is not None and node.external_id not in placed:
            chain.append(node)
            placed.add(node.external_id)
            node = by_id.get(node.parent_external_id) if node.parent_external_id else None
        ordered.extend(reversed(chain))
    return ordered


def read_esco(paths: Sequence[Path], *, options: EscoOptions, progress: Progress = no_progress) -> Bundle:
    """The ESCO concepts in `paths` as a Bundle; every row that could not be taken is in its problems."""
    problems: list[ImportProblem] = []
    reading = _Reading(find_sources(paths, _file_key, problems), progress, problems)
    bundle = Bundle(
        framework=FrameworkInfo(
            kind="esco",
            identifier="esco",
            title="ESCO",
            release=options.release if options.release is not None else _release_of(paths),
            uri=ESCO_URI,
            document={"attribution": ATTRIBUTION, "attribution_url": "https://esco.ec.europa.eu"},
        ),
        problems=problems,
        left_out=reading.left_out,
    )
    if "skills" not in reading.sources:
        problems.append(ImportProblem("skills_en.csv", None, "not among the files given; ESCO needs its skills"))
        return bundle
    if options.collection is not None and f"{options.collection}skillscollection" not in reading.sources:
        problems.append(
            ImportProblem(f"{options.collection}SkillsCollection_en.csv", None, "not among the files given")
        )
        return bundle

    skills = _read_skills(reading)
    groups, parents = _read_skill_groups(reading)
    collections = _read_collections(reading, skills)
    associations = _read_broader_relations(reading, skills, groups, parents)
    associations += _read_skill_relations(reading, skills)
    roles: dict[str, BundleRole] = {}
    requirements: dict[str, list[_Requirement]] = {}
    # A collection alone brings no occupations, so their files are not read (nor their problems reported).
    if options.collection is None or options.isco_group is not None:
        roles, isco_groups = _read_occupations(reading)
        requirements = _read_occupation_skills(reading, roles, skills)
    if options.isco_group is not None:
        roles = {uri: role for uri, role in roles.items() if isco_groups[uri].startswith(options.isco_group)}
    kept_skills = set(skills)
    if options.collection is not None:
        kept_skills &= collections[options.collection]
    if options.isco_group is not None:
        kept_skills &= {requirement.skill for uri in roles for requirement in requirements.get(uri, [])}

    for uri, role in roles.items():
        for requirement in requirements.get(uri, []):
            if requirement.skill not in kept_skills:
                reading.leave_out("requirements")
            elif requirement.essential:
                role.requirements.append(
                    BundleRequirement(requirement.skill, options.essential_level, options.essential_weight, "must")
                )
            else:
                role.requirements.append(
                    BundleRequirement(requirement.skill, options.optional_level, options.optional_weight, "should")
                )

    subset = options.collection is not None or options.isco_group is not None
    kept_groups = set(groups)
    if subset:
        kept_groups = set()
        for uri in kept_skills:
            group = skills[uri].capability_external_id
            while group is not None and group not in kept_groups:
                kept_groups.add(group)
                group = groups[group].parent_external_id
        kept_associations = []
        for association in associations:
            ends = (association.origin, association.destination)
            if all(end in kept_skills or end in kept_groups for end in ends):
                kept_associations.append(association)
            else:
                reading.leave_out("associations")
        associations = kept_associations

    bundle.capabilities = _parents_first([group for uri, group in groups.items() if uri in kept_groups])
    bundle.skills = [skill for uri, skill in skills.items() if uri in kept_skills]
    bundle.roles = list(roles.values())
    bundle.associations = associations
    return bundle
