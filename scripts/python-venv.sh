#!/usr/bin/env bash
# Creates (idempotently) the Python virtualenv that the tests need, at
# .build/python-venv (git ignores .build): the official Infisical SDKs for the
# test server's conformance suite, PyYAML for the checks of deploy/, and Flask
# for examples/flask-greeting. Installs only when the venv is missing or the
# pins below changed. Prints the venv's python path as its last line:
#   "$(scripts/python-venv.sh | tail -1)" -m pytest Tests/InfisicalTestServer -q
set -euo pipefail
cd "$(dirname "$0")/.."

pins=(
  "pytest==8.3.5"
  "infisical-python==2.3.5"   # infisical_client (Rust core)
  "infisicalsdk==1.0.18"      # infisical_sdk
  "PyYAML==6.0.3"             # Tests/DeployChecks
  "Flask==3.1.3"              # examples/flask-greeting
  "python-dotenv==1.2.1"      # the .env view's tests
)

venv=.build/python-venv
stamp="$venv/.pins"
python=${PYTHON:-python3}
wanted=$(printf '%s\n' "${pins[@]}" "python=$("$python" -c 'import sys; print(sys.version.split()[0])')")

# Debian splits venv/ensurepip out of python3 into python3-venv.
if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  sudo=""
  [[ $(id -u) == 0 ]] || sudo="sudo"
  echo "python-venv: installing python3-venv" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi

if [[ ! -x "$venv/bin/python" ]] || [[ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]]; then
  echo "python-venv: creating $venv" >&2
  rm -rf "$venv"
  mkdir -p .build
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input "${pins[@]}" >&2
  printf '%s\n' "$wanted" >"$stamp"
fi

echo "$PWD/$venv/bin/python"
