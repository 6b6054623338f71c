"""The image ships the locked runtime dependencies: each one's licence must let others run and extend
CredStack under Apache-2.0 (LICENSE). Permissive licences, and weak copyleft for packages shipped
unmodified (MPL-2.0 files, LGPL-3.0 frozendict via pyld), pass; anything else fails here."""

import importlib.metadata
import re
import tomllib

from tests.deploy.deployment_files import REPO

PERMISSIVE = {
    "0BSD",
    "Apache-2.0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "CC0-1.0",
    "ISC",
    "MIT",
    "MIT-0",
    "MIT-CMU",
    "PSF-2.0",
    "Zlib",
}
# Copyleft at the file or library level: fine to ship unmodified beside Apache-2.0 code.
WEAK_COPYLEFT = {"MPL-2.0", "LGPL-3.0-only"}
# What older metadata says instead of an SPDX expression.
LEGACY_NAMES = {
    "MIT License": "MIT",
    "BSD 3-Clause license": "BSD-3-Clause",
    "BSD License": "BSD-3-Clause",
    "PSFL": "PSF-2.0",
    "Python Software Foundation License": "PSF-2.0",
    "Apache Software License": "Apache-2.0",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
}


def runtime_packages() -> set[str]:
    """The project's locked runtime closure (what `uv sync --frozen --no-dev` installs), extras
    included, packages behind a platform marker the image does not match left out."""
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    packages = {package["name"]: package for package in lock["package"]}
    wanted = [dict(edge) for edge in packages["credstack"]["dependencies"]]
    seen: set[str] = set()
    while wanted:
        edge = wanted.pop()
        name = edge["name"]
        if "sys_platform == 'win32'" in edge.get("marker", "") or name in seen:
            continue
        seen.add(name)
        package = packages[name]
        wanted += package.get("dependencies", [])
        for extra in edge.get("extra", []):
            wanted += package.get("optional-dependencies", {}).get(extra, [])
    return seen


def licences_of(name: str) -> set[str]:
    metadata = importlib.metadata.metadata(name)
    # License-Expression (PEP 639), else a short License field (older metadata; long ones are full texts).
    expression = metadata.get("License-Expression") or ""
    legacy = (metadata.get("License") or "").strip()
    if not expression and len(legacy) < 80 and "\n" not in legacy:
        expression = legacy
    if expression:
        if expression in LEGACY_NAMES:
            return {LEGACY_NAMES[expression]}
        return {
            token for token in re.split(r"[\s()]+|\bAND\b|\bOR\b", expression) if token and token not in {"AND", "OR"}
        }
    classifiers = [
        c.split("::")[-1].strip() for c in metadata.get_all("Classifier") or [] if c.startswith("License ::")
    ]
    return {LEGACY_NAMES.get(classifier, classifier) for classifier in classifiers}


def test_every_runtime_dependency_is_compatible_with_apache_2() -> None:
    packages = runtime_packages()
    assert {"fastapi", "cryptography", "pyld", "asyncpg"} <= packages  # the walk reached the tree
    refused = {}
    for name in sorted(packages):
        found = licences_of(name)
        if not found or not found <= PERMISSIVE | WEAK_COPYLEFT:
            refused[name] = sorted(found)
    assert refused == {}


def test_the_project_is_apache_2() -> None:
    text = (REPO / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License") and "Version 2.0, January 2004" in text
