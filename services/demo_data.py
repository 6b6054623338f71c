"""The demo organisation's people and evidence: a fixed plan, seeded through the public APIs.

taxonomy_api's provisioning seeds the demo taxonomy (the Communication pathway) before the services start; this
module, once they answer, gives that organisation its people and their evidence the way a real
deployment would get them: an issuer profile, the gap engine's trust in it and the signed webhook pair,
role sync, the HRIS's employees, assessment results from the learning platform (badges, a few refused
attempts, pathway capstones, a few revocations) and KPI observations. Every request is replayable (an
Idempotency-Key or an upsert, or a lookup first), so a second start changes nothing.

The plan is drawn from a fixed random seed and dated against a fixed moment (ANCHOR), so tests and
screenshots see the same people, badges and figures every time. The KPI values are made up to show
what the KPI-linkage view does with real data: the uplifts follow figures reported for these badges
(handle time about -13 % after Active listening, project delay days about -15 % after Conflict
navigation), with noise, and client satisfaction carries a planted effect (PLANTED_PAIR) for the
question "which two badges precede top-quartile scores?"; they prove nothing about the real world.
"""

import asyncio
import hashlib
import json
import random
import secrets
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import select

from services.taxonomy_api.db.revisions import TaxonomySession
from services.taxonomy_api.db.tables import User
from services.taxonomy_api.domain import people as taxonomy_people
from services.taxonomy_api.settings import TaxonomySettings
from shared.db import Database

SEED = 14
# Every date of the plan is relative to this moment (not to the clock), so the demo is the same on
# every machine; assessments fall in the 18 months before it.
ANCHOR = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WINDOW_START = ANCHOR - timedelta(days=548)
LAST_ASSESSMENT = ANCHOR - timedelta(days=7)
PASS_MARK = 70
DELIVERIES_PAGE = 200
HOLDINGS_IN_FLIGHT = 8  # the gap engine's per-employee reads while waiting, at once
EMAIL_DOMAIN = "demo.credstack.invalid"

CSA, PM, BM, AM = "Customer Service Agent", "Project Manager", "Bid Manager", "Account Manager"
AL = "Active listening (Foundational)"
CN = "Conflict navigation (Intermediate)"
SS = "Strategic storytelling (Advanced)"
PC = "Peer coaching (Intermediate)"
PCA = "Peer coaching (Advanced)"
# Pathways as the taxonomy has them (steps, capstone): holding every step earns the capstone.
PATHWAYS = {"Communication": ((AL, CN), SS), "Coaching": ((AL, PC), PCA)}

CSAT = "client satisfaction"
AHT = "average handle time (first-call resolution)"
DELAY = "project delay days"
# The metrics with enough people on each side for the KPI-linkage view (at least 10 holders and 10
# non-holders of some achievement): client satisfaction for everyone, handle time for the agents,
# project delay days for the project managers.
LINKED_METRICS = {CSAT: "increase", AHT: "decrease", DELAY: "decrease"}
# "Which two badges precede top-quartile client-satisfaction scores?": these two (and the capstone
# that holding both awards, Strategic storytelling, which goes with them).
PLANTED_PAIR = (AL, CN)

FIRST_NAMES = [
    "Ada",
    "Amara",
    "Ana",
    "Arjun",
    "Beatriz",
    "Chen",
    "Chiara",
    "Daniel",
    "Dara",
    "Elena",
    "Emeka",
    "Farah",
    "Felix",
    "Grace",
    "Hana",
    "Hugo",
    "Ines",
    "Isaac",
    "Jonas",
    "Kemal",
    "Lena",
    "Leila",
    "Luca",
    "Maya",
    "Mateo",
    "Mei",
    "Nadia",
    "Nikos",
    "Noor",
    "Olga",
    "Omar",
    "Pablo",
    "Priya",
    "Rafael",
    "Rosa",
    "Sami",
    "Sofia",
    "Tariq",
    "Thandi",
    "Tomas",
    "Uma",
    "Viktor",
    "Wen",
    "Yara",
    "Yusuf",
    "Zofia",
]
LAST_NAMES = [
    "Abara",
    "Bauer",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fernandes",
    "Gallo",
    "Haddad",
    "Ito",
    "Jansen",
    "Kowalski",
    "Laine",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quinn",
    "Rossi",
    "Santos",
    "Tanaka",
    "Ueda",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zhang",
    "Novak",
    "Osei",
    "Lindqvist",
    "Murphy",
]

