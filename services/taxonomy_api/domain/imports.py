"""Importing a framework: read its files into a Bundle (frameworks/), refuse it whole if any row is bad,
else land it in the organisation's draft. The CLI calls this directly; the API through import jobs."""

import asyncio
import csv
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.domain import governance_log, versions
from services.taxonomy_api.frameworks.apply import AppliedImport, apply_bundle
from services.taxonomy_api.frameworks.bundle import Bundle, ImportProblem, Progress, no_progress
from shared.errors import Unprocessable

ImportKind = Literal["esco", "onet", "case", "csv"]
IMPORT_KINDS: tuple[ImportKind, ...] = ("esco", "onet", "case", "csv")
# How many bad rows a report lists; the count is always whole.
MAX_REPORTED_PROBLEMS = 1_000


class ImportRejected(Exception):
    """The files had bad rows: nothing was imported."""

    def __init__(self, problems: list[ImportProblem], counts: dict[str, int]) -> None:
        super().__init__(f"{len(problems)} bad row(s); nothing was imported")
        self.problems, self.counts = problems, counts

    def report(self) -> list[dict[str, Any]]:
        return [problem.as_dict() for problem in self.problems[:MAX_REPORTED_PROBLEMS]]


@dataclass
class ImportOutcome:
    # What the files held, and what was left out on purpose (a subset's cut, rows a rule drops).
    read: dict[str, Any]
    applied: AppliedImport

    def as_dict(self) -> dict[str, Any]:
        return {"read": self.read, "applied": self.applied.as_dict()}


def _options_of(option_class: type, options: dict[str, Any]) -> Any:
    try:
        return option_class(**options)
    except (TypeError, ValueError) as exc:
        raise Unprocessable(f"Unknown or invalid import option: {exc}.", field="options") from exc


def _is_crosswalk(path: Path) -> bool:
    if path.suffix.lower() != ".csv":
        return False
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = [column.lower() for column in next(csv.reader(handle), [])]
    return any("esco" in column for column in header) and any("onet" in column for column in header)


def read_framework(
    kind: ImportKind, paths: Sequence[Path], options: dict[str, Any], progress: Progress = no_progress
) -> Bundle:
    """The files as a Bundle, with every bad row in its problems. Readers are imported here, by kind,
    so a service that never imports O*NET never loads its reader."""
    options = {key: value for key, value in options.items() if key != "retire_missing"}
    if kind == "esco":
        from services.taxonomy_api.frameworks.esco import EscoOptions, read_esco

        return read_esco(list(paths), options=_options_of(EscoOptions, options), progress=progress)
    if kind == "onet":
        from services.taxonomy_api.frameworks.crosswalk import read_esco_onet_crosswalk
        from services.taxonomy_api.frameworks.onet import OnetOptions, read_onet

        crosswalks = [path for path in paths if _is_crosswalk(path)]
        rest = [path for path in paths if path not in crosswalks]
        bundle = read_onet(rest, options=_options_of(OnetOptions, options), progress=progress)
        for crosswalk in crosswalks:
            bundle.associations.extend(read_esco_onet_crosswalk(crosswalk, problems=bundle.problems))
        return bundle
    if kind == "case":
        from services.taxonomy_api.frameworks.case import read_case_package

        if len(paths) != 1:
            raise Unprocessable("A CASE import takes one CFPackage file.", field="paths")
        if options:
            raise Unprocessable(f"A CASE import takes no options, not {sorted(options)}.", field="options")
        return read_case_package(paths[0].read_bytes(), file=paths[0].name, progress=progress)
    from services.taxonomy_api.frameworks.plain_csv import read_plain_csv

    if options:
        raise Unprocessable(f"A CSV import takes no options, not {sorted(options)}.", field="options")
    return read_plain_csv(list(paths), progress=progress)


async def import_framework(
    session: AsyncSession,
    org_id: uuid.UUID,
    kind: ImportKind,
    paths: Sequence[Path],
    options: dict[str, Any],
    *,
    actor: str,
    progress: Progress = no_progress,
) -> ImportOutcome:
    """Reads (in a thread: parsing is CPU work) and lands the import in the session; the caller commits.
    Raises ImportRejected, having written nothing, when any row is bad."""
    bundle = await asyncio.to_thread(read_framework, kind, paths, options, progress)
    if bundle.problems:
        raise ImportRejected(bundle.problems, bundle.counts())
    applied = await apply_bundle(
        session, org_id, bundle, retire_missing=bool(options.get("retire_missing")), progress=progress
    )
    outcome = ImportOutcome(read={**bundle.counts(), "left_out": bundle.left_out}, applied=applied)
    if applied.changed:
        await versions.record_author(session, org_id, actor)
    await governance_log.append(session, org_id, actor, "import.landed", str(applied.framework_id), outcome.as_dict())
    return outcome
