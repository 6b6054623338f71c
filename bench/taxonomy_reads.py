"""Taxonomy reads under load (issues 2 and 16): GET a role with 20 requirements, 32 concurrent clients,
uvicorn with 1 and with 2 workers on PostgreSQL, beside a bare FastAPI endpoint returning the same JSON
with the same number of workers, rounds interleaved.

    uv run python bench/taxonomy_reads.py [--rounds 3] [--seconds 8] [--workers 1 2]

Targets (issue 16): taxonomy >= 0.6 x the bare endpoint's requests/s, and taxonomy p99 < 50 ms.
"""

import argparse
import asyncio
import json
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import create_database, median_result, temporary_postgres, uvicorn_server, wrk_load  # noqa: E402
from services.taxonomy_api.domain import organisations, roles, scales, skills  # noqa: E402
from shared.auth import TokenAuthority, load_or_create_private_key  # noqa: E402
from shared.db import Database  # noqa: E402
from shared.migrations import upgrade  # noqa: E402
from shared.schemas.taxonomy import RoleIn, ScaleIn, SkillIn  # noqa: E402


async def seed_role(url: str) -> tuple[uuid.UUID, uuid.UUID]:
    """An organisation with 20 skills and one role requiring all of them."""
    database = Database(url)
    async with database.sessions() as session:
        org = await organisations.create_organisation(session, "Bench Co")
        scale = await scales.save_scale(
            session, org.id, ScaleIn(name="0-5", levels=[{"value": v, "name": str(v)} for v in range(6)])
        )
        requirements = []
        for index in range(20):
            skill = await skills.save_skill(
                session, org.id, SkillIn(name=f"Skill {index:02d}", scale_id=scale.id, tags=["bench"])
            )
            requirements.append({"skill_id": skill.id, "level": index % 5 + 1, "weight": 1 + index % 3})
        role = await roles.save_role(
            session, org.id, RoleIn(name="Analyst", job_family="Data", requirements=requirements)
        )
        await session.commit()
    await database.dispose()
    return org.id, role.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="credstack-bench."))
    key_file = work / "auth.pem"
    authority = TokenAuthority(
        load_or_create_private_key(key_file, create=True),
        issuer="credstack",
        audience="credstack",
        ttl_seconds=3600,
    )
    with temporary_postgres() as admin_url:
        url = asyncio.run(create_database(admin_url, "taxonomy_bench"))
        upgrade("taxonomy_api", url)
        org_id, role_id = asyncio.run(seed_role(url))
        token = authority.issue(org_id=org_id, client_id="bench", scopes=frozenset({"taxonomy:read"}))
        headers = {"Authorization": f"Bearer {token}"}
        env = {
            "CREDSTACK_TAXONOMY_DATABASE_URL": url,
            "CREDSTACK_AUTH_PRIVATE_KEY_FILE": str(key_file),
            "CREDSTACK_TAXONOMY_ACCESS_LOG": "false",
            "CREDSTACK_LOG_LEVEL": "WARNING",
        }
        import httpx

        all_medians = {}
        for workers in args.workers:
            with uvicorn_server("services.taxonomy_api.app:create_app", env, workers=workers) as taxonomy:
                role_json = httpx.get(f"{taxonomy}/v1/roles/{role_id}", headers=headers).json()
                assert len(role_json["requirements"]) == 20
                (work / "role.json").write_text(json.dumps(role_json))
                bare_env = {"BENCH_ROLE_JSON": str(work / "role.json")}
                with uvicorn_server("bench.bare_role_app:create_app", bare_env, workers=workers) as bare:
                    results: dict[str, list] = {"bare FastAPI": [], "taxonomy GET role": []}
                    for _ in range(args.rounds):
                        results["bare FastAPI"].append(wrk_load(f"{bare}/role", headers=headers, seconds=args.seconds))
                        results["taxonomy GET role"].append(
                            wrk_load(f"{taxonomy}/v1/roles/{role_id}", headers=headers, seconds=args.seconds)
                        )
            all_medians[workers] = {name: median_result(runs) for name, runs in results.items()}
    print(f"\nTaxonomy reads: 32 clients, PostgreSQL 15 on loopback, median of {args.rounds} x {args.seconds}s rounds")
    print(f"{'workers':<9}{'endpoint':<22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for workers, medians in all_medians.items():
        for name, result in medians.items():
            print(
                f"{workers:<9}{name:<22}{result.requests_per_second:>10.0f}{result.p50_ms:>10.2f}"
                f"{result.p99_ms:>10.2f}{result.errors:>8}"
            )
    for workers, medians in all_medians.items():
        taxonomy_result = medians["taxonomy GET role"]
        ratio = taxonomy_result.requests_per_second / medians["bare FastAPI"].requests_per_second
        print(
            f"{workers} worker(s): ratio taxonomy / bare {ratio:.2f} (target >= {RATIO_TARGET}): "
            f"{verdict(ratio >= RATIO_TARGET)}"
        )
        print(
            f"{workers} worker(s): taxonomy p99 {taxonomy_result.p99_ms:.1f} ms (target < {P99_TARGET_MS} ms): "
            f"{verdict(taxonomy_result.p99_ms < P99_TARGET_MS and taxonomy_result.errors == 0)}"
        )


RATIO_TARGET = 0.6
P99_TARGET_MS = 50


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


if __name__ == "__main__":
    main()