# (department, team, lead's current role, lead's target role, members' role, members)
TEAMS = (
    ("Customer Operations", "Support North", CSA, PM, CSA, 36),
    ("Customer Operations", "Support South", CSA, PM, CSA, 34),
    ("Customer Operations", "Support East", CSA, None, CSA, 32),
    ("Customer Operations", "Service Desk", CSA, None, CSA, 30),
    ("Customer Operations", "Escalations", CSA, PM, CSA, 20),
    ("Customer Operations", "Onboarding", CSA, None, CSA, 20),
    ("Delivery and Sales", "Project Delivery", PM, BM, PM, 26),
    ("Delivery and Sales", "Programme Office", PM, None, PM, 20),
    ("Delivery and Sales", "Bids", BM, None, BM, 14),
    ("Client Success", "Key Accounts", AM, BM, AM, 24),
    ("Client Success", "Customer Success", AM, None, AM, 30),
)
HEADS = {
    "Customer Operations": ("E-1000", PM),
    "Delivery and Sales": ("E-2000", BM),
    "Client Success": ("E-3000", AM),
}
# Chance of each badge by the person's role: Active listening, then Conflict navigation once they hold it.
RATES = {CSA: (0.75, 0.3), PM: (0.9, 0.6), BM: (1.0, 0.85), AM: (0.8, 0.35)}
# The role a member may aim at next (a lateral move, which an intermediate credential should precede).
LATERAL_MOVES = {CSA: PM, PM: BM, AM: BM}
# A role the provisioning does not seed, added through the taxonomy API: (job family, requirements as
# (skill, level, weight, criticality)).
ADDED_ROLES = {
    AM: (
        "Client Success",
        (
            ("Active listening", 2, 2.0, "must"),
            ("Conflict navigation", 2, 1.0, "should"),
            ("Peer coaching", 1, 1.0, "should"),
        ),
    ),
}
REVOCATION_REASONS = (
    "Assessment voided: the observer's notes were missing from the evidence.",
    "Issued against the wrong assessment form; the learner is re-assessed.",
    "Assessment voided: the recording was of a role-play, not a real interaction.",
)


@dataclass(frozen=True)
class DemoPerson:
    hris_id: str
    name: str
    email: str
    department: str
    team: str | None  # None for a department's head
    manager_hris_id: str | None
    current_role: str
    target_role: str | None
    hire_date: date
    is_lead: bool = False


@dataclass(frozen=True)
class DemoResult:
    hris_id: str
    achievement: str
    score: int
    completed_at: datetime

    @property
    def passed(self) -> bool:
        return self.score >= PASS_MARK

    @property
    def key(self) -> str:
        """The learning platform's id for this result (the Idempotency-Key)."""
        return f"demo:{self.hris_id}:{self.achievement}:{self.completed_at:%Y%m%d}"


@dataclass(frozen=True)
class DemoPlan:
    people: tuple[DemoPerson, ...]
    results: tuple[DemoResult, ...]
    revoked: tuple[tuple[str, str, str], ...]  # (hris id, achievement, reason)
    observations: tuple[dict[str, Any], ...]
    manager_hris_id: str
    employee_hris_id: str

    def person(self, hris_id: str) -> DemoPerson:
        return next(p for p in self.people if p.hris_id == hris_id)

    def earned(self, hris_id: str) -> dict[str, datetime]:
        """Achievements issued to the person (capstones included, revoked ones too) and when earned."""
        held = {r.achievement: r.completed_at for r in self.results if r.hris_id == hris_id and r.passed}
        for steps, capstone in PATHWAYS.values():
            if all(step in held for step in steps):
                held.setdefault(capstone, max(held[step] for step in steps))
        return held

    def counted(self, hris_id: str, before: datetime | None = None) -> set[str]:
        """Achievements that count at the gap engine (not revoked), earned before `before` if given."""
        revoked = {a for h, a, _ in self.revoked if h == hris_id}
        return {a for a, at in self.earned(hris_id).items() if a not in revoked and (before is None or at < before)}

    @property
    def credentials(self) -> int:
        return sum(len(self.earned(p.hris_id)) for p in self.people)

    @property
    def refused(self) -> int:
        return sum(not r.passed for r in self.results)

    @property
    def capstones(self) -> int:
        return sum(len(set(self.earned(p.hris_id)) & {SS, PCA}) for p in self.people)


