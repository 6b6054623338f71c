"""What the shared rate limit costs on the public verify route (issue 15): the limit counted in PostgreSQL
(shared/rate_limit.py: one upsert per request) beside, in the same run, the same issuer whose limit is
counted in process memory as it was before (per replica, so N replicas allowed N times the limit).

    uv run python bench/rate_limit_cost.py [--seconds 6] [--rounds 3]

Both issuers run on one database (uvicorn, 1 worker each, one at a time under load), with a limit no
load reaches; wrk posts one issued VC-JWT to POST /v1/verify with 32 connections. The table gives the
median req/s and p99 of each, and the cost per request of counting in the database.
"""

import argparse
import collections
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi import FastAPI, Request  # noqa: E402

from bench.harness import (  # noqa: E402
    LoadResult,
    issuer_stack,
    presented_form,
    service_databases,
    uvicorn_server,
    wrk_post_load,
)
from services.badge_issuer.app import create_app as create_issuer_app  # noqa: E402
from shared.errors import TooManyRequests  # noqa: E402
from shared.rate_limit import WINDOW_SECONDS, public_rate_limit  # noqa: E402

CONNECTIONS = 32


def in_memory_limit_app() -> FastAPI:
    """The issuer with the public limit counted per process, as before: the baseline of this bench."""
    app = create_issuer_app()
    counts: dict[tuple[str, int], int] = {}

    async def count_in_memory(request: Request) -> None:
        window = int(time.time() // WINDOW_SECONDS)
        client = request.client.host if request.client else "unknown"
        if (client, window) not in counts:
            counts.clear()  # the previous windows are over
        counts[(client, window)] = counts.get((client, window), 0) + 1
        if counts[(client, window)] > app.state.settings.public_rate_limit_per_minute:
            raise TooManyRequests("Too many requests to public endpoints.", retry_after=WINDOW_SECONDS)

    app.dependency_overrides[public_rate_limit] = count_in_memory
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=6, help="length of each load phase (at most 8)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating repetitions of the phases (median)")
    args = parser.parse_args()
    seconds, rounds = max(1, min(args.seconds, 8)), max(1, args.rounds)
    results: dict[str, list[LoadResult]] = collections.defaultdict(list)
    with service_databases(["taxonomy", "issuer"], postgres=True) as (databases, _), issuer_stack(databases) as stack:
        body = json.dumps(presented_form(stack.issue_sample("vc-jwt")))
        env = {
            "CREDSTACK_AUTH_PRIVATE_KEY_FILE": str(stack.auth_key_file),
            "CREDSTACK_LOG_LEVEL": "WARNING",
            "CREDSTACK_ISSUER_DATABASE_URL": databases["issuer"],
            "CREDSTACK_ISSUER_ACCESS_LOG": "false",
            "CREDSTACK_ISSUER_TAXONOMY_URL": stack.taxonomy,
            "CREDSTACK_ISSUER_MASTER_KEY": stack.master_key,
            "CREDSTACK_ISSUER_PUBLIC_RATE_LIMIT_PER_MINUTE": str(10**9),
        }
        with uvicorn_server("bench.rate_limit_cost:in_memory_limit_app", env) as baseline:
            phases = [("in process memory (before)", baseline), ("in PostgreSQL (shared)", stack.issuer)]
            for _ in range(rounds):
                for name, base in phases:
                    load = wrk_post_load(
                        f"{base}/v1/verify", headers={}, body=body, connections=CONNECTIONS, seconds=seconds
                    )
                    assert load.unexpected_status == 0, load.first_unexpected
                    results[name].append(load)
    print(f"\nPOST /v1/verify (VC-JWT), {CONNECTIONS} connections, {rounds} rounds of {seconds} s, medians\n")
    print(f"{'rate limit counted':<30} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    medians = {}
    for name, runs in results.items():
        medians[name] = statistics.median(r.requests_per_second for r in runs)
        p50 = statistics.median(r.p50_ms for r in runs)
        p99 = statistics.median(r.p99_ms for r in runs)
        print(f"{name:<30} {medians[name]:>8.0f} {p50:>8.1f} {p99:>8.1f}")
    before, after = medians["in process memory (before)"], medians["in PostgreSQL (shared)"]
    print(f"\nshared / before = {after / before:.2f}x; {1000 / after - 1000 / before:.2f} ms more per request")


if __name__ == "__main__":
    main()
