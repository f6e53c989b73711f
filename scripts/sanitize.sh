#!/usr/bin/env bash
# Runs the Swift tests under a sanitizer (docs/TESTING.md, "Sanitizers"):
#   scripts/sanitize.sh [address|thread] [--mount]
# Builds everything with --sanitize=<s> in .build-<s> (apart from .build, so
# the ordinary build is untouched) and runs the unit tests; with --mount
# (address only), the mount tests and examples too (INFISICALFS_MOUNT_TESTS=1),
# mounting the sanitized infisicalfs binary, so the daemon is checked as well
# as the tests.
# Every sanitized process (the test runner, each daemon, each CLI run) writes
# its reports to .build-<s>/reports/; any report fails the run, whatever the
# tests said. Suppressions, each explained: scripts/sanitizers/.
set -euo pipefail
cd "$(dirname "$0")/.."

sanitizer=${1:-address}
mount=0
case "${2:-}" in
  --mount) mount=1 ;;
  "") ;;
  *) echo "usage: scripts/sanitize.sh [address|thread] [--mount]" >&2; exit 2 ;;
esac
case "$sanitizer" in
  address | thread) ;;
  *) echo "usage: scripts/sanitize.sh [address|thread] [--mount]" >&2; exit 2 ;;
esac

if [[ $sanitizer == thread ]] && ((mount)); then
  # Measured (docs/TESTING.md): libfuse stops its worker threads with
  # pthread_cancel while they block reading /dev/fuse, inside TSan's
  # interceptor, so every daemon dies at unmount with "thread finished with
  # ignores enabled" and leaves its mount behind.
  echo "sanitize.sh: the daemon cannot run under ThreadSanitizer (libfuse cancels its workers); run 'thread' without --mount" >&2
  exit 2
fi

scratch=.build-$sanitizer
reports="$PWD/$scratch/reports"
rm -rf "$reports"
mkdir -p "$reports"
flags=(--sanitize="$sanitizer" --scratch-path "$scratch")

start=$SECONDS
echo "sanitize.sh: building with --sanitize=$sanitizer in $scratch"
swift build --build-tests "${flags[@]}"
echo "sanitize.sh: built in $((SECONDS - start)) s"

# halt_on_error: the first report ends the process. log_path: each process
# writes its reports to reports/<kind>.<pid>, which the check below reads
# (a daemon's stderr goes to a test's log, where nobody would see them).
supp="$PWD/scripts/sanitizers"
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:log_path=$reports/asan"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp:log_path=$reports/tsan"
# Swift's backtracer on a crash would race the sanitizer's own report.
export SWIFT_BACKTRACE=enable=no

status=0
start=$SECONDS
if ((mount)); then
  python=$(scripts/python-venv.sh | tail -1)
  binary="$(swift build "${flags[@]}" --show-bin-path)/infisicalfs"
  INFISICALFS_MOUNT_TESTS=1 INFISICALFS_PYTHON="$python" INFISICALFS_BINARY="$binary" \
    swift test --skip-build "${flags[@]}" || status=$?
else
  swift test --skip-build "${flags[@]}" --skip MountTests || status=$?
fi
echo "sanitize.sh: tests ran in $((SECONDS - start)) s (status $status)"

shopt -s nullglob
found=("$reports"/*)
if ((${#found[@]})); then
  echo "sanitize.sh: ${#found[@]} process(es) reported under --sanitize=$sanitizer:" >&2
  for report in "${found[@]}"; do
    echo "=== $report" >&2
    cat "$report" >&2
  done
  status=1
fi
((status == 0)) && echo "sanitize.sh: no $sanitizer sanitizer report"
exit $status
