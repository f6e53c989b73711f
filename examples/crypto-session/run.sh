#!/usr/bin/env bash
# The /.crypto shell session of docs/crypto.md, checked: a key, an encryption
# and its decryption with cat, echo > and jq, the same request through one
# open descriptor, a test vector of the official SDK, and a refused request.
# Exits non-zero at the first surprise. INFISICALFS names the binary
# (default: infisicalfs on PATH).
set -euo pipefail
infisicalfs=${INFISICALFS:-infisicalfs}
[[ $infisicalfs != */* ]] || infisicalfs=$(realpath "$infisicalfs")
command -v jq >/dev/null || { echo "crypto-session: needs jq (apt-get install jq)" >&2; exit 1; }
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
    printf 'crypto-session: %s: expected %q, got %q\n' "$1" "$3" "$2" >&2
    exit 1
  fi
}

# Any mount has /.crypto; the local store needs no network. It must be
# read-write: on a read-only mount only key works.
"$infisicalfs" mount "$mnt" --backend local --local-store "$work/store.db"
cd "$mnt/.crypto"
expect "files" "$(ls | tr '\n' ' ')" "decrypt encrypt key "

# key: a fresh base64 256-bit key for every open, no newline after it.
key=$(cat key)
expect "key length" "${#key}" "44"
expect "key bytes" "$(printf %s "$key" | base64 -d | wc -c)" "32"
[[ "$(cat key)" != "$key" ]] || { echo "crypto-session: two opens gave the same key" >&2; exit 1; }

# encrypt: write a request, read the result (the same user's next open of the
# file reads it). jq builds the JSON, so any plaintext is quoted right.
plaintext='Grüße, world: "quoted" & multi
line'
jq -cn --arg key "$key" --arg plaintext "$plaintext" '{key: $key, plaintext: $plaintext}' > encrypt
result=$(cat encrypt)
expect "result fields" "$(jq -r 'keys_unsorted | join(" ")' <<<"$result")" "ciphertext iv tag"
expect "iv bytes" "$(jq -r .iv <<<"$result" | base64 -d | wc -c)" "12"
expect "tag bytes" "$(jq -r .tag <<<"$result" | base64 -d | wc -c)" "16"
expect "ciphertext bytes" "$(jq -r .ciphertext <<<"$result" | base64 -d | wc -c)" "$(printf %s "$plaintext" | wc -c)"
[[ "$(cat encrypt)" == "$result" ]] || { echo "crypto-session: reading the result again changed it" >&2; exit 1; }

# decrypt: the result with the key added is a decrypt request; the plaintext
# comes back byte for byte.
jq -c --arg key "$key" '. + {key: $key}' <<<"$result" > decrypt
expect "round trip" "$(cat decrypt)" "$plaintext"

# The same on one descriptor: write, then read the result from its first byte.
exec 3<> encrypt
jq -cn --arg key "$key" '{key: $key, plaintext: "on one descriptor"}' >&3
second=$(cat <&3)
exec 3>&-
jq -c --arg key "$key" '. + {key: $key}' <<<"$second" > decrypt
expect "one descriptor" "$(cat decrypt)" "on one descriptor"

# What the official SDK (infisical-python 2.3.5) encrypted decrypts here.
echo '{"key": "iicjnnolN1xeCS3TjA78QOMeDYOifwb66XhadolYB/g=", "ciphertext": "LeRv9rWxS9Tl9Gwr", "iv": "GzrsCOMYrJdZm87z", "tag": "GAzPhdCdE2m3MSxXx8KRsQ=="}' > decrypt
expect "SDK vector" "$(cat decrypt)" "hello, world"

# A wrong key: the write is refused (EINVAL) and the reason can be read back.
wrong=$(cat key)
if jq -c --arg key "$wrong" '. + {key: $key}' <<<"$result" > decrypt 2>/dev/null; then
  echo "crypto-session: a wrong key was accepted" >&2
  exit 1
fi
expect "refusal" "$(jq -r .error < decrypt)" "decryption failed: wrong key, iv or tag, or the ciphertext was altered"

# key cannot be written.
if (echo x > key) 2>/dev/null; then
  echo "crypto-session: key accepted a write" >&2
  exit 1
fi
echo "crypto-session: ok"
