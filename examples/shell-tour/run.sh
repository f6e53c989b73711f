#!/usr/bin/env bash
# The README's tour on a fresh local store; exits non-zero at the first
# surprise. INFISICALFS names the binary (default: infisicalfs on PATH).
set -euo pipefail
infisicalfs=${INFISICALFS:-infisicalfs}
[[ $infisicalfs != */* ]] || infisicalfs=$(realpath "$infisicalfs")
work=$(mktemp -d)
mnt=$work/secrets
mkdir "$mnt"
cleanup() {
  cd /
  "$infisicalfs" unmount "$mnt" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

expect() {  # expect WHAT ACTUAL EXPECTED
  if [[ "$2" != "$3" ]]; then
    printf 'shell-tour: %s: expected %q, got %q\n' "$1" "$3" "$2" >&2
    exit 1
  fi
}

"$infisicalfs" mount "$mnt" --local-store "$work/store.db"
cd "$mnt"

mkdir demo
expect "environments" "$(ls demo | tr '\n' ' ')" "dev prod staging "

echo hunter2 > demo/dev/DB_PASSWORD
expect "cat" "$(cat demo/dev/DB_PASSWORD)" "hunter2"
expect "size" "$(stat -c %s demo/dev/DB_PASSWORD)" "7"
expect "mode" "$(stat -c %a demo/dev/DB_PASSWORD)" "600"

printf -- '-----BEGIN KEY-----\nMIIB\n-----END KEY-----\n' > demo/dev/TLS_KEY
expect "multi-line size" "$(stat -c %s demo/dev/TLS_KEY)" "43"

echo "first" > demo/dev/HOSTS
echo "second" >> demo/dev/HOSTS
expect "append" "$(cat demo/dev/HOSTS | tr '\n' ' ')" "first second "

mkdir demo/dev/db
mv demo/dev/DB_PASSWORD demo/dev/db/
expect "moved" "$(cat demo/dev/db/DB_PASSWORD)" "hunter2"
expect "listing" "$(ls demo/dev | tr '\n' ' ')" "HOSTS TLS_KEY db "

if (echo oops > demo/dev/BAD:NAME) 2>/dev/null; then
  echo "shell-tour: a name with ':' was accepted" >&2
  exit 1
fi

expect "view" "$(grep -c '' demo/dev/.env)" "7"  # HOSTS' three lines and TLS_KEY's four
expect "view value" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["TLS_KEY"], end="")' demo/dev/.json)" \
  "$(cat demo/dev/TLS_KEY)"
expect "xattr" "$(getfattr --only-values -n user.infisical.version demo/dev/TLS_KEY)" "1"
HOME=$work vim -u DEFAULTS -i NONE -N -es -c '%s/MIIB/MIIC/' -c wq demo/dev/TLS_KEY
expect "vim" "$(sed -n 2p demo/dev/TLS_KEY)" "MIIC"
expect "vim: one update" "$(getfattr --only-values -n user.infisical.version demo/dev/TLS_KEY)" "2"
expect "vim: no stray file" "$(ls -A demo/dev | tr '\n' ' ')" "HOSTS TLS_KEY db "
expect "status" "$(python3 -c 'import json; print(json.load(open(".status"))["backend"], end="")')" "local"

rm demo/dev/TLS_KEY
expect "removed" "$(ls demo/dev | tr '\n' ' ')" "HOSTS db "
echo "shell-tour: ok"
