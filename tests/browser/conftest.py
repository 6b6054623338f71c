"""Browser tests: the three real apps on loopback ports, driven by Debian's Chromium through Playwright.

No browser is downloaded: Playwright launches the system `chromium` (`apt-get install chromium`, which
scripts/bootstrap.sh does). Pages are checked with axe-core (from the pinned npm package in
tests/interop/node) for serious and critical violations, and every test's last view is saved as a
screenshot under var/screenshots/ for a person to look at.
"""

import asyncio
import shutil
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from services.taxonomy_api.domain import organisations, people
from services.taxonomy_api.provisioning import seed_demo_taxonomy
from shared.auth import SCOPES, TokenAuthority, load_or_create_private_key
from shared.settings import REPO_ROOT
from tests.live_platform import Platform, build_platform, migrated_databases, serving_platform

SCREENSHOTS = REPO_ROOT / "var" / "screenshots"
AXE_SOURCE = REPO_ROOT / "tests" / "interop" / "node" / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "browser test passphrase"
ROLES = ("admin", "analyst", "manager", "employee")
T = TypeVar("T")


@dataclass(frozen=True)
class LiveSite:
    platform: Platform
    org_id: uuid.UUID
    demo: dict[str, uuid.UUID]
    emails: dict[str, str]
    # An admin API token of the organisation, for setting up what the pages then show.
    api_headers: dict[str, str]

    @property
    def taxonomy(self) -> str:
        return self.platform.urls["taxonomy_api"]

    @property
    def issuer(self) -> str:
        return self.platform.urls["badge_issuer"]

    @property
    def gap_engine(self) -> str:
        return self.platform.urls["gap_engine"]


async def _seed(platform: Platform) -> tuple[uuid.UUID, dict[str, uuid.UUID], dict[str, str]]:
    """An organisation with the demo taxonomy and one person per role, written before serving; the
    engine is disposed so the server's own event loop opens its connections."""
    database = platform.taxonomy.state.database
    async with database.sessions() as session:
        organisation = await organisations.create_organisation(session, f"browser-{uuid.uuid4().hex[:8]}")
        demo = await seed_demo_taxonomy(session, organisation.id)
        emails = {}
        for role in ROLES:
            emails[role] = f"{role}.{uuid.uuid4().hex[:6]}@example.com"
            await people.add_user(
                session,
                organisation.id,
                email=emails[role],
                name=f"{role.title()} Person",
                role=role,
                hris_id={"manager": "E-MGR", "employee": "E-100"}.get(role),
                password=PASSWORD,
            )
        await session.commit()
    await database.dispose()
    return organisation.id, demo, emails


def _off_the_browser_thread(work: Callable[[], T]) -> T:
    """Playwright's sync API keeps an event loop on the test thread; set-up that runs its own
    (migrations, seeding) goes to a worker thread."""
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(work).result()


@contextmanager
def platform_with_own_databases(folder: Path, auth_key_file: Path) -> Iterator[Platform]:
    """The three apps on fresh migrated databases of their own (set up off the browser's thread),
    not yet serving; the databases are dropped afterwards."""
    databases_cm = migrated_databases(folder, folder.name)
    databases = _off_the_browser_thread(databases_cm.__enter__)
    try:
        yield build_platform(databases, auth_key_file)
    finally:
        _off_the_browser_thread(lambda: databases_cm.__exit__(None, None, None))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, auth_key_file: Path) -> Iterator[LiveSite]:
    with platform_with_own_databases(tmp_path_factory.mktemp("browser"), auth_key_file) as platform:
        org_id, demo, emails = _off_the_browser_thread(lambda: asyncio.run(_seed(platform)))
        authority = TokenAuthority(
            load_or_create_private_key(auth_key_file, create=False),
            issuer="credstack",
            audience="credstack",
            ttl_seconds=3600,
        )
        token = authority.issue(org_id=org_id, client_id="browser-tests", scopes=frozenset(SCOPES))
        with serving_platform(platform):
            yield LiveSite(
                platform=platform,
                org_id=org_id,
                demo=demo,
                emails=emails,
                api_headers={"Authorization": f"Bearer {token}"},
            )


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for the browser tests, closed after them: Playwright's sync API holds an event
    loop on the test thread while it runs, which the rest of the suite (asyncio.run) must not meet."""
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed for the browser tests (apt-get install -y chromium)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser profile per test; the console's CSP reports are collected, and the last view
    is kept as a screenshot named after the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.csp_violations = []  # type: ignore[attr-defined]
    opened.on(
        "console",
        lambda message: "Content Security Policy" in message.text and opened.csp_violations.append(message.text),
    )
    yield opened
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def serious_accessibility_violations(page: Page) -> list[dict]:
    """axe-core's serious and critical findings on the page as it is now. The script is evaluated
    through the browser's devtools channel, so the page's CSP (rightly) stays strict."""
    page.evaluate(AXE_SOURCE.read_text())
    return page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))"""
    )


def create_issuer(http: httpx.Client, live: LiveSite, name: str) -> dict:
    body = {"name": name, "url": "https://academy.credstack.example", "email": "academy@example.com"}
    response = http.post(f"{live.issuer}/v1/issuers", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def issue(http: httpx.Client, live: LiveSite, issuer: dict, achievement_id: str, learner: dict) -> dict:
    """A credential issued by the live issuer from a passing assessment result; its CredentialOut."""
    result = {
        "learner": learner,
        "achievement_id": achievement_id,
        "issuer_id": issuer["id"],
        "score": 95,
        "completed_at": datetime.now(UTC).isoformat(),
    }
    response = http.post(
        f"{live.issuer}/v1/assessment-results", json=result, headers={"Idempotency-Key": uuid.uuid4().hex}
    )
    assert response.status_code == 201, response.text
    return response.json()["credential"]


def sign_in(page: Page, live: LiveSite, role: str, next_url: str | None = None) -> None:
    target = f"{live.taxonomy}/sign-in" + (f"?next={next_url}" if next_url else "")
    page.goto(target)
    page.get_by_label("Email").fill(live.emails[role])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")
