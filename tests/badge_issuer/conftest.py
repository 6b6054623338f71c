"""Fixtures shared by the badge issuer tests."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

DATA_DIR = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def ob3_dir() -> Path:
    """The official OB 3.0 material (contexts, schemas, examples, vectors) in /work/shared/ob3."""
    path = Path(__file__).resolve().parents[3] / "shared" / "ob3"
    assert path.is_dir(), f"OB 3.0 reference material not found at {path}"
    return path


@pytest.fixture(scope="session")
def _sample_credential() -> dict[str, Any]:
    return json.loads((DATA_DIR / "sample-credential.json").read_text(encoding="utf-8"))


@pytest.fixture
def sample_credential(_sample_credential: dict[str, Any]) -> dict[str, Any]:
    """An unsigned OB 3.0 credential shaped like the ones the issuer emits (a fresh copy)."""
    return copy.deepcopy(_sample_credential)


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
