#!/usr/bin/env bash
# The whole test suite: dependencies (Debian packages, and a Python venv with
# the official Infisical SDKs), the import map, the Infisical test server's
# conformance with those SDKs, a warnings-as-errors build, the checks of
# deploy/, unit tests, and the tests that mount the file system for real
# (they need root or fusermount3, and /dev/fuse), examples/ included, a short
# fuzzing run and the unit tests under AddressSanitizer. Fails if a test
# leaves a mount behind.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/lint-imports.sh

leftover_mounts() { grep -E '^infisicalfs ' /proc/mounts || true; }
before=$(leftover_mounts)

status=0

# The Infisical test server, judged by the official Python SDKs.
python=$(scripts/python-venv.sh | tail -1)
"$python" -m pytest Tests/InfisicalTestServer -q || status=$?

swift build --build-tests
# deploy/ (Dockerfile, compose, Kubernetes), checked without a container
# engine; after the build, so the CLI's own parser judges their options.
INFISICALFS="$PWD/.build/debug/infisicalfs" "$python" -m pytest Tests/DeployChecks -q || status=$?
INFISICALFS_MOUNT_TESTS=1 INFISICALFS_PYTHON="$python" swift test --skip-build || status=$?

# Fuzzing, bounded: each libFuzzer target for FUZZ_SECONDS (20) from its seed
# corpus; a crash or a broken invariant fails the run. Then the unit tests
# under AddressSanitizer (about 2 minutes on 2 cores). docs/TESTING.md has the
# rest (TSan, the mount tests under a sanitizer, longer fuzzing).
scripts/fuzz.sh "${FUZZ_SECONDS:-20}" || status=$?
scripts/sanitize.sh address || status=$?

after=$(leftover_mounts)
if [[ "$after" != "$before" ]]; then
  echo "test.sh: the tests left mounts behind:" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  status=1
fi
exit $status
