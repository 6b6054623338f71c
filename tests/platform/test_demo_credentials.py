"""The embedded platform's demo credentials file: the admin client and the three sign-ins, written once
with mode 600 and left alone on later starts."""

import asyncio
import json
import stat

from services import cli, demo_data
from services.platform import prepare_demo
from services.taxonomy_api.settings import TaxonomySettings
from shared.migrations import upgrade


def test_the_demo_credentials_are_made_once_and_kept_private(fresh_database_url, auth_key_file, tmp_path):
    upgrade("taxonomy_api", fresh_database_url)
    settings = TaxonomySettings(database_url=fresh_database_url, auth_private_key_file=auth_key_file)
    path = tmp_path / "demo-credentials.json"

    first = asyncio.run(prepare_demo(settings, path))
    plan = demo_data.build_plan()
    assert first["created"] and stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = json.loads(path.read_text())
    assert {saved["manager_hris_id"], saved["employee_hris_id"]} == {plan.manager_hris_id, plan.employee_hris_id}
    assert all(saved[f"{role}_password"] for role in ("admin", "manager", "employee"))

    again = asyncio.run(prepare_demo(settings, path))
    assert not again["created"] and json.loads(path.read_text()) == saved
    path.unlink()
    assert asyncio.run(prepare_demo(settings, path)) is None  # the organisation exists, its secrets are gone


def test_credstack_demo_stops_when_the_organisation_exists_without_its_credentials(
    fresh_database_url, auth_key_file, tmp_path, monkeypatch, capsys
):
    """`credstack demo` on an install whose demo organisation exists but whose credentials file is gone:
    it says so and exits 1, before calling any service (none is running here)."""
    upgrade("taxonomy_api", fresh_database_url)
    monkeypatch.setenv("CREDSTACK_TAXONOMY_DATABASE_URL", fresh_database_url)
    monkeypatch.setenv("CREDSTACK_AUTH_PRIVATE_KEY_FILE", str(auth_key_file))
    path = tmp_path / "demo-credentials.json"
    asyncio.run(prepare_demo(TaxonomySettings(), path))
    path.unlink()

    unreachable = ("--taxonomy-url", "http://127.0.0.1:9", "--issuer-url", "http://127.0.0.1:9")
    status = cli.main(["demo", *unreachable, "--gap-url", "http://127.0.0.1:9", "--credentials-file", str(path)])
    assert status == 1
    assert f"the demo organisation exists but {path}" in capsys.readouterr().err
    assert not path.exists()
