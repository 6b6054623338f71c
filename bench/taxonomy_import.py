"""Framework import, export, diff and published reads at ESCO's size (issue 13), on PostgreSQL.

    uv run python bench/taxonomy_import.py [--data ../shared/data] [--seconds 6] [--rounds 2]

Measures, in one run:
- the full ESCO v1.1.1 import (skills, hierarchy, occupations, relations) through `credstack taxonomy
  import esco`, progress bar and all: wall time and peak RSS of the process (targets < 60 s, < 1 GiB);
- the same release imported again, nothing changed (target < 20 s);
- the draft frozen into a version and published; the CASE 1.1 export of it (target < 5 s);
- a second ESCO-sized version (labels changed by a newer "release") and the diff of the two (< 2 s);
- GET a role of the published ESCO version against `bench/taxonomy_reads.py`'s role read on the same
  server (target within 1.2x).
"""

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import create_database, median_result, temporary_postgres, uvicorn_server, wrk_load  # noqa: E402
from bench.taxonomy_reads import seed_role  # noqa: E402
from shared.auth import TokenAuthority, load_or_create_private_key  # noqa: E402
from shared.migrations import upgrade  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data"
BASE_URL = "http://127.0.0.1:8001"


def run_cli(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Runs `credstack ARGS` in a child process: (wall seconds, the child's peak RSS in MiB, stdout)."""
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    completed = subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=REPO,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - started
    # ru_maxrss of children is the largest of any child so far (KiB on Linux): each step's child is
    # the biggest yet or this reads the earlier one; the import runs first, so its figure is its own.
    peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
    return wall, peak, completed.stdout


def timed(label: str, seconds: float, target: float | None, results: list[tuple[str, str, str]]) -> None:
    verdict = "" if target is None else ("met" if seconds < target else "MISSED")
    results.append((label, f"{seconds:.2f} s", f"< {target:g} s {verdict}" if target else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    zips = [
        args.data / "esco-v1.1.1/original/esco-v1.1.1-classification-en-csv.zip",
        args.data / "esco-v1.1.1/original/esco-v1.1.1-relations-csv.zip",
    ]
    work = Path(tempfile.mkdtemp(prefix="credstack-bench."))
    key_file = work / "auth.pem"
    load_or_create_private_key(key_file, create=True)
    results: list[tuple[str, str, str]] = []
    with temporary_postgres() as admin_url:
        url = asyncio.run(create_database(admin_url, "taxonomy_import_bench"))
        upgrade("taxonomy_api", url)
        env = {"CREDSTACK_TAXONOMY_DATABASE_URL": url, "CREDSTACK_AUTH_PRIVATE_KEY_FILE": str(key_file)}
        run_cli(["bootstrap", "--org", "ESCO Co"], env)
        wall, peak, out = run_cli(["taxonomy", "import", "esco", *map(str, zips), "--org", "ESCO Co"], env)
        imported = json.loads(out)
        timed("full ESCO import (CLI, progress bar)", wall, 60, results)
        results.append(
            ("  peak RSS of the import", f"{peak:.0f} MiB", f"< 1024 MiB {'met' if peak < 1024 else 'MISSED'}")
        )
        results.append(("  read", json.dumps(imported["read"]), ""))
        wall, _, out = run_cli(["taxonomy", "import", "esco", *map(str, zips), "--org", "ESCO Co"], env)
        again = json.loads(out)["applied"]
        changed = sum(again[kind]["created"] + again[kind]["updated"] for kind in ("skills", "roles", "capabilities"))
        timed(f"re-import, same release ({changed} changed)", wall, 20, results)
        org_id = asyncio.run(_organisation_id(url, "ESCO Co"))
        reads_org, reads_role = asyncio.run(seed_role(url))
        version_ids = asyncio.run(_versions(url, org_id, zips, results))
        extra = _role_reads(url, key_file, org_id, reads_org, reads_role, version_ids, args, results)
    print("\nTaxonomy import: ESCO v1.1.1 on PostgreSQL 15 (loopback), one run")
    for label, figure, target in results:
        print(f"{label:<48}{figure:>22}   {target}")
    for line in extra:
        print(line)


async def _organisation_id(url: str, name: str) -> uuid.UUID:
    from sqlalchemy import select

    from services.taxonomy_api.db.tables import Organisation
    from shared.db import Database

    database = Database(url)
    try:
        async with database.sessions() as session:
            return await session.scalar(select(Organisation.id).where(Organisation.name == name))
    finally:
        await database.dispose()


async def _publish(session: Any, org_id: uuid.UUID, title: str) -> tuple[uuid.UUID, float]:
    """The draft submitted, approved by another client, published; returns (version, seconds to freeze)."""
    from services.taxonomy_api.domain import versions

    started = time.perf_counter()
    version = await versions.submit(session, org_id, "bench-author", title, "", BASE_URL)
    await session.commit()
    frozen = time.perf_counter() - started
    await versions.review(session, org_id, version.id, "bench-reviewer", "approve", [], "")
    await versions.publish(session, org_id, version.id, "bench-reviewer")
    await session.commit()
    return version.id, frozen


async def _versions(url: str, org_id: uuid.UUID, zips: list[Path], results: list) -> dict[str, Any]:
    """Version 1 (the import) published and exported as CASE; a newer "release" (every 20th skill's
    description changed, every 50th occupation's label) imported, published as version 2, and diffed."""
    from services.taxonomy_api.db.revisions import TaxonomySession
    from services.taxonomy_api.domain import versions
    from services.taxonomy_api.domain.version_content import read_version_documents
    from services.taxonomy_api.frameworks.apply import apply_bundle
    from services.taxonomy_api.frameworks.case import OwnTaxonomy, write_case_package
    from services.taxonomy_api.frameworks.esco import EscoOptions, read_esco
    from shared.db import Database

    database = Database(url, session_class=TaxonomySession)
    try:
        async with database.sessions() as session:
            first, frozen = await _publish(session, org_id, "ESCO v1.1.1")
            timed("freeze the draft into a version", frozen, None, results)
            started = time.perf_counter()
            content = await read_version_documents(session, first)
            framework_id = next(iter(content.documents["framework"]))
            own = OwnTaxonomy(version_id=first, title="ESCO v1.1.1", creator="esco")
            package = write_case_package(content, framework_id, version="1.1", base_url=BASE_URL, own=own)
            timed(
                f"CASE 1.1 export of the published version ({len(package['CFItems'])} items)",
                time.perf_counter() - started,
                5,
                results,
            )
            bundle = read_esco(zips, options=EscoOptions())
            for skill in bundle.skills[::20]:
                skill.description += " (revised)"
            for role in bundle.roles[::50]:
                role.name += " (revised)"
            started = time.perf_counter()
            applied = await apply_bundle(session, org_id, bundle)
            await session.commit()
            timed(
                f"newer release applied ({applied.counts['skills'].updated} skills, "
                f"{applied.counts['roles'].updated} roles changed)",
                time.perf_counter() - started,
                None,
                results,
            )
            second, _ = await _publish(session, org_id, "ESCO revised")
            started = time.perf_counter()
            difference = await versions.diff(session, org_id, str(first), str(second), BASE_URL)
            changed = sum(len(parts["changed"]) for parts in difference["kinds"].values())
            timed(f"diff of the two versions ({changed} changed objects)", time.perf_counter() - started, 2, results)
            role_id, requirements = await _role_near_twenty_requirements(session, org_id)
            return {"role_id": role_id, "requirements": requirements}
    finally:
        await database.dispose()


async def _role_near_twenty_requirements(session: Any, org_id: uuid.UUID) -> tuple[uuid.UUID, int]:
    from sqlalchemy import func, select

    from services.taxonomy_api.db.tables import Role, RoleRequirement

    counts = (
        select(RoleRequirement.role_id, func.count().label("n"))
        .join(Role, Role.id == RoleRequirement.role_id)
        .where(Role.org_id == org_id)
        .group_by(RoleRequirement.role_id)
        .subquery()
    )
    row = (
        await session.execute(select(counts.c.role_id, counts.c.n).order_by(func.abs(counts.c.n - 20)).limit(1))
    ).one()
    return row.role_id, row.n


def _role_reads(
    url: str,
    key_file: Path,
    org_id: uuid.UUID,
    reads_org: uuid.UUID,
    reads_role: uuid.UUID,
    found: dict[str, Any],
    args: argparse.Namespace,
    results: list,
) -> list[str]:
    """GET an ESCO role from the published version beside taxonomy_reads.py's role, same server."""
    authority = TokenAuthority(
        load_or_create_private_key(key_file, create=False), issuer="credstack", audience="credstack", ttl_seconds=3600
    )

    def headers(org: uuid.UUID) -> dict[str, str]:
        token = authority.issue(org_id=org, client_id="bench", scopes=frozenset({"taxonomy:read"}))
        return {"Authorization": f"Bearer {token}"}

    esco_headers, reads_headers = headers(org_id), headers(reads_org)
    env = {
        "CREDSTACK_TAXONOMY_DATABASE_URL": url,
        "CREDSTACK_AUTH_PRIVATE_KEY_FILE": str(key_file),
        "CREDSTACK_TAXONOMY_ACCESS_LOG": "false",
        "CREDSTACK_TAXONOMY_IMPORT_WORKER": "false",
        "CREDSTACK_LOG_LEVEL": "WARNING",
    }
    runs: dict[str, list] = {"role (taxonomy_reads)": [], "published ESCO role": []}
    with uvicorn_server("services.taxonomy_api.app:create_app", env) as taxonomy:
        import httpx

        published = f"{taxonomy}/v1/roles/{found['role_id']}?version=published"
        assert httpx.get(published, headers=esco_headers).status_code == 200
        for _ in range(args.rounds):
            runs["role (taxonomy_reads)"].append(
                wrk_load(f"{taxonomy}/v1/roles/{reads_role}", headers=reads_headers, seconds=args.seconds)
            )
            runs["published ESCO role"].append(wrk_load(published, headers=esco_headers, seconds=args.seconds))
    medians = {name: median_result(values) for name, values in runs.items()}
    lines = [
        f"\nRole reads, 32 clients, 1 worker, median of {args.rounds} x {args.seconds}s "
        f"(the ESCO role has {found['requirements']} requirements, the other 20)",
        f"{'endpoint':<26}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}",
    ]
    for name, result in medians.items():
        lines.append(
            f"{name:<26}{result.requests_per_second:>10.0f}{result.p50_ms:>10.2f}{result.p99_ms:>10.2f}{result.errors:>8}"
        )
    ratio = medians["role (taxonomy_reads)"].requests_per_second / medians["published ESCO role"].requests_per_second
    lines.append(
        f"plain role / published ESCO role: {ratio:.2f}x  (target <= 1.2x: {'met' if ratio <= 1.2 else 'MISSED'})"
    )
    return lines


if __name__ == "__main__":
    main()
