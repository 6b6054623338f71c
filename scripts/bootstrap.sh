# Sourced by the other scripts: installs uv (pinned) if missing and syncs the locked environment.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export UV_PYTHON_DOWNLOADS=never   # use the machine's Python 3.11
export PATH="$HOME/.local/bin:$PATH"
UV_VERSION=0.13.8
if ! command -v uv >/dev/null 2>&1 || [ "$(uv --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  python3 -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION" \
    || python3 -m pip install --quiet --user --disable-pip-version-check "uv==$UV_VERSION"
fi
uv sync --frozen --quiet  # never "$@": sourcing scripts pass their own arguments through
