"""`credstack`: migrate, bootstrap an organisation, seed the demo (into the embedded platform or a
running install), run one service or the embedded platform."""

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from alembic import command

from services.taxonomy_api.cli import STARTER_FRAMEWORKS, add_taxonomy_commands, run_taxonomy_command, starter_paths
from shared.migrations import alembic_config, upgrade
from shared.settings import ServiceSettings

SERVICES = ("taxonomy_api", "badge_issuer", "gap_engine")


def _settings(service: str):  # noqa: ANN202 - each service's own settings class
    if service == "taxonomy_api":
        from services.taxonomy_api.settings import TaxonomySettings

        return TaxonomySettings()
    if service == "badge_issuer":
        from services.badge_issuer.settings import IssuerSettings

        return IssuerSettings()
    from services.gap_engine.settings import GapSettings

    return GapSettings()


def migrate(services: Sequence[str]) -> None:
    for service in services:
        upgrade(service, _settings(service).resolved_database_url)
        print(f"{service}: migrated to head", file=sys.stderr)


def _revision(service: str, message: str) -> None:
    command.revision(alembic_config(service, _settings(service).resolved_database_url), message, autogenerate=True)


def _bootstrap(org_name: str, client_name: str) -> dict[str, str]:
    from services.taxonomy_api.provisioning import bootstrap_organisation

    return asyncio.run(bootstrap_organisation(_settings("taxonomy_api"), org_name, client_name))


APP_FACTORIES = {
    "taxonomy_api": "services.taxonomy_api.app:create_app",
    "badge_issuer": "services.badge_issuer.app:create_app",
    "gap_engine": "services.gap_engine.app:create_app",
}
GRACEFUL_SHUTDOWN_SECONDS = 20


def server_options(settings: ServiceSettings) -> dict[str, Any]:
    """uvicorn's options for one service: graceful shutdown, and forwarded client addresses believed
    only from the proxies the operator names (`forwarded_allow_ips`), none by default."""
    trusted_proxies = settings.forwarded_allow_ips.strip()
    return {
        "proxy_headers": bool(trusted_proxies),
        "forwarded_allow_ips": trusted_proxies or None,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
    }


def run_service(service: str, *, host: str, port: int | None, workers: int) -> None:
    """One service under uvicorn, its settings from the environment. On SIGTERM uvicorn stops accepting,
    lets in-flight requests finish (up to GRACEFUL_SHUTDOWN_SECONDS) and then runs the app's shutdown,
    which stops its background workers."""
    import uvicorn

    settings = _settings(service)
    uvicorn.run(
        APP_FACTORIES[service],
        factory=True,
        host=host,
        port=port or urlsplit(settings.public_base_url).port or 80,
        workers=workers,
        log_level="info",
        **server_options(settings),
    )


def _seed_demo(args: argparse.Namespace) -> int:
    from services import demo_data
    from services.platform import DEMO_CREDENTIALS_FILE, page_urls, seed_running_install

    settings = _settings("taxonomy_api")
    defaults = page_urls(settings)
    urls = demo_data.ServiceUrls(
        (args.taxonomy_url or defaults.taxonomy).rstrip("/"),
        (args.issuer_url or defaults.issuer).rstrip("/"),
        (args.gap_url or defaults.gap_engine).rstrip("/"),
    )
    try:
        asyncio.run(seed_running_install(settings, urls, args.credentials_file or DEMO_CREDENTIALS_FILE))
    except demo_data.DemoSeedError as error:
        print(f"credstack demo: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="credstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    migrate_parser = commands.add_parser("migrate", help="apply database migrations")
    migrate_parser.add_argument(
        "services", nargs="*", metavar="SERVICE", help=f"any of {', '.join(SERVICES)}; all by default"
    )
    bootstrap = commands.add_parser("bootstrap", help="create an organisation and its first admin client")
    bootstrap.add_argument("--org", required=True, help="organisation name")
    bootstrap.add_argument("--client-name", default="admin")
    bootstrap.add_argument(
        "--framework",
        choices=sorted(STARTER_FRAMEWORKS),
        help="start from a framework: "
        + "; ".join(f"{name}: {starter.about}" for name, starter in sorted(STARTER_FRAMEWORKS.items())),
    )
    bootstrap.add_argument("--data", type=Path, help="the folder holding the framework's files")
    add_taxonomy_commands(commands)
    revision = commands.add_parser("revision", help="autogenerate a migration for a service")
    revision.add_argument("service", choices=SERVICES)
    revision.add_argument("message")
    run = commands.add_parser("run", help="run one service (no migration, no demo): what a container or a replica runs")
    run.add_argument("service", choices=SERVICES)
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, help="default: the port of the service's public base URL")
    run.add_argument("--workers", type=int, default=1, help="worker processes (uvicorn)")
    demo = commands.add_parser(
        "demo",
        help="seed the demo organisation into an install that is running: its taxonomy, admin client and "
        "users through the taxonomy database (CREDSTACK_TAXONOMY_DATABASE_URL), its people and evidence "
        "through the three services' APIs",
    )
    demo.add_argument("--taxonomy-url", help="default: CREDSTACK_TAXONOMY_PAGE_URL (http://127.0.0.1:8001)")
    demo.add_argument("--issuer-url", help="default: CREDSTACK_ISSUER_PAGE_URL (http://127.0.0.1:8002)")
    demo.add_argument(
        "--gap-url",
        help="default: CREDSTACK_GAP_PAGE_URL (http://127.0.0.1:8003); the issuer delivers webhooks here, "
        "so it must be reachable from the issuer",
    )
    demo.add_argument(
        "--credentials-file",
        type=Path,
        help="where the demo's admin client and sign-in passwords are kept (mode 600); "
        "default var/demo-credentials.json",
    )
    serve = commands.add_parser("serve", help="migrate, seed the demo organisation, run all three services")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--no-demo", action="store_true", help="do not seed the demo organisation")
    args = parser.parse_args(argv)

    if args.command == "migrate":
        unknown = set(args.services) - set(SERVICES)
        if unknown:
            parser.error(f"unknown service(s) {', '.join(sorted(unknown))}")
        migrate(args.services or SERVICES)
    elif args.command == "bootstrap":
        starter = starter_paths(args.framework, args.data) if args.framework else None
        print(json.dumps(_bootstrap(args.org, args.client_name), indent=2))
        print("Store the client_secret now: only its hash is kept.", file=sys.stderr)
        if starter is not None:
            framework, paths = starter
            return run_taxonomy_command(
                argparse.Namespace(
                    action="import",
                    kind=framework.kind,
                    paths=paths,
                    org=args.org,
                    option=[f"{key}={json.dumps(value)}" for key, value in framework.options.items()],
                    retire_missing=False,
                )
            )
    elif args.command == "taxonomy":
        return run_taxonomy_command(args)
    elif args.command == "revision":
        _revision(args.service, args.message)
    elif args.command == "run":
        run_service(args.service, host=args.host, port=args.port, workers=args.workers)
    elif args.command == "demo":
        return _seed_demo(args)
    elif args.command == "serve":
        from services.platform import serve_platform

        migrate(SERVICES)
        serve_platform(args.host, seed_demo=not args.no_demo)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
