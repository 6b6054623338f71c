"""The status sweep by status list on PostgreSQL: 100,000 received credentials on 500 status lists.

    uv run python bench/status_lists_sweep.py [--credentials 100000] [--lists 500] [--rounds 5] [--changed 5]

The badge issuer runs under uvicorn (1 worker) on loopback against a throwaway PostgreSQL; its 500
Bitstring status lists are real rows of its database (one issuer, one key), signed by the issuer at
their first GET and served with ETags like any other. The received credentials are seeded straight
into the gap engine's database (issuing 100,000 would time the issuer, not the sweep): each one names
its bit on one of those lists (200 a list), is `verified`, and has never been swept. This process
builds the gap engine's app object (pointed at the running issuer over real HTTP) and calls
sweep_once with `now` one interval past the previous round, so every list is due each round.

Round 1 is cold: every credential's credentialStatus is read, each list answers 200 and its proof
is checked once by the issuer's verifier. Each later round first makes `--changed` lists change at
the issuer (their revision bumped: re-signed, a new ETag), so those answer 200 and the rest 304.
Requests are counted by httpx hooks on the sweep's fetcher and on the verifier client. The issuer's
public rate limit is lifted (500 list reads a round from one address exceed its 600/min default).
For scale: the per-credential path it replaces made one POST /v1/verify per credential, i.e.
100,000 requests a round, sequentially.
"""

import argparse
import asyncio
import base64
import collections
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from sqlalchemy import func, insert, select, update  # noqa: E402

from bench.harness import free_port, temporary_postgres, uvicorn_server  # noqa: E402
from bench.taxonomy_reads import create_database  # noqa: E402
from services.badge_issuer.db.tables import IssuerKey, StatusList  # noqa: E402
from services.gap_engine.app import create_app as create_gap_app  # noqa: E402
from services.gap_engine.db.tables import Employee, ReceivedCredential  # noqa: E402
from services.gap_engine.domain import status_sweep  # noqa: E402
from services.gap_engine.settings import GapSettings  # noqa: E402
from shared.auth import SCOPES, TokenAuthority, load_or_create_private_key  # noqa: E402
from shared.bitstring_status_list import MIN_ENTRIES, build_status_list_entry  # noqa: E402
from shared.db import Database, utcnow  # noqa: E402
from shared.migrations import upgrade  # noqa: E402

PER_EMPLOYEE = 10
INSERT_CHUNK = 5_000


async def seed_lists(issuer_url: str, issuer_db: str, authority: TokenAuthority, count: int) -> tuple[str, list[str]]:
    """One issuer (through its API) and `count` status lists of its key (straight into its tables)."""
    org_id = uuid.uuid4()
    token = authority.issue(org_id=org_id, client_id="bench", scopes=frozenset(SCOPES.keys()))
    async with httpx.AsyncClient(timeout=30) as http:
        created = await http.post(
            f"{issuer_url}/v1/issuers",
            json={"name": "Bench Academy", "url": "https://academy.example", "email": "b@academy.example"},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
        )
    assert created.status_code == 201, created.text
    issuer = created.json()
    database = Database(issuer_db)
    async with database.sessions() as session:
        key = await session.scalar(select(IssuerKey).where(IssuerKey.issuer_id == uuid.UUID(issuer["id"])).limit(1))
        assert key is not None
        ids = [uuid.uuid4() for _ in range(count)]
        await session.execute(
            insert(StatusList),
            [
                {
                    "id": list_id,
                    "org_id": key.org_id,
                    "issuer_id": key.issuer_id,
                    "key_id": key.id,
                    "status_purpose": "revocation",
                    "size": MIN_ENTRIES,
                    "next_index": 0,
                    "revision": 0,
                }
                for list_id in ids
            ],
        )
        await session.commit()
    await database.dispose()
    return issuer["did"], [f"{issuer_url}/v1/public/status-lists/{list_id}" for list_id in ids]


