"""`credstack taxonomy import|export`: frameworks in and out from the command line, with a progress bar,
straight against the taxonomy database (no service needs to run)."""

import argparse
import asyncio
import getpass
import json
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from tqdm import tqdm

from services.taxonomy_api.db.revisions import TaxonomySession
from services.taxonomy_api.db.tables import Organisation
from services.taxonomy_api.domain.imports import IMPORT_KINDS, ImportRejected, import_framework
from services.taxonomy_api.settings import TaxonomySettings
from shared.db import Database
from shared.errors import ProblemError


@dataclass(frozen=True)
class StarterFramework:
    """A framework a new organisation can start from, found in a folder of the frameworks' own files."""

    kind: str
    options: dict[str, Any]
    files: tuple[str, ...]
    about: str


ESCO_ZIPS = (
    "esco-v1.1.1/original/esco-v1.1.1-classification-en-csv.zip",
    "esco-v1.1.1/original/esco-v1.1.1-relations-csv.zip",
)
ONET_FILES = tuple(
    f"onet-29.2/text-converted/{name}.txt"
    for name in ("Occupation Data", "Skills", "Knowledge", "Content Model Reference")
)
STARTER_FRAMEWORKS = {
    "esco-digital": StarterFramework("esco", {"collection": "digital"}, ESCO_ZIPS, "ESCO's digital skills"),
    "esco-green": StarterFramework("esco", {"collection": "green"}, ESCO_ZIPS, "ESCO's green skills"),
    "esco-transversal": StarterFramework("esco", {"collection": "transversal"}, ESCO_ZIPS, "ESCO's transversal skills"),
    "esco-ict": StarterFramework("esco", {"isco_group": "25"}, ESCO_ZIPS, "ESCO's ICT professionals (ISCO 25)"),
    "esco": StarterFramework("esco", {}, ESCO_ZIPS, "all of ESCO: skills, occupations, relations"),
    "onet": StarterFramework("onet", {}, ONET_FILES, "O*NET occupations, skills and knowledge"),
}
# Where the frameworks' files are looked for unless --data says: beside the repository, as laid out
# in its shared data folder.
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data"


def add_taxonomy_commands(commands: Any) -> None:
    taxonomy = commands.add_parser("taxonomy", help="import and export frameworks")
    actions = taxonomy.add_subparsers(dest="action", required=True)
    importing = actions.add_parser("import", help="import ESCO, O*NET, a CASE CFPackage or CSV into the draft")
    importing.add_argument("kind", choices=IMPORT_KINDS)
    importing.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    importing.add_argument("--org", required=True, help="organisation name or id")
    importing.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a reader option, e.g. collection=digital, isco_group=25 (JSON values allowed)",
    )
    importing.add_argument(
        "--retire-missing", action="store_true", help="tag what this framework brought before and no longer has"
    )


def run_taxonomy_command(args: argparse.Namespace) -> int:
    if args.action == "import":
        options = dict(_option(raw) for raw in args.option)
        if args.retire_missing:
            options["retire_missing"] = True
        return asyncio.run(_import(TaxonomySettings(), args.org, args.kind, args.paths, options))
    return 2


def _option(raw: str) -> tuple[str, Any]:
    key, _, value = raw.partition("=")
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


def starter_paths(name: str, data_dir: Path | None) -> tuple[StarterFramework, list[Path]]:
    starter = STARTER_FRAMEWORKS[name]
    folder = data_dir or DEFAULT_DATA_DIR
    paths = [folder / file for file in starter.files]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise SystemExit(f"{name}: missing {', '.join(missing)} (pass the folder holding them with --data)")
    return starter, paths


class _Bar:
    """One tqdm bar per stage, fed by the readers' and the applier's progress calls."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None
        self.stage = ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=total or None, desc=stage, unit=" rows", file=sys.stderr, leave=True)
        assert self.bar is not None
        if total and self.bar.total != total:
            self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


async def _import(settings: TaxonomySettings, org: str, kind: str, paths: list[Path], options: dict[str, Any]) -> int:
    database = Database(settings.resolved_database_url, session_class=TaxonomySession)
    bar = _Bar()
    try:
        async with database.sessions() as session:
            org_id = await _organisation_id(session, org)
            try:
                outcome = await import_framework(
                    session, org_id, kind, paths, options, actor=f"cli:{getpass.getuser()}", progress=bar
                )  # type: ignore[arg-type]
            except ImportRejected as rejected:
                bar.close()
                for problem in rejected.problems:
                    print(f"{problem.file}:{problem.line or '-'}: {problem.message}", file=sys.stderr)
                print(f"{len(rejected.problems)} bad row(s): nothing was imported.", file=sys.stderr)
                return 1
            except ProblemError as problem:
                bar.close()
                print(problem.detail, file=sys.stderr)
                return 1
            await session.commit()
        bar.close()
        print(json.dumps(outcome.as_dict(), indent=2))
        return 0
    finally:
        bar.close()
        await database.dispose()


async def _organisation_id(session: Any, org: str) -> uuid.UUID:
    try:
        by_id = Organisation.id == uuid.UUID(org)
    except ValueError:
        by_id = None
    condition = Organisation.name == org if by_id is None else or_(by_id, Organisation.name == org)
    found = await session.scalar(select(Organisation.id).where(condition))
    if found is None:
        raise SystemExit(f"No organisation named or with id {org!r}.")
    return found
