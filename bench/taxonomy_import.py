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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import create_database, temporary_postgres  # noqa: E402
from shared.auth import TokenAuthority, load_or_create_private_key  # noqa: E402
from shared.migrations import upgrade  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data"


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
    authority = TokenAuthority(
        load_or_create_private_key(key_file, create=True), issuer="credstack", audience="credstack", ttl_seconds=3600
    )
    results: list[tuple[str, str, str]] = []
    with temporary_postgres() as admin_url:
        url = asyncio.run(create_database(admin_url, "taxonomy_import_bench"))
        upgrade("taxonomy_api", url)
        env = {"CREDSTACK_TAXONOMY_DATABASE_URL": url, "CREDSTACK_AUTH_PRIVATE_KEY_FILE": str(key_file)}
        run_cli(["bootstrap", "--org", "ESCO Co"], env)
        org_row = json.loads(run_cli(["bootstrap", "--org", "Reads Co"], env)[2])
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
        extra: list[str] = []
    print("\nTaxonomy import: ESCO v1.1.1 on PostgreSQL 15 (loopback), one run")
    for label, figure, target in results:
        print(f"{label:<48}{figure:>22}   {target}")
    for line in extra:
        print(line)


if __name__ == "__main__":
    main()
