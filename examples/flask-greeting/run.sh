#!/usr/bin/env bash
# The SDK docs' Flask greeting, reading /<mount>/<project>/dev/NAME from a
# mount of Infisical (the loopback test server of Tests/InfisicalTestServer,
# logged in to with universal auth): the app greets with the secret, a value
# written through the mount shows at once, and one changed in Infisical shows
# within the mount's cache_ttl. Exits non-zero at the first surprise.
# INFISICALFS names the binary (default: infisicalfs on PATH); Flask comes
# from the test venv (scripts/python-venv.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
infisicalfs=${INFISICALFS:-infisicalfs}
[[ $infisicalfs != */* ]] || infisicalfs=$(realpath "$infisicalfs")
python=$("$repo/scripts/python-venv.sh" | tail -1)
# Only the credentials file below decides who logs in.
for variable in "${!INFISICAL_@}"; do unset "$variable"; done

work=$(mktemp -d)
mnt=$work/secrets
mkdir "$mnt"
server_pid="" app_pid=""
stop() {  # stop PID: SIGKILL, since a test runner may have blocked SIGTERM for its children
  [[ -z $1 ]] || { kill -KILL "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
}
cleanup() {
  cd /
  stop "$app_pid"
  "$infisicalfs" unmount "$mnt" 2>/dev/null || true
  stop "$server_pid"
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "flask-greeting: $*" >&2; exit 1; }
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
get() { curl -sS --noproxy '*' --max-time 5 "$@"; }

# Infisical: a machine identity with universal auth, member of the project
# "greeting" (environments dev, staging, prod).
client_secret=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
cat > "$work/seed.json" <<JSON
{"identities": [{"identityId": "greeting-app", "clientId": "greeting-app-client", "clientSecret": "$client_secret"}],
 "projects": [{"slug": "greeting", "members": ["greeting-app"]}]}
JSON
"$python" "$repo/Tests/InfisicalTestServer/infisical_test_server.py" --port 0 --seed "$work/seed.json" \
  > "$work/server.out" 2> "$work/server.log" &
server_pid=$!
wait_for 10 grep -q '^PORT ' "$work/server.out" || fail "the test server did not start"
site=http://127.0.0.1:$(sed -n 's/^PORT //p' "$work/server.out")

# The credentials go in a file only its owner can read, never on the command line.
install -m 600 /dev/null "$work/infisical.env"
printf 'INFISICAL_UNIVERSAL_AUTH_CLIENT_ID=greeting-app-client\nINFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=%s\n' \
  "$client_secret" > "$work/infisical.env"
"$infisicalfs" mount "$mnt" --site-url "$site" --credentials-file "$work/infisical.env" --cache-ttl 2
expect "projects" "$(ls "$mnt")" "greeting"

echo Alice > "$mnt/greeting/dev/NAME"          # createSecret
expect "cat" "$(cat "$mnt/greeting/dev/NAME")" "Alice"

# The app, on a free loopback port.
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SECRETS_DIR=$mnt PROJECT=greeting "$python" -m flask --app "$here/app.py" run --host 127.0.0.1 --port "$port" \
  > "$work/app.log" 2>&1 &
app_pid=$!
app_up() { kill -0 "$app_pid" 2>/dev/null || fail "the app exited: $(cat "$work/app.log")"; get -f -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; }
wait_for 20 app_up || fail "the app did not answer: $(cat "$work/app.log")"
expect "greeting" "$(get "http://127.0.0.1:$port/")" "Hello! My name is: Alice"

# A value written through the mount (updateSecret) shows at the next request.
echo Bob > "$mnt/greeting/dev/NAME"
expect "after a write through the mount" "$(get "http://127.0.0.1:$port/")" "Hello! My name is: Bob"

# A value changed in Infisical itself (here through the test server's control
# API, as someone would in Infisical's UI) shows within cache_ttl (2 s) plus
# the kernel's 1 s.
get -f -o /dev/null -X POST -H 'Content-Type: application/json' "$site/__test__/secrets" \
  -d '{"projectSlug": "greeting", "environment": "dev", "secretKey": "NAME", "secretValue": "Carol"}'
greets_carol() { [[ "$(get "http://127.0.0.1:$port/")" == "Hello! My name is: Carol" ]]; }
wait_for 10 greets_carol || fail "a value changed in Infisical did not show: $(get "http://127.0.0.1:$port/")"

stop "$app_pid"
app_pid=""
echo "flask-greeting: ok"
