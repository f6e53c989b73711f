#!/usr/bin/env bash
# Fails when an import crosses the module map of docs/DESIGN.md: each C
# library is imported by its one wrapper module only, the file-system core
# never sees libfuse's C API, FuseKit knows no secrets, and backends know no
# errno.
set -euo pipefail
cd "$(dirname "$0")/.."

# module -> modules it may import (besides the toolchain's Foundation,
# Glibc, Synchronization, Dispatch and Testing).
declare -A allowed=(
  [Logging]=""
  [FuseKit]="CFuse Logging"
  [SecretCrypto]="COpenSSL"
  [SecretsCore]="Logging"
  [LocalStore]="CSQLite SecretCrypto SecretsCore Logging"
  [HTTPClient]="CCurl Logging"
  [InfisicalAPI]="HTTPClient SecretsCore SecretCrypto Logging"
  [InfisicalFS]="FuseKit SecretsCore SecretCrypto Logging"
  [InfisicalFSCLI]="InfisicalFS FuseKit SecretsCore LocalStore InfisicalAPI HTTPClient Logging"
  [infisicalfs]="InfisicalFSCLI FuseKit"
  [TestSupport]="SecretsCore"
  [FuzzTargets]="InfisicalFSCLI InfisicalFS InfisicalAPI HTTPClient FuseKit SecretsCore SecretCrypto TestSupport Logging"
  [InfisicalFSFuzz]="FuzzTargets"
)
toolchain=" Foundation FoundationEssentials Glibc Darwin Synchronization Dispatch Testing XCTest "

status=0
for dir in Sources/*/; do
  module=$(basename "$dir")
  [[ -v allowed[$module] ]] || {
    [[ $module == C* ]] && continue  # the C modules themselves
    echo "lint-imports: $module is not in the module map (scripts/lint-imports.sh, docs/DESIGN.md)"
    status=1
    continue
  }
  while IFS=: read -r file line text; do
    imported=$(sed -E 's/^[[:space:]]*(@[A-Za-z_]+(\([^)]*\))?[[:space:]]+)*((public|package|internal|fileprivate|private)[[:space:]]+)?import[[:space:]]+(struct[[:space:]]+|class[[:space:]]+|enum[[:space:]]+|func[[:space:]]+)?([A-Za-z0-9_]+).*/\6/' <<<"$text")
    [[ $toolchain == *" $imported "* ]] && continue
    [[ " ${allowed[$module]} " == *" $imported "* ]] && continue
    echo "lint-imports: $file:$line: $module may not import $imported"
    status=1
  done < <(grep -rnE '^[[:space:]]*(@[A-Za-z_]+(\([^)]*\))?[[:space:]]+)*((public|package|internal|fileprivate|private)[[:space:]]+)?import[[:space:]]' "$dir" --include='*.swift' || true)
done

# C modules are never imported by tests either, except through their wrapper.
if grep -rnE '^[[:space:]]*((public|internal|private)[[:space:]]+)?import[[:space:]]+(CFuse|COpenSSL|CSQLite|CCurl)\b' Tests; then
  echo "lint-imports: tests may not import a C module"
  status=1
fi
[[ $status == 0 ]] && echo "lint-imports: ok"
exit $status
