"""The embedded platform: the three services in one process, on SQLite under var/, seeded with a demo."""

import asyncio
import json
import sys
from urllib.parse import urlsplit

import uvicorn

from services.badge_issuer.app import create_app as create_issuer
from services.gap_engine.app import create_app as create_gap_engine
from services.taxonomy_api.app import create_app as create_taxonomy
from services.taxonomy_api.provisioning import seed_demo_organisation
from services.taxonomy_api.settings import TaxonomySettings
from shared.settings import VAR_DIR


def _port(app) -> int:  # noqa: ANN001
    return urlsplit(app.state.settings.public_base_url).port or 80


async def _serve(host: str, seed_demo: bool) -> None:
    if seed_demo:
        credentials = await seed_demo_organisation(TaxonomySettings())
        if credentials:
            path = VAR_DIR / "demo-credentials.json"
            path.write_text(json.dumps(credentials, indent=2))
            path.chmod(0o600)
            print(f"Demo organisation seeded; its admin client is in {path}", file=sys.stderr)
            print(
                f"Sign in to the pages at {TaxonomySettings().taxonomy_page_url}/sign-in as "
                f"{credentials['admin_email']} with the password {credentials['admin_password']} (also in {path})",
                file=sys.stderr,
            )
    apps = [create_taxonomy(), create_issuer(), create_gap_engine()]
    servers = [
        uvicorn.Server(uvicorn.Config(app, host=host, port=_port(app), log_config=None, access_log=False))
        for app in apps
    ]
    for app in apps:
        print(f"{app.title}: http://{host}:{_port(app)}/docs", file=sys.stderr)
    await asyncio.gather(*(server.serve() for server in servers))


def serve_platform(host: str, *, seed_demo: bool) -> None:
    asyncio.run(_serve(host, seed_demo))
