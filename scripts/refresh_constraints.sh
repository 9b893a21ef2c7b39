#!/usr/bin/env bash
# Re-resolve the course's dependencies, run the test suite on them, and only if it passes write
# them to constraints.txt, the lock that the README's two commands and .ci/run install with.
#
#   bash scripts/refresh_constraints.sh [PYTHON]      # default: python3.11
#
# Then commit constraints.txt. Takes about 30 minutes on 2 cores (4 to install, the rest tests).
# The fresh virtual environment is made in a scratch folder and removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:-python3.11}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$python" -m venv "$scratch/venv"
"$scratch/venv/bin/python" -m pip install -q -U pip
# No constraints here: take whatever satisfies pyproject.toml today.
"$scratch/venv/bin/python" -m pip install -q -e ".[test]"
"$scratch/venv/bin/python" -m pytest -q
{
  echo "# Versions the test suite last passed with (Linux x86_64, $("$scratch/venv/bin/python" -V))."
  echo "# Made by scripts/refresh_constraints.sh on $(date -u +%Y-%m-%d); install with pip's -c."
  # Local version labels (torch's +cpu) name a build, not a release: pip matches 2.13.0+cpu to 2.13.0.
  "$scratch/venv/bin/python" -m pip freeze --exclude-editable | sed -E 's/\+[a-z0-9.]+$//'
} > constraints.txt
echo "constraints.txt written: $(grep -vc '^#' constraints.txt) pins"
