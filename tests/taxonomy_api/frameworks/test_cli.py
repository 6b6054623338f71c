"""`credstack taxonomy import` against the taxonomy database, as an operator runs it."""

import json
import uuid

from services.cli import main


def test_bootstrap_starts_usable_and_the_cli_imports_a_csv(database_urls, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CREDSTACK_TAXONOMY_DATABASE_URL", database_urls["taxonomy_api"])
    org = f"cli-{uuid.uuid4().hex[:8]}"
    assert main(["bootstrap", "--org", org]) == 0
    capsys.readouterr()
    skills = tmp_path / "skills.csv"
    skills.write_text("external_id,name,scale\nacme:1,Soldering,0-5\nacme:2,Wiring,kpm\n")
    assert main(["taxonomy", "import", "csv", str(skills), "--org", org]) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out)["applied"]["skills"]["created"] == 2
    assert "skills" in printed.err  # the progress bars

    skills.write_text("external_id,name,scale\nacme:1,Soldering,0-9\n")
    assert main(["taxonomy", "import", "csv", str(skills), "--org", org]) == 1
    assert "skills.csv:2: scale must be 0-5 or kpm" in capsys.readouterr().err


def test_bootstrap_can_start_from_esco_digital(database_urls, monkeypatch, capsys) -> None:
    from tests.material import SHARED_DIR

    monkeypatch.setenv("CREDSTACK_TAXONOMY_DATABASE_URL", database_urls["taxonomy_api"])
    org = f"starter-{uuid.uuid4().hex[:8]}"
    assert main(["bootstrap", "--org", org, "--framework", "esco-digital", "--data", str(SHARED_DIR / "data")]) == 0
    printed = capsys.readouterr().out
    outcome = json.loads(printed[printed.index("}") + 1 :])  # the client's JSON, then the import's
    assert outcome["applied"]["skills"]["created"] == outcome["read"]["skills"] > 1_000
    assert outcome["read"]["roles"] == 0
