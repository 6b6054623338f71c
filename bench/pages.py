"""The organisation dashboard's server time at organisation scale (issue 14), beside the JSON report's.

bench/gap_report.py's synthetic organisation (100,000 employees, 500 roles × 20 requirements, 1,000,000
skill facts) on a throwaway PostgreSQL; the gap engine under uvicorn (1 worker); then, in the same run
and against the same stored snapshot, sequential GETs on loopback, alternating:
  - GET /dashboard (signed in as an analyst: the page token as a cookie), the HTML page;
  - GET /v1/reports/organisation (a bearer token), the JSON the page is laid out from.
The first request of each builds (and stores) the snapshot; it is reported apart. Then one CSV export
of the page's requirements table (every role × skill cell).

    uv run python bench/pages.py [--employees 100000] [--facts 1000000] [--requests 200]

Target: the dashboard's p99 < 100 ms.
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench.gap_report import _percentile, create_database, generate  # noqa: E402
from bench.harness import temporary_postgres, uvicorn_server  # noqa: E402
from shared.auth import TokenAuthority, load_or_create_private_key  # noqa: E402
from shared.migrations import upgrade  # noqa: E402
from shared.web.session import PAGE_COOKIE, issue_page_token  # noqa: E402

TARGET_P99_MS = 100


def _timed(client: httpx.Client, path: str, **kwargs) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = client.get(path, **kwargs)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed, response


def measure(base: str, org: uuid.UUID, work: Path, requests: int) -> dict:
    authority = TokenAuthority(
        load_or_create_private_key(work / "auth.pem", create=False),
        issuer="credstack",
        audience="credstack",
        ttl_seconds=3600,
    )
    bearer = authority.issue(org_id=org, client_id="bench", scopes=frozenset({"gaps:read"}))
    page = issue_page_token(
        authority,
        SimpleNamespace(token_audience="credstack"),
        org_id=org,
        user_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
        email="analyst@bench.example",
        name="Bench analyst",
        role="analyst",
        hris_id=None,
        csrf="bench",
    )
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {bearer}"}, timeout=120)
    browser = httpx.Client(base_url=base, cookies={PAGE_COOKIE: page}, headers={"Accept": "text/html"}, timeout=120)
    with api, browser:
        first_api, body = _timed(api, "/v1/reports/organisation")
        first_page, html = _timed(browser, "/dashboard")
        pages, reports = [], []
        for _ in range(requests):
            pages.append(_timed(browser, "/dashboard")[0])
            reports.append(_timed(api, "/v1/reports/organisation")[0])
        heatmap_page = _timed(browser, "/dashboard", params={"page": 7})[0]
        target_first = _timed(browser, "/dashboard", params={"basis": "target"})[0]
        export, csv = _timed(browser, "/dashboard", params={"format": "csv", "table": "requirements"})
    return {
        "first_api_s": first_api,
        "first_page_s": first_page,
        "target_first_s": target_first,
        "heatmap_page_7_ms": heatmap_page * 1000,
        "page_bytes": len(html.content),
        "json_bytes": len(body.content),
        "page": pages,
        "json": reports,
        "csv_s": export,
        "csv_rows": csv.text.count("\n") - 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--employees", type=int, default=100_000)
    parser.add_argument("--facts", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="credstack-bench-pages."))
    load_or_create_private_key(work / "auth.pem", create=True)
    with temporary_postgres() as admin_url:
        url = asyncio.run(create_database(admin_url, "pages_bench"))
        upgrade("gap_engine", url)
        started = time.perf_counter()
        org = asyncio.run(generate(url, args.employees, args.facts))
        print(f"generated {args.employees:,} employees, {args.facts:,} facts in {time.perf_counter() - started:.1f} s")
        env = {
            "CREDSTACK_GAP_DATABASE_URL": url,
            "CREDSTACK_AUTH_PRIVATE_KEY_FILE": str(work / "auth.pem"),
            "CREDSTACK_GAP_MASTER_KEY_FILE": str(work / "master.key"),
            "CREDSTACK_GAP_ACCESS_LOG": "false",
            "CREDSTACK_GAP_STATUS_SWEEP_ENABLED": "false",
            "CREDSTACK_LOG_LEVEL": "WARNING",
        }
        with uvicorn_server("services.gap_engine.app:create_app", env) as base:
            result = measure(base, org, work, args.requests)

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:.1f} / {_percentile(values, 0.99) * 1000:.1f}"

    print(
        f"\nOrganisation dashboard, {args.employees:,} employees / {args.facts:,} facts, PostgreSQL on loopback, "
        f"{args.requests} sequential GETs each, alternating (uvicorn, 1 worker)"
    )
    print(f"{'measure':<52}{'result':>20}  {'target':<12}{'ok':>4}")
    p99 = _percentile(result["page"], 0.99) * 1000
    ok = "yes" if p99 < TARGET_P99_MS else "NO"
    print(f"{'GET /dashboard (HTML): p50 / p99 ms':<52}{ms(result['page']):>20}  {'p99 < 100':<12}{ok:>4}")
    print(f"{'GET /v1/reports/organisation (JSON): p50 / p99 ms':<52}{ms(result['json']):>20}  {'(beside)':<12}")
    print(
        f"first requests (the snapshot recomputed and stored): JSON {result['first_api_s']:.2f} s, then the page "
        f"{result['first_page_s'] * 1000:.0f} ms; the target basis's first page {result['target_first_s']:.2f} s"
    )
    print(
        f"page {result['page_bytes']:,} bytes (heatmap: 15 roles a page; page 7 in "
        f"{result['heatmap_page_7_ms']:.0f} ms) "
        f"against {result['json_bytes']:,} bytes of JSON; CSV of every role × skill cell "
        f"({result['csv_rows']:,} rows) in {result['csv_s'] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
