"""The embedded platform: the three services in one process, on SQLite under var/, seeded with a demo."""

import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import uvicorn

from services import demo_data
from services.badge_issuer.app import create_app as create_issuer
from services.gap_engine.app import create_app as create_gap_engine
from services.taxonomy_api.app import create_app as create_taxonomy
from services.taxonomy_api.cli import DEFAULT_DATA_DIR
from services.taxonomy_api.provisioning import seed_demo_organisation
from services.taxonomy_api.settings import TaxonomySettings
from shared.settings import VAR_DIR

READY_SECONDS = 60.0
DEMO_CREDENTIALS_FILE = VAR_DIR / "demo-credentials.json"
SIGN_INS = (("admin", "the organisation's admin"), ("manager", "a team lead"), ("employee", "an agent"))


def _port(app) -> int:  # noqa: ANN001
    return urlsplit(app.state.settings.public_base_url).port or 80


def _read(path: Path) -> dict[str, str] | None:
    return json.loads(path.read_text()) if path.exists() else None


def _write(path: Path, credentials: dict[str, str]) -> None:
    path.write_text(json.dumps(credentials, indent=2))
    path.chmod(0o600)


async def prepare_demo(settings: TaxonomySettings, path: Path) -> dict[str, str] | None:
    """The demo organisation's taxonomy, admin client and sign-in users (created once), kept with
    their passwords in `path` (mode 600); None when the organisation exists but the file is gone."""
    seeded = await seed_demo_organisation(settings)
    credentials = seeded or _read(path)
    if credentials is None:
        return None
    created = await demo_data.ensure_demo_users(settings, uuid.UUID(credentials["org_id"]), demo_data.build_plan())
    if seeded or created:
        credentials |= created
        _write(path, credentials)
    return credentials | {"created": bool(created)}


def _announce(credentials: dict[str, str], path: Path, sign_in_url: str) -> None:
    print(f"Sign in to the pages at {sign_in_url} (the demo's credentials are in {path}):", file=sys.stderr)
    for role, who in SIGN_INS:
        email = credentials.get(f"{role}_email")
        if email:
            shown = credentials[f"{role}_password"] if credentials["created"] else "(in the file)"
            print(f"  {role:<8} {email}  password {shown}  ({who})", file=sys.stderr)


async def _wait_ready(urls: list[str]) -> None:
    deadline = time.monotonic() + READY_SECONDS
    async with httpx.AsyncClient(timeout=2.0) as http:
        for url in urls:
            while True:
                try:
                    if (await http.get(f"{url}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise demo_data.DemoSeedError(f"{url}/readyz did not answer 200 within {READY_SECONDS:.0f} s")
                await asyncio.sleep(0.2)


async def seed_and_show(
    urls: demo_data.ServiceUrls, pages: demo_data.ServiceUrls, credentials: dict[str, str], path: Path
) -> demo_data.DemoSummary:
    """The demo's people and evidence through the services' APIs at `urls`, then what was seeded and
    where to look (`pages`: the URLs people open, which may differ from those this machine calls)."""
    summary = await demo_data.seed_demo_people(
        urls, uuid.UUID(credentials["org_id"]), credentials["client_id"], credentials["client_secret"]
    )
    print(summary.line(), file=sys.stderr)
    for line in demo_data.where_to_look(pages, demo_data.build_plan(), str(path)):
        print(line, file=sys.stderr)
    return summary


def page_urls(settings: TaxonomySettings) -> demo_data.ServiceUrls:
    return demo_data.ServiceUrls(settings.taxonomy_page_url, settings.issuer_page_url, settings.gap_page_url)


async def _seed_when_ready(
    urls: demo_data.ServiceUrls, pages: demo_data.ServiceUrls, credentials: dict[str, str], path: Path
) -> None:
    """Never raises: a demo that cannot be seeded is reported, and the services go on serving."""
    try:
        await _wait_ready([urls.taxonomy, urls.issuer, urls.gap_engine])
        await seed_and_show(urls, pages, credentials, path)
    except Exception as error:  # noqa: BLE001 - a failed demo must not take the services down with it
        print(f"The demo organisation's people were not seeded: {error!r}", file=sys.stderr)


async def seed_running_install(settings: TaxonomySettings, urls: demo_data.ServiceUrls, path: Path) -> None:
    """`credstack demo`: the demo organisation's taxonomy, admin client and sign-in users written
    through the taxonomy database (as `serve` and `bootstrap` do: no API creates an organisation), then
    its people and evidence through the APIs of the services already running at `urls`."""
    credentials = await prepare_demo(settings, path)
    if credentials is None:
        raise demo_data.DemoSeedError(
            f"the demo organisation exists but {path} (its admin client's secret) is gone; "
            "pass the file that `credstack serve` or an earlier `credstack demo` wrote"
        )
    _announce(credentials, path, f"{urls.taxonomy}/sign-in")
    await _wait_ready([urls.taxonomy, urls.issuer, urls.gap_engine])
    await seed_and_show(urls, urls, credentials, path)


async def _serve(host: str, seed_demo: bool) -> None:
    credentials = None
    settings, path = TaxonomySettings(), DEMO_CREDENTIALS_FILE
    if seed_demo:
        credentials = await prepare_demo(settings, path)
        if credentials is None:
            print(f"The demo organisation exists but {path} is gone: its people are not seeded.", file=sys.stderr)
        else:
            _announce(credentials, path, f"{settings.taxonomy_page_url}/sign-in")
    taxonomy_settings = TaxonomySettings()
    if taxonomy_settings.gap_engine_url is None:
        # One machine: a publication asks the platform's own gap engine to follow it.
        taxonomy_settings = taxonomy_settings.model_copy(update={"gap_engine_url": taxonomy_settings.gap_page_url})
    if not taxonomy_settings.import_roots and DEFAULT_DATA_DIR.is_dir():
        # The frameworks' files beside the checkout, importable by server path on this machine.
        taxonomy_settings = taxonomy_settings.model_copy(update={"import_roots": [str(DEFAULT_DATA_DIR)]})
    apps = [create_taxonomy(taxonomy_settings), create_issuer(), create_gap_engine()]
    servers = [
        uvicorn.Server(uvicorn.Config(app, host=host, port=_port(app), log_config=None, access_log=False))
        for app in apps
    ]
    for app in apps:
        print(f"{app.title}: http://{host}:{_port(app)}/docs", file=sys.stderr)
    # The seed calls the services on loopback, whatever interface they listen on.
    loopback = "127.0.0.1" if host in ("0.0.0.0", "::", "localhost") else host  # noqa: S104
    taxonomy, issuer, gap = (f"http://{loopback}:{_port(app)}" for app in apps)
    tasks = [server.serve() for server in servers]
    if credentials is not None:
        tasks.append(
            _seed_when_ready(demo_data.ServiceUrls(taxonomy, issuer, gap), page_urls(settings), credentials, path)
        )
    await asyncio.gather(*tasks)


def serve_platform(host: str, *, seed_demo: bool) -> None:
    asyncio.run(_serve(host, seed_demo))
