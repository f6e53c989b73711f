#!/usr/bin/env bash
# A legacy program that can only read its password from a file named in its
# config, pointed at a secret on a read-only mount: it logs in with the right
# password, the mount refuses writes, and a rotation made through a
# read-write mount of the same local store reaches it within the read-only
# mount's cache_ttl. Exits non-zero at the first surprise. INFISICALFS names
# the binary (default: infisicalfs on PATH).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
infisicalfs=${INFISICALFS:-infisicalfs}
[[ $infisicalfs != */* ]] || infisicalfs=$(realpath "$infisicalfs")
cc=$(command -v cc || command -v gcc || command -v clang) || { echo "legacy-config: needs a C compiler" >&2; exit 1; }

work=$(mktemp -d)
rw=$work/rw            # where an operator (or a rotation job) changes secrets
ro=$work/ro            # what the legacy program is given: read-only, cached 1 s
mkdir "$rw" "$ro"
db_pid=""
cleanup() {
  cd /
  # SIGKILL: a test runner may have blocked SIGTERM for its children.
  [[ -z $db_pid ]] || { kill -KILL "$db_pid" 2>/dev/null || true; wait "$db_pid" 2>/dev/null || true; }
  "$infisicalfs" unmount "$ro" 2>/dev/null || true
  "$infisicalfs" unmount "$rw" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "legacy-config: $*" >&2; exit 1; }
expect() {  # expect WHAT ACTUAL EXPECTED
  [[ "$2" == "$3" ]] || fail "$(printf '%s: expected %q, got %q' "$1" "$3" "$2")"
}
wait_for() {  # wait_for SECONDS COMMAND...: until COMMAND succeeds
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

"$cc" -O2 -Wall -Wextra -Werror -o "$work/legacy-client" "$here/legacy-client.c"

# One local store, two mounts: read-write for whoever manages the secret,
# read-only with a 1 s cache for the program.
"$infisicalfs" mount "$rw" --backend local --local-store "$work/store.db"
mkdir "$rw/legacy"
echo 'first-Pa55word' > "$rw/legacy/prod/DB_PASSWORD"
"$infisicalfs" mount "$ro" --backend local --local-store "$work/store.db" --read-only --cache-ttl 1
expect "read-only mode" "$(stat -c %a "$ro/legacy/prod/DB_PASSWORD")" "400"

# The database the program logs in to knows the same password.
printf %s 'first-Pa55word' > "$work/db-password"
python3 "$here/fake_db.py" "$work/db-password" > "$work/db.out" &
db_pid=$!
wait_for 10 grep -q '^PORT ' "$work/db.out" || fail "the database did not start"

# The program's configuration names the secret's file on the read-only mount.
cat > "$work/legacy.conf" <<CONF
# legacy.conf
host = 127.0.0.1
port = $(sed -n 's/^PORT //p' "$work/db.out")
user = reporter
password_file = $ro/legacy/prod/DB_PASSWORD
CONF
expect "login" "$("$work/legacy-client" "$work/legacy.conf")" "OK logged in as reporter"

# The program's side cannot change the secret.
if error=$( { echo x > "$ro/legacy/prod/DB_PASSWORD"; } 2>&1 ); then
  fail "the read-only mount accepted a write"
fi
[[ $error == *"Read-only file system"* ]] || fail "a write to the read-only mount failed with: $error"

# Rotation: the database and the secret change together, through the
# read-write mount. The read-only mount shows the new value once its cached
# one expires (cache_ttl 1 s, plus the kernel's 1 s).
printf %s 'second-Pa55word' > "$work/db-password"
echo 'second-Pa55word' > "$rw/legacy/prod/DB_PASSWORD"
rotated=$SECONDS
logs_in() { [[ "$("$work/legacy-client" "$work/legacy.conf")" == "OK logged in as reporter" ]]; }
wait_for 6 logs_in || fail "the rotated password did not reach the program: $(cat "$ro/legacy/prod/DB_PASSWORD")"
expect "rotated value" "$(cat "$ro/legacy/prod/DB_PASSWORD")" "second-Pa55word"
((SECONDS - rotated <= 4)) || fail "the rotation took $((SECONDS - rotated)) s to show"
echo "legacy-config: ok"