def _name_pool(rng: random.Random, count: int) -> list[tuple[str, str]]:
    pairs = [(first, last) for first in FIRST_NAMES for last in LAST_NAMES]
    return rng.sample(pairs, count)


def _days(rng: random.Random, low: int, high: int) -> timedelta:
    return timedelta(days=rng.randint(low, high), hours=rng.randint(0, 8), minutes=rng.randint(0, 59))


def _hire_date(rng: random.Random) -> date:
    if rng.random() < 0.3:  # a new hire within the window: their first badge within 90 days
        return (WINDOW_START + _days(rng, 0, 480)).date()
    return (WINDOW_START - _days(rng, 60, 3000)).date()


def build_plan(seed: int = SEED) -> DemoPlan:
    """The whole demo, drawn from `seed`: people, assessment results, revocations and KPI values."""
    rng = random.Random(seed)
    total = len(HEADS) + sum(1 + members for *_, members in TEAMS)
    names = iter(_name_pool(rng, total))
    people: list[DemoPerson] = []

    def add(hris_id: str, *place: str | None, is_lead: bool = False) -> None:
        """place: department, team, manager's HRIS id, current role, target role."""
        first, last = next(names)
        name, email = f"{first} {last}", f"{first}.{last}@{EMAIL_DOMAIN}".lower()
        people.append(DemoPerson(hris_id, name, email, *place, _hire_date(rng), is_lead=is_lead))

    for department, (head_id, head_role) in HEADS.items():
        add(head_id, department, None, None, head_role, None, is_lead=True)
    teams_so_far: Counter[str] = Counter()
    for department, team, lead_role, lead_target, member_role, members in TEAMS:
        # E-<department><team in the department><member>: E-1100 leads Support North, E-1101 is in it.
        teams_so_far[department] += 1
        prefix = f"{HEADS[department][0][:3]}{teams_so_far[department]}"
        lead_id = f"{prefix}00"
        add(lead_id, department, team, HEADS[department][0], lead_role, lead_target, is_lead=True)
        for index in range(1, members + 1):
            lateral = LATERAL_MOVES.get(member_role)
            target = lateral if lateral and rng.random() < 0.2 else None
            add(f"{prefix}{index:02d}", department, team, lead_id, member_role, target)

    manager = next(p for p in people if p.team == "Support North" and p.is_lead)
    employee = next(p for p in people if p.manager_hris_id == manager.hris_id)
    # The demo employee: an agent aiming at project management, through the Communication pathway
    # and partway along Coaching.
    people[people.index(employee)] = employee = DemoPerson(
        **{**employee.__dict__, "target_role": PM, "hire_date": (ANCHOR - timedelta(days=900)).date()}
    )

    results: list[DemoResult] = []
    for person in people:
        results += _results_of(rng, person, forced=person is employee)
    revoked = _revocations(rng, people, results, keep={employee.hris_id})
    plan = DemoPlan(tuple(people), tuple(results), revoked, (), manager.hris_id, employee.hris_id)
    return DemoPlan(**{**plan.__dict__, "observations": tuple(_observations(rng, plan))})


