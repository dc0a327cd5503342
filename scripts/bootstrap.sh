# Sourced by scripts/test and scripts/serve: make .venv and install the project into it.
# Usage: source bootstrap.sh [EXTRAS]   e.g. "test"; installs again only when pyproject.toml
# or constraints.txt changed since the last install of those extras. Every package is
# installed at the version constraints.txt pins (the versions the suite was run with).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
fi
hash=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
extras=${1:-}
if [ ! -f ".venv/.installed-$hash-${extras:-base}" ] && [ ! -f ".venv/.installed-$hash-test" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check \
        -c constraints.txt -e ".${extras:+[$extras]}"
    find .venv -maxdepth 1 -name '.installed-*' ! -name ".installed-$hash-*" -delete
    touch ".venv/.installed-$hash-${extras:-base}"
fi
if [ "$extras" = test ]; then
    # Chromium, Node.js and npm for tests/browser, from Debian when root; when they cannot be
    # installed the suite still runs, and the browser tests fail saying what to install.
    scripts/setup-browser || true
    scripts/setup-pgbouncer || true  # tests/pgbouncer fails saying what to install
fi
