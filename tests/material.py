"""Where the team's read-only reference material (../shared: OB 3.0 schemas, examples, vectors; skills
data) is: beside the checkout, else CREDSTACK_SHARED_DIR, else /work/shared — so a clone placed
anywhere on the build machine still finds it."""

import os
from pathlib import Path


def _shared_dir() -> Path:
    candidates = [Path(__file__).resolve().parents[2] / "shared"]
    if os.environ.get("CREDSTACK_SHARED_DIR"):
        candidates.append(Path(os.environ["CREDSTACK_SHARED_DIR"]))
    candidates.append(Path("/work/shared"))
    return next((path for path in candidates if (path / "ob3").is_dir()), candidates[0])


SHARED_DIR = _shared_dir()
