#!/usr/bin/env bash
# The whole test suite: dependencies, the import map, a warnings-as-errors
# build, unit tests, and the tests that mount the file system for real
# (they need root or fusermount3, and /dev/fuse). Fails if a test leaves a
# mount behind.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/lint-imports.sh

leftover_mounts() { grep -E '^infisicalfs ' /proc/mounts || true; }
before=$(leftover_mounts)

swift build --build-tests
status=0
INFISICALFS_MOUNT_TESTS=1 swift test --skip-build || status=$?

after=$(leftover_mounts)
if [[ "$after" != "$before" ]]; then
  echo "test.sh: the tests left mounts behind:" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  status=1
fi
exit $status
