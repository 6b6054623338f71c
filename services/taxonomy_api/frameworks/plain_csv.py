"""Plain CSV for every framework without a format of its own: a skills file and a roles file, told
apart by their headers (docs in README, "Importing a framework").

skills: external_id, name[, description, capability, capability_id, scale (0-5 | kpm), alternative_labels
        (separated by "|"), tags ("|"), skill_type, reuse_level, url]
roles:  role_external_id, role[, job_family, grade, role_description], skill_external_id, level[, weight,
        criticality (must | should)] — one row per requirement; a role's first row gives its fields."""

import csv
import io
from collections.abc import Iterator, Sequence
from pathlib import Path

from services.taxonomy_api.domain.scales import DEFAULT_SCALES
from services.taxonomy_api.domain.version_content import VersionContent
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

SKILL_COLUMNS = {"external_id", "name"}
ROLE_COLUMNS = {"role_external_id", "role", "skill_external_id", "level"}
MAX_FIELD = 10_000
DEFAULT_SCALE_NAMES = {key: scale.name for key, scale in DEFAULT_SCALES.items()}


class UnreadableFile(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows with the line each starts on (header = line 1); quoted fields may span lines."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        try:
            reader.fieldnames  # noqa: B018 - reads the header, so line_num counts from it
            line = reader.line_num + 1
            for row in reader:
                yield line, {key.strip(): (value or "").strip() for key, value in row.items() if key is not None}
                line = reader.line_num + 1
        except (csv.Error, UnicodeDecodeError) as exc:
            raise UnreadableFile(reader.line_num + 1, f"not readable as CSV: {exc}") from exc


def _header(path: Path) -> set[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        first = handle.readline()
    return {column.strip() for column in next(csv.reader(io.StringIO(first)), [])}


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split("|") if part.strip()]


def read_plain_csv(paths: Sequence[Path], *, progress: Progress = no_progress) -> Bundle:
    names = "+".join(sorted(path.name for path in paths))
    bundle = Bundle(framework=FrameworkInfo(kind="csv", identifier=names[:512], title="CSV"))
    roles: dict[str, BundleRole] = {}
    skills: set[str] = set()
    for path in paths:
        header: set[str] = set()
        try:
            header = _header(path)
            if header >= ROLE_COLUMNS:
                _read_roles(path, bundle, roles)
            elif header >= SKILL_COLUMNS:
                _read_skills(path, bundle, skills)
        except UnreadableFile as exc:
            bundle.problems.append(ImportProblem(path.name, exc.line, exc.message))
        except UnicodeDecodeError as exc:
            bundle.problems.append(ImportProblem(path.name, 1, f"not UTF-8: {exc}"))
        if header and not (header >= ROLE_COLUMNS or header >= SKILL_COLUMNS):
            bundle.problems.append(
                ImportProblem(
                    path.name,
                    1,
                    "Not a skills file (needs columns external_id, name) nor a roles file (needs columns "
                    "role_external_id, role, skill_external_id, level).",
                )
            )
        progress(f"csv: {path.name}", 1, 1)
    bundle.roles = list(roles.values())
    return bundle


def _read_skills(path: Path, bundle: Bundle, seen: set[str]) -> None:
    capabilities = {capability.external_id for capability in bundle.capabilities}
    for line, row in _rows(path):
        problem = _field_problem(row) or (
            "external_id and name are required" if not row.get("external_id") or not row.get("name") else None
        )
        scale = row.get("scale") or "0-5"
        if problem is None and scale not in ("0-5", "kpm"):
            problem = f"scale must be 0-5 or kpm, not {scale!r}"
        if problem is None and row["external_id"] in seen:
            problem = f"external_id {row['external_id']!r} appears twice"
        if problem:
            bundle.problems.append(ImportProblem(path.name, line, problem))
            continue
        seen.add(row["external_id"])
        capability = row.get("capability") or None
        if capability and capability not in capabilities:
            capabilities.add(capability)
            bundle.capabilities.append(BundleCapability(external_id=f"csv:capability:{capability}", name=capability))
        bundle.skills.append(
            BundleSkill(
                external_id=row["external_id"],
                name=row["name"],
                description=row.get("description", ""),
                capability_external_id=f"csv:capability:{capability}" if capability else None,
                scale=scale,  # type: ignore[arg-type]
                alternative_labels=_split(row.get("alternative_labels", "")),
                tags=_split(row.get("tags", "")),
                skill_type=row.get("skill_type", ""),
                reuse_level=row.get("reuse_level", ""),
                url=row.get("url") or None,
            )
        )


def _read_roles(path: Path, bundle: Bundle, roles: dict[str, BundleRole]) -> None:
    for line, row in _rows(path):
        problem = _field_problem(row) or _requirement_problem(row)
        if problem:
            bundle.problems.append(ImportProblem(path.name, line, problem))
            continue
        role = roles.get(row["role_external_id"])
        if role is None:
            role = roles[row["role_external_id"]] = BundleRole(
                external_id=row["role_external_id"],
                name=row["role"],
                description=row.get("role_description", ""),
                job_family=row.get("job_family", ""),
                grade=row.get("grade", ""),
            )
        role.requirements.append(
            BundleRequirement(
                skill_external_id=row["skill_external_id"],
                level=int(row["level"]),
                weight=float(row.get("weight") or 1.0),
                criticality=row.get("criticality") or "must",  # type: ignore[arg-type]
            )
        )


def _field_problem(row: dict[str, str]) -> str | None:
    for key, value in row.items():
        if len(value) > MAX_FIELD:
            return f"column {key!r} is longer than {MAX_FIELD} characters"
        if "\x00" in value:
            return f"column {key!r} holds a NUL byte"
    return None


def _requirement_problem(row: dict[str, str]) -> str | None:
    missing = [column for column in sorted(ROLE_COLUMNS) if not row.get(column)]
    if missing:
        return f"missing {', '.join(missing)}"
    try:
        level = int(row["level"])
        weight = float(row.get("weight") or 1.0)
    except ValueError:
        return "level must be a whole number and weight a number"
    if not 0 <= level <= 100 or not 0 < weight <= 100:
        return "level must be 0-100 and weight above 0 and at most 100"
    if (row.get("criticality") or "must") not in ("must", "should"):
        return "criticality must be must or should"
    return None


def write_skills_csv(content: VersionContent) -> str:
    """The version's skills in the skills file format above, so an export imports again as it is.
    Skills made here are named by `urn:uuid:<id>`; a skill on a scale other than the two defaults
    keeps its scale's name, which an import reports as a bad row."""
    scale_keys = {
        body["id"]: key
        for body in content.of("scale")
        for key, default in DEFAULT_SCALE_NAMES.items()
        if body["name"] == default
    }
    scale_names = {body["id"]: body["name"] for body in content.of("scale")}
    capability_names = {body["id"]: body["name"] for body in content.of("capability")}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "external_id",
            "name",
            "description",
            "capability",
            "scale",
            "alternative_labels",
            "tags",
            "skill_type",
            "reuse_level",
        ]
    )
    for skill in content.of("skill"):
        writer.writerow(
            [
                skill["external_id"] or f"urn:uuid:{skill['id']}",
                skill["name"],
                skill["description"],
                capability_names.get(skill["capability_id"], ""),
                scale_keys.get(skill["scale_id"]) or scale_names.get(skill["scale_id"], ""),
                "|".join(skill["alternative_labels"]),
                "|".join(skill["tags"]),
                skill["skill_type"],
                skill["reuse_level"],
            ]
        )
    return out.getvalue()


def write_roles_csv(content: VersionContent) -> str:
    """The version's roles in the roles file format above, one row per requirement."""
    skill_ids = {body["id"]: body["external_id"] or f"urn:uuid:{body['id']}" for body in content.of("skill")}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "role_external_id",
            "role",
            "job_family",
            "grade",
            "role_description",
            "skill_external_id",
            "level",
            "weight",
            "criticality",
        ]
    )
    for role in content.of("role"):
        for requirement in role["requirements"]:
            writer.writerow(
                [
                    role["external_id"] or f"urn:uuid:{role['id']}",
                    role["name"],
                    role["job_family"],
                    role["grade"],
                    role["description"],
                    skill_ids[requirement["skill_id"]],
                    requirement["level"],
                    f"{requirement['weight']:g}",
                    requirement["criticality"],
                ]
            )
    return out.getvalue()