def _results_of(rng: random.Random, person: DemoPerson, *, forced: bool) -> list[DemoResult]:
    """Active listening first (a new hire within 90 days), then Conflict navigation, then, for leads,
    Peer coaching; some people fail an attempt first (refused: the result is recorded with its reason)."""
    hired = datetime.combine(person.hire_date, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    start = max(hired, WINDOW_START)
    al_rate, cn_rate = (1.0, 1.0) if person.is_lead else RATES[person.current_role]
    results: list[DemoResult] = []

    def attempt(achievement: str, at: datetime) -> datetime | None:
        if at > LAST_ASSESSMENT:
            return None
        if rng.random() < 0.12 and at - timedelta(days=21) > start:
            results.append(DemoResult(person.hris_id, achievement, rng.randint(52, 69), at - _days(rng, 21, 45)))
        results.append(DemoResult(person.hris_id, achievement, rng.randint(PASS_MARK, 98), at))
        return at

    if forced:
        attempt(AL, ANCHOR - timedelta(days=430))
        attempt(CN, ANCHOR - timedelta(days=150))
        return results
    if rng.random() >= al_rate:
        return results
    first = start + (_days(rng, 20, 90) if hired > WINDOW_START else _days(rng, 0, 500))
    listened = attempt(AL, first)
    if listened is None:
        return results
    if rng.random() < cn_rate:
        attempt(CN, listened + _days(rng, 60, 300))
    if person.is_lead and rng.random() < 0.8:
        attempt(PC, listened + _days(rng, 30, 200))
    return results


def _revocations(
    rng: random.Random, people: list[DemoPerson], results: list[DemoResult], keep: set[str]
) -> tuple[tuple[str, str, str], ...]:
    """Active listening withdrawn from three agents who hold nothing else (no capstone rests on it)."""
    passed = Counter(r.hris_id for r in results if r.passed)
    agents = [
        p.hris_id
        for p in people
        if p.current_role == CSA and not p.is_lead and p.hris_id not in keep and passed[p.hris_id] == 1
    ]
    chosen = sorted(rng.sample(agents, len(REVOCATION_REASONS)))
    return tuple((hris_id, AL, reason) for hris_id, reason in zip(chosen, REVOCATION_REASONS, strict=True))


def _months() -> list[tuple[date, date]]:
    """The twelve calendar months before ANCHOR's month."""
    months, first = [], ANCHOR.date().replace(day=1)
    for _ in range(12):
        end = first - timedelta(days=1)
        first = end.replace(day=1)
        months.append((first, end))
    return sorted(months)


def _csat_uplift(person: DemoPerson, listened: bool, navigates: bool) -> float:
    """The planted effect the KPI-linkage view finds: a little for each Communication step, most for
    holding both (PLANTED_PAIR). Leads and heads take the escalated cases and score lower whatever they
    hold, so the pairs only they hold (Peer coaching with anything) are not what precedes the top."""
    return 2 * listened + 1 * navigates + 7 * (listened and navigates) - 6 * person.is_lead


def _observations(rng: random.Random, plan: DemoPlan) -> list[dict[str, Any]]:
    """Monthly values for the months each person was employed: client satisfaction for everyone,
    handle time for agents, project delay days for project managers. A badge moves a value only from
    the month after it was earned (the linkage counts a badge held before the period starts)."""
    observations = []
    for person in plan.people:
        baseline = {CSAT: rng.gauss(0, 3), AHT: rng.gauss(0, 0.5), DELAY: rng.gauss(0, 2)}
        metrics = [CSAT]
        if person.current_role == CSA and not person.is_lead:
            metrics.append(AHT)
        if person.current_role == PM and not person.is_lead:
            metrics.append(DELAY)
        for start, end in _months():
            if start < person.hire_date:
                continue
            held = plan.counted(person.hris_id, datetime.combine(start, datetime.min.time(), tzinfo=UTC))
            listened, navigates = AL in held, CN in held
            values = {
                CSAT: 74 + baseline[CSAT] + rng.gauss(0, 2.5) + _csat_uplift(person, listened, navigates),
                AHT: (8.5 + baseline[AHT] + rng.gauss(0, 0.4)) * (0.87 if listened else 1.0),
                DELAY: (18 + baseline[DELAY] + rng.gauss(0, 1.5)) * (0.85 if navigates else 1.0),
            }
            for metric in metrics:
                value = round(min(max(values[metric], 0.0), 100.0), 2)
                observations.append(
                    {
                        "hris_id": person.hris_id,
                        "metric": metric,
                        "value": value,
                        "period_start": start.isoformat(),
                        "period_end": end.isoformat(),
                    }
                )
    return observations


# --- demo users (people who sign in to the pages) ---------------------------------------------


async def ensure_demo_users(settings: TaxonomySettings, org_id: uuid.UUID, plan: DemoPlan) -> dict[str, str]:
    """The demo manager and employee as users of the taxonomy service (there is no users API to post
    them to); created once with new passwords, which are returned. Existing users are left alone."""
    created: dict[str, str] = {}
    database = Database(settings.resolved_database_url, session_class=TaxonomySession)
    try:
        async with database.sessions() as session:
            for role, hris_id in (("manager", plan.manager_hris_id), ("employee", plan.employee_hris_id)):
                person = plan.person(hris_id)
                if await session.scalar(select(User.id).where(User.email == person.email)) is not None:
                    continue
                password = secrets.token_urlsafe(12)
                await taxonomy_people.add_user(
                    session, org_id, email=person.email, name=person.name, role=role, hris_id=hris_id, password=password
                )
                created |= {f"{role}_email": person.email, f"{role}_password": password, f"{role}_hris_id": hris_id}
            await session.commit()
    finally:
        await database.dispose()
    return created


# --- seeding through the APIs -----------------------------------------------------------------


class DemoSeedError(RuntimeError):
    """A service refused part of the demo, or the gap engine did not catch up in time."""


@dataclass(frozen=True)
class ServiceUrls:
    taxonomy: str
    issuer: str
    gap_engine: str


@dataclass
class DemoSummary:
    employees: int
    credentials: int
    revoked: int
    refused: int
    capstones: int
    counted_credentials: int
    skill_facts: int
    seconds: float
    by_status: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        return (
            f"Demo organisation: {self.employees} employees, {self.credentials} credentials issued "
            f"({self.capstones} capstones, {self.revoked} revoked; {self.refused} failed attempts refused); "
            f"the gap engine counts {self.counted_credentials} of them as {self.skill_facts} skill facts "
            f"({self.seconds:.1f} s)"
        )


def where_to_look(pages: ServiceUrls, plan: DemoPlan, credentials_file: str) -> list[str]:
    """The lines a newcomer reads at the end of the seeding: each page of the story, by URL."""
    metric = quote(CSAT)
    employee, manager = plan.person(plan.employee_hris_id), plan.person(plan.manager_hris_id)
    first, second = PLANTED_PAIR
    return [
        "Where to look:",
        f"  sign in          {pages.taxonomy}/sign-in  (users and passwords: {credentials_file})",
        f"  organisation     {pages.gap_engine}/dashboard",
        f"  teams            {pages.gap_engine}/dashboard/teams  ({manager.name} leads {manager.team})",
        f"  an employee      {pages.gap_engine}/dashboard/employees/{employee.hris_id}  ({employee.name})",
        f"  KPI linkage      {pages.gap_engine}/dashboard/kpis?metric={metric}  (which two badges precede "
        f"top-quartile client satisfaction? {first.split(' (')[0]} and {second.split(' (')[0]})",
        f"  as JSON          {pages.gap_engine}/v1/kpis/{metric}/linkage",
        f"  verify a badge   {pages.issuer}/verify",
        f"  wallet           {pages.issuer}/wallet  (signed in as {employee.email})",
        f"  API docs         {pages.taxonomy}/docs  {pages.issuer}/docs  {pages.gap_engine}/docs",
    ]


def _ok(response: httpx.Response, *statuses: int) -> httpx.Response:
    if response.status_code not in (statuses or (200, 201)):
        request = response.request
        raise DemoSeedError(f"{request.method} {request.url} answered {response.status_code}: {response.text[:500]}")
    return response


def _key(prefix: str, body: Any) -> dict[str, str]:
    """An Idempotency-Key bound to the body: a replay of the same request replays its answer."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:24]
    return {"Idempotency-Key": f"demo-{prefix}-{digest}"}


async def _all(client: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        page = _ok(await client.get(path, params={**params, "limit": 200, **({"cursor": cursor} if cursor else {})}))
        body = page.json()
        items += body["items"]
        cursor = body.get("next_cursor")
        if not cursor:
            return items


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def seed_demo_people(
    urls: ServiceUrls,
    org_id: uuid.UUID,
    client_id: str,
    client_secret: str,
    *,
    plan: DemoPlan | None = None,
    wait_seconds: float = 300.0,
    progress: Callable[[str], None] = _stderr,
) -> DemoSummary:
    """Seeds the plan with the organisation's admin client and waits (bounded) until the gap engine
    holds what the issuer issued. Safe to run again: nothing is created twice."""
    plan = plan or build_plan()
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=urls.taxonomy, timeout=30.0) as bare:
        token = _ok(
            await bare.post(
                "/oauth/token",
                data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
            )
        ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    async with (
        httpx.AsyncClient(base_url=urls.taxonomy, headers=auth, timeout=30.0) as taxonomy,
        httpx.AsyncClient(base_url=urls.issuer, headers=auth, timeout=60.0) as issuer,
        httpx.AsyncClient(base_url=urls.gap_engine, headers=auth, timeout=60.0) as gap,
    ):
        catalogue = await _taxonomy_additions(taxonomy)
        roles = {role["name"]: role["id"] for role in await _all(taxonomy, "/v1/roles")}
        profile = await _issuer_and_trust(issuer, gap)
        subscription = await _webhook_pair(taxonomy, issuer, gap, org_id, urls.gap_engine)
        for role_id in roles.values():
            if (await gap.get(f"/v1/roles/{role_id}/requirements")).status_code == 404:
                _ok(await gap.post(f"/v1/roles/{role_id}/sync"))
        employees = [_employee_record(person, roles) for person in plan.people]
        body = {"employees": employees}
        _ok(await gap.post("/v1/employees/bulk", json=body, headers=_key("employees", body)))
        issued = await _assessments(issuer, plan, catalogue, profile["id"])
        progress(
            f"demo: {len(plan.results)} assessment results posted in bulk, {len(plan.results) - plan.refused} "
            f"issued with {plan.capstones} capstones ({time.monotonic() - started:.0f} s)"
        )
        for hris_id, achievement, reason in plan.revoked:
            credential_id = issued[(hris_id, achievement)]
            _ok(await issuer.post(f"/v1/credentials/{credential_id}/revoke", json={"reason": reason}), 200, 409)
        for chunk in _chunks(list(plan.observations), 5000):
            body = {"observations": chunk}
            _ok(await gap.post("/v1/kpi-observations", json=body, headers=_key("kpis", body)))
        return await _wait_for_gap_engine(issuer, gap, plan, subscription, started, wait_seconds, progress)


async def _taxonomy_additions(taxonomy: httpx.AsyncClient) -> dict[str, str]:
    """Peer coaching and the Coaching pathway (Active listening, then Peer coaching, to the advanced
    capstone), beside the Communication pathway the provisioning seeded: so one person can hold several
    badges, one pathway complete and the other partway; and the Account Manager role. Returns
    achievement ids by name."""
    skills = {s["name"]: s for s in await _all(taxonomy, "/v1/skills")}
    listening = skills["Active listening"]
    if "Peer coaching" not in skills:
        body = {
            "name": "Peer coaching",
            "description": "Helps colleagues improve through observation, questions and specific feedback.",
            "capability_id": listening["capability_id"],
            "scale_id": listening["scale_id"],
            "tags": ["communication", "soft-skill", "coaching"],
        }
        _ok(await taxonomy.post("/v1/skills", json=body, headers=_key("skill", body)))
        skills = {s["name"]: s for s in await _all(taxonomy, "/v1/skills")}
    achievements = {a["name"]: a["id"] for a in await _all(taxonomy, "/v1/achievements")}
    for name, tier, level in ((PC, "intermediate", 2), (PCA, "advanced", 3)):
        if name in achievements:
            continue
        body = {
            "name": name,
            "description": f"Certifies peer coaching at the {tier} tier.",
            "criteria_narrative": "Coach a colleague through three observed sessions; pass with at least 70 of 100.",
            "tier": tier,
            "skills": [{"skill_id": skills["Peer coaching"]["id"], "level": level}],
            "result_description": {"kind": "score", "pass_mark": PASS_MARK, "max_score": 100},
            "evidence_required": ["Observer notes of the coaching sessions"],
            "kpi_anchors": [
                {
                    "metric": "manager NPS",
                    "direction": "increase",
                    "expected_uplift_low": 10,
                    "expected_uplift_high": 10,
                    "unit": "points",
                    "source": "reported figure for peer coaching programmes (not measured by CredStack)",
                }
            ],
            "tags": ["communication", "coaching"],
        }
        achievements[name] = _ok(
            await taxonomy.post("/v1/achievements", json=body, headers=_key("badge", body))
        ).json()["id"]
    existing_roles = {role["name"] for role in await _all(taxonomy, "/v1/roles")}
    for name, (family, requirements) in ADDED_ROLES.items():
        if name in existing_roles:
            continue
        body = {
            "name": name,
            "job_family": family,
            "requirements": [
                {"skill_id": skills[skill]["id"], "level": level, "weight": weight, "criticality": criticality}
                for skill, level, weight, criticality in requirements
            ],
        }
        _ok(await taxonomy.post("/v1/roles", json=body, headers=_key("role", body)))
    if "Coaching" not in {p["name"] for p in await _all(taxonomy, "/v1/pathways")}:
        body = {
            "name": "Coaching",
            "description": "Listen first, then coach peers; the advanced peer-coaching badge is the capstone.",
            "steps": [
                {"achievement_id": achievements[AL]},
                {"achievement_id": achievements[PC], "prerequisites": [achievements[AL]]},
            ],
            "capstone_achievement_id": achievements[PCA],
        }
        _ok(await taxonomy.post("/v1/pathways", json=body, headers=_key("pathway", body)))
    return achievements


async def _issuer_and_trust(issuer: httpx.AsyncClient, gap: httpx.AsyncClient) -> dict[str, Any]:
    body = {
        "name": "CredStack Academy",
        "url": "https://academy.credstack.example",
        "email": "academy@credstack.example",
    }
    profile = _ok(await issuer.post("/v1/issuers", json=body, headers=_key("issuer", body)), 200, 201).json()
    trust = {"issuer_id": profile["did"], "note": "The demo organisation's own academy."}
    _ok(await gap.post("/v1/trusted-issuers", json=trust), 201, 409)
    return profile


async def _webhook_pair(
    taxonomy: httpx.AsyncClient, issuer: httpx.AsyncClient, gap: httpx.AsyncClient, org_id: uuid.UUID, gap_url: str
) -> None:
    """The issuer's subscription and the gap engine's source for it, with an API client the gap engine
    signs in with (authenticated verification, and reconciliation against the issuer's listing). The
    source's id is fixed by the organisation; the subscription's Idempotency-Key replays its secret.
    Returns the subscription's id."""
    source_id = uuid.uuid5(uuid.NAMESPACE_URL, f"https://credstack.invalid/demo/{org_id}/webhook-source")
    body = {"url": f"{gap_url}/v1/webhooks/issuer/{source_id}"}
    response = _ok(await issuer.post("/v1/webhook-subscriptions", json=body, headers=_key("subscription", body)))
    source = {"id": str(source_id), "name": "CredStack Academy", "secret": response.json()["secret"]}
    if response.headers.get("idempotent-replay") != "true":
        client = {"name": "demo gap engine", "scopes": ["credentials:read", "taxonomy:read"]}
        created = _ok(await taxonomy.post("/v1/clients", json=client), 201).json()
        source |= {"client_id": created["client_id"], "client_secret": created["client_secret"]}
    # A replayed subscription normally has its source already (409); if a crash came in between, the
    # source is made now, without a client (deliveries still verify, through the public path).
    _ok(await gap.post("/v1/webhook-sources", json=source), 201, 409)
    return response.json()["id"]


def _employee_record(person: DemoPerson, roles: dict[str, str]) -> dict[str, Any]:
    return {
        "hris_id": person.hris_id,
        "name": person.name,
        "email": person.email,
        "manager_hris_id": person.manager_hris_id,
        "team": person.team,
        "department": person.department,
        "hire_date": person.hire_date.isoformat(),
        "current_role_id": roles[person.current_role],
        "target_role_id": roles[person.target_role] if person.target_role else None,
    }


async def _assessments(
    issuer: httpx.AsyncClient, plan: DemoPlan, catalogue: dict[str, str], issuer_id: str
) -> dict[tuple[str, str], str]:
    """In stages (every Active listening result, then Conflict navigation, then Peer coaching), each
    in time order, so a capstone is issued when the second step arrives. Returns credential ids."""
    issued: dict[tuple[str, str], str] = {}
    for stage in (AL, CN, PC):
        results = sorted((r for r in plan.results if r.achievement == stage), key=lambda r: (r.completed_at, r.hris_id))
        for chunk in _chunks(results, 500):
            items = [
                {
                    "learner": {"hris_id": r.hris_id, "email": plan.person(r.hris_id).email},
                    "achievement_id": catalogue[r.achievement],
                    "issuer_id": issuer_id,
                    "score": r.score,
                    "assessor": "CredStack Academy observer",
                    "evidence": {"narrative": f"Observed {r.achievement.split(' (')[0].lower()} assessment."},
                    "completed_at": r.completed_at.isoformat().replace("+00:00", "Z"),
                    "idempotency_key": r.key,
                }
                for r in chunk
            ]
            body = {"items": items}
            answer = _ok(await issuer.post("/v1/assessment-results/bulk", json=body, headers=_key("results", body)))
            for result, item in zip(chunk, answer.json()["items"], strict=True):
                if item["outcome"] == "failed" or (item["outcome"] == "issued") != result.passed:
                    raise DemoSeedError(f"assessment {result.key}: {item['outcome']} {item.get('problem')}")
                if item["credential_id"]:
                    issued[(result.hris_id, result.achievement)] = item["credential_id"]
    return issued


async def _holdings(issuer: httpx.AsyncClient, gap: httpx.AsyncClient, plan: DemoPlan) -> tuple[dict, dict]:
    """The issuer's credentials (document id -> revoked) and the gap engine's (document id -> item)."""
    at_issuer = {c["credential"]["id"]: c["status"]["revoked"] for c in await _all(issuer, "/v1/credentials")}

    in_flight = asyncio.Semaphore(HOLDINGS_IN_FLIGHT)

    async def received(hris_id: str) -> list[dict[str, Any]]:
        async with in_flight:
            return _ok(await gap.get(f"/v1/employees/{hris_id}/credentials")).json()["items"]

    lists = await asyncio.gather(*(received(p.hris_id) for p in plan.people))
    at_gap = {item["credential_id"]: item for items in lists for item in items}
    return at_issuer, at_gap


def _caught_up(at_issuer: dict[str, bool], at_gap: dict[str, dict]) -> tuple[int, bool]:
    """How many of the issuer's credentials the gap engine holds as it should (counted, or, when
    revoked, not counted); and whether that is all of them."""
    settled = sum(
        1
        for credential_id, revoked in at_issuer.items()
        if credential_id in at_gap and (at_gap[credential_id]["status"] == "verified") != revoked
    )
    return settled, settled == len(at_issuer)


async def _deliveries(issuer: httpx.AsyncClient, subscription: str, status: str) -> int:
    """How many of the subscription's deliveries have `status` (one page: DELIVERIES_PAGE means that
    many or more)."""
    path = f"/v1/webhook-subscriptions/{subscription}/deliveries"
    return len(_ok(await issuer.get(path, params={"status": status, "limit": DELIVERIES_PAGE})).json()["items"])


async def _wait_for_gap_engine(
    issuer: httpx.AsyncClient,
    gap: httpx.AsyncClient,
    plan: DemoPlan,
    subscription: str,
    started: float,
    wait_seconds: float,
    progress: Callable[[str], None],
) -> DemoSummary:
    """The issuer's outbox delivers every credential.issued and credential.revoked event and the gap
    engine verifies each credential itself: once nothing is pending, the holdings are compared (the
    reconciliation makes good what a dead delivery missed, in its own time)."""
    deadline, last = time.monotonic() + wait_seconds, None
    while True:
        pending = await _deliveries(issuer, subscription, "pending")
        if pending == 0:
            at_issuer, at_gap = await _holdings(issuer, gap, plan)
            settled, done = _caught_up(at_issuer, at_gap)
            if done and len(at_issuer) == plan.credentials:
                break
            state = f"it holds {settled} of the issuer's {len(at_issuer)} credentials as it should"
        else:
            state = f"{pending}{'+' if pending >= DELIVERIES_PAGE else ''} webhook deliveries pending"
        if state != last:
            progress(f"demo: waiting for the gap engine ({time.monotonic() - started:.0f} s): {state}…")
            last = state
        if time.monotonic() > deadline:
            dead = await _deliveries(issuer, subscription, "dead")
            raise DemoSeedError(f"the gap engine did not catch up in {wait_seconds:.0f} s: {state}, {dead} dead")
        await asyncio.sleep(0.5)
    counted = [item for item in at_gap.values() if item["status"] == "verified"]
    return DemoSummary(
        employees=len(await _all(gap, "/v1/employees")),
        credentials=len(at_issuer),
        revoked=sum(at_issuer.values()),
        refused=plan.refused,
        capstones=plan.capstones,
        counted_credentials=len(counted),
        skill_facts=sum(len(item["skills"]) for item in counted),
        seconds=time.monotonic() - started,
        by_status=dict(Counter(item["status"] for item in at_gap.values())),
    )
