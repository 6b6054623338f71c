"""What every framework reader produces: the framework's nodes in our terms, keyed by the framework's
own ids, and every problem found, by file and line. Readers know nothing of the database; the applier
(apply.py) knows nothing of file formats."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

FrameworkKind = Literal["esco", "onet", "case", "csv"]
Criticality = Literal["must", "should"]
# The default scales every organisation has (provisioning.DEFAULT_SCALES): a 0-5 scale and the
# three-level Knowledge / Proficiency / Mastery scale.
ScaleKey = Literal["0-5", "kpm"]

# Called as readers go: (stage, done, total). The CLI draws a progress bar from it, a job stores it.
Progress = Callable[[str, int, int], None]


def no_progress(_stage: str, _done: int, _total: int) -> None:
    """The progress callback of callers that show none."""


@dataclass(frozen=True)
class ImportProblem:
    """A row that could not be taken: where it is and what is wrong with it."""

    file: str
    line: int | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "message": self.message}


@dataclass
class FrameworkInfo:
    kind: FrameworkKind
    # Stable across releases of the same framework, so a re-import updates instead of adding:
    # "esco", "onet", a CASE CFDocument identifier, a CSV file's name.
    identifier: str
    title: str
    release: str = ""
    uri: str | None = None
    # The framework's own description of itself (a CASE CFDocument, ESCO's release notes), verbatim.
    document: dict[str, Any] = field(default_factory=dict)
    # Definitions nodes refer to, by CASE's names: CFItemTypes, CFConcepts, CFSubjects, CFLicenses,
    # CFRubrics, CFAssociationGroupings; each a list of the framework's records, verbatim.
    definitions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class BundleCapability:
    """A group of skills (ESCO skill group, a CASE item with children)."""

    external_id: str
    name: str
    description: str = ""
    parent_external_id: str | None = None
    source: dict[str, Any] | None = None


@dataclass
class BundleSkill:
    external_id: str
    name: str
    description: str = ""
    capability_external_id: str | None = None
    scale: ScaleKey = "0-5"
    alternative_labels: list[str] = field(default_factory=list)
    skill_type: str = ""
    reuse_level: str = ""
    tags: list[str] = field(default_factory=list)
    # Shown as the skill's alignment: the framework's URL for the concept, if it has one.
    url: str | None = None
    source: dict[str, Any] | None = None


@dataclass
class BundleRequirement:
    skill_external_id: str
    level: int
    weight: float = 1.0
    criticality: Criticality = "must"


@dataclass
class BundleRole:
    external_id: str
    name: str
    description: str = ""
    job_family: str = ""
    grade: str = ""
    requirements: list[BundleRequirement] = field(default_factory=list)
    source: dict[str, Any] | None = None


@dataclass
class BundleAssociation:
    """A relation between two nodes, by external id (CASE CFAssociation, ESCO broader/related)."""

    identifier: str
    association_type: str
    origin: str
    destination: str
    source: dict[str, Any] | None = None


@dataclass
class Bundle:
    framework: FrameworkInfo
    capabilities: list[BundleCapability] = field(default_factory=list)
    skills: list[BundleSkill] = field(default_factory=list)
    roles: list[BundleRole] = field(default_factory=list)
    associations: list[BundleAssociation] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)
    # Rows left out on purpose (by a subset, an O*NET importance threshold, a slice's cut-off hierarchy),
    # by what they would have become ("requirements": 812): not problems, but counts to show.
    left_out: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            "capabilities": len(self.capabilities),
            "skills": len(self.skills),
            "roles": len(self.roles),
            "requirements": sum(len(role.requirements) for role in self.roles),
            "associations": len(self.associations),
            "problems": len(self.problems),
        }