async def seed_received(gap_app, issuer_did: str, list_urls: list[str], total: int) -> uuid.UUID:  # noqa: ANN001
    """`total` verified credentials of `issuer_did`, spread evenly over the lists, PER_EMPLOYEE each."""
    org_id = uuid.uuid4()
    per_list = -(-total // len(list_urls))
    now = utcnow()
    async with gap_app.state.database.sessions() as session:
        employees = [uuid.uuid4() for _ in range(-(-total // PER_EMPLOYEE))]
        for start in range(0, len(employees), INSERT_CHUNK):
            await session.execute(
                insert(Employee),
                [
                    {
                        "id": e,
                        "org_id": org_id,
                        "hris_id": f"E-{start + n:06d}",
                        "name": "Learner",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n, e in enumerate(employees[start : start + INSERT_CHUNK])
                ],
            )
        rows = []
        for number in range(total):
            list_url, index = list_urls[number // per_list], number % per_list
            credential_id = f"urn:uuid:{uuid.uuid4()}"
            presented = {
                "@context": ["https://www.w3.org/ns/credentials/v2"],
                "id": credential_id,
                "type": ["VerifiableCredential", "OpenBadgeCredential"],
                "issuer": {"id": issuer_did, "type": ["Profile"]},
                "credentialStatus": build_status_list_entry(
                    list_url=list_url, index=index, status_purpose="revocation"
                ),
            }
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "org_id": org_id,
                    "employee_id": employees[number // PER_EMPLOYEE],
                    "credential_id": credential_id,
                    "issuer_id": issuer_did,
                    "format": "data-integrity",
                    "status": "verified",
                    "reasons": [],
                    "skills": [],
                    "presented": presented,
                    "received_at": now,
                    "recipient": "bound",
                }
            )
            if len(rows) == INSERT_CHUNK:
                await session.execute(insert(ReceivedCredential), rows)
                rows = []
        if rows:
            await session.execute(insert(ReceivedCredential), rows)
        await session.commit()
    return org_id


async def change_lists(issuer_db: str, list_urls: list[str]) -> None:
    """A bit "changed" on these lists: their revision moves, so the issuer re-signs them (a new ETag)."""
    database = Database(issuer_db)
    async with database.sessions() as session:
        ids = [uuid.UUID(url.rsplit("/", 1)[1]) for url in list_urls]
        await session.execute(update(StatusList).where(StatusList.id.in_(ids)).values(revision=StatusList.revision + 1))
        await session.commit()
    await database.dispose()


async def run(args: argparse.Namespace) -> None:
    os.environ["CREDSTACK_LOG_LEVEL"] = "WARNING"
    work = Path(tempfile.mkdtemp(prefix="credstack-bench."))
    key_file = work / "auth.pem"
    authority = TokenAuthority(
        load_or_create_private_key(key_file, create=True), issuer="credstack", audience="credstack", ttl_seconds=3600
    )
    issuer_key = base64.b64encode(os.urandom(32)).decode()
    with temporary_postgres() as admin_url:
        urls = {name: await create_database(admin_url, f"{name}_bench") for name in ("issuer", "gap")}
        for service, name in (("badge_issuer", "issuer"), ("gap_engine", "gap")):
            await asyncio.to_thread(upgrade, service, urls[name])
        port = args.port or free_port()  # chosen now, not before PostgreSQL took one
        issuer_env = {
            "CREDSTACK_AUTH_PRIVATE_KEY_FILE": str(key_file),
            "CREDSTACK_LOG_LEVEL": "WARNING",
            "CREDSTACK_ISSUER_DATABASE_URL": urls["issuer"],
            "CREDSTACK_ISSUER_ACCESS_LOG": "false",
            "CREDSTACK_ISSUER_MASTER_KEY": issuer_key,
            "CREDSTACK_ISSUER_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "CREDSTACK_ISSUER_PUBLIC_RATE_LIMIT_PER_MINUTE": str(10**9),
        }
        with uvicorn_server("services.badge_issuer.app:create_app", issuer_env, port=port) as issuer:
            await measure(args, issuer, urls, key_file, authority)


async def measure(args: argparse.Namespace, issuer: str, urls: dict[str, str], key_file: Path, authority) -> None:  # noqa: ANN001
    gap_app = create_gap_app(
        GapSettings(
            database_url=urls["gap"],
            taxonomy_url="http://127.0.0.1:9",  # the list path never asks the taxonomy
            issuer_url=issuer,
            master_key=base64.b64encode(os.urandom(32)).decode(),
            status_sweep_enabled=False,
            auth_private_key_file=key_file,
            environment="dev",
            access_log=False,
        )
    )
    state = gap_app.state
    requests: collections.Counter[str] = collections.Counter()

    async def count(response: httpx.Response) -> None:
        path = (
            response.request.url.path.rsplit("/", 1)[0]
            if "status-lists" in response.request.url.path
            else response.request.url.path
        )
        requests[f"{response.request.method} {path} {response.status_code}"] += 1

    state.status_fetcher._http.event_hooks["response"].append(count)
    state.verifier.http.event_hooks["response"].append(count)

    started = time.perf_counter()
    issuer_did, list_urls = await seed_lists(issuer, urls["issuer"], authority, args.lists)
    org_id = await seed_received(gap_app, issuer_did, list_urls, args.credentials)
    print(
        f"seeded {args.credentials} received credentials on {args.lists} lists in {time.perf_counter() - started:.1f} s"
    )

    policy = state.sweep_policy
    now = utcnow() + timedelta(seconds=1)
    results = []
    for number in range(args.rounds + 1):
        if number:
            await change_lists(urls["issuer"], list_urls[(number * args.changed) % args.lists :][: args.changed])
        requests.clear()
        now += policy.recheck + timedelta(seconds=1)
        started = time.perf_counter()
        outcome = await status_sweep.sweep_once(
            state.database.sessions,
            state.verifier,
            state.service_tokens,
            state.secret_box,
            policy,
            holder="bench",
            fetcher=state.status_fetcher,
            now=now,
        )
        seconds = time.perf_counter() - started
        results.append((seconds, sum(requests.values()), outcome))
        print(
            f"round {number + 1} ({'cold' if number == 0 else 'warm'}): {seconds:.2f} s, {sum(requests.values())} "
            f"requests {dict(requests)}; lists asked {outcome.lists_asked}, 304 {outcome.lists_unchanged}, "
            f"changed {outcome.lists_changed}, unreachable {outcome.lists_unreachable}; credentials checked "
            f"{outcome.checked}, still valid {outcome.still_valid}, rejected {outcome.rejected}",
            flush=True,
        )
    async with state.database.sessions() as session:
        stamped = await session.scalar(
            select(func.count()).where(ReceivedCredential.org_id == org_id, ReceivedCredential.checked_at == now)
        )
    warm = results[1:]
    print(
        f"\n{args.credentials} credentials on {args.lists} lists, PostgreSQL on loopback, issuer under uvicorn"
        f"\n  cold round: {results[0][0]:.2f} s, {results[0][1]} requests"
        f"\n  warm rounds (median of {len(warm)}): {statistics.median(r[0] for r in warm):.2f} s, "
        f"{statistics.median(r[1] for r in warm):.0f} requests, "
        f"{statistics.median(r[2].lists_unchanged for r in warm):.0f} answered 304, "
        f"{statistics.median(r[2].lists_changed for r in warm):.0f} changed (each + 1 POST /v1/verify)"
        f"\n  credentials stamped by the last round: {stamped} of {args.credentials}"
        f"\n  (the per-credential path: {args.credentials} POST /v1/verify a round)"
    )
    await state.status_fetcher.aclose()
    await state.verifier.http.aclose()
    await state.taxonomy.http.aclose()
    await state.database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--credentials", type=int, default=100_000)
    parser.add_argument("--lists", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5, help="warm rounds after the cold one")
    parser.add_argument("--changed", type=int, default=5, help="lists that change before each warm round")
    parser.add_argument("--port", type=int, default=0, help="the issuer's port (0: a free one)")
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
