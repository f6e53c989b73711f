#!/usr/bin/env bash
# The benchmark of issue 5, in one command: builds infisicalfs (release) and
# the C parts (Benchmarks/bench.c, the timed loops; Benchmarks/cfs.c, a
# minimal libfuse3 low-level file system, the cost floor of FUSE), mounts
# infisicalfs (local store, read-write and --read-only; Infisical backend
# against Tests/InfisicalTestServer), the C file system and a tmpfs copy of
# the same tree, measures, prints Markdown tables with the targets of issue
# 5 next to each figure, and cleans up (unmounts, stops every process it
# started) however it ends. docs/performance.md explains every row.
#
#   scripts/bench.sh                 # full run: 1 s loops, medians of 5 runs
#   BENCH_QUICK=1 scripts/bench.sh   # quick run: 0.2 s loops, 1 run, 3 starts
#
# Environment (all optional):
#   BENCH_SECONDS=1  BENCH_RUNS=5    length of one timed loop, runs per median
#   BENCH_STARTS=10                  mounts timed for "mount to first answer"
#   BENCH_SMALL=1000 BENCH_BIG=10000 files in /p/dev/d and /p/dev/big (<= 99999)
#   BENCH_SKIP_BUILD=1               use the existing .build/release/infisicalfs
# Needs: /dev/fuse and root or fusermount3, gcc, pkg-config + libfuse3-dev,
# python3, curl. Network: 127.0.0.1 only.
set -euo pipefail

# ---------------------------------------------------------------------------
# Kernel-cache settings of the C file system (Benchmarks/cfs.c switches).
# They MUST match what infisicalfs does, as documented in docs/SEMANTICS.md
# ("Caching and freshness", the kernel rows), so that "infisicalfs / C"
# compares the same semantics. Change them together with infisicalfs's choices.
# infisicalfs as of "Read-only mounts read without opening" (no-open on ro):
#   - entry/attr timeout of secrets and folders = what is left of the cached
#     listing's freshness (up to cache_ttl, 300 s by default); 1 s for
#     projects and environments          -> --timeout 300 (steady state)
#   - every open on a read-write mount reads through the daemon (direct_io,
#     its own snapshot); read-only mounts read without opening, pages kept
#                                          -> --direct-io on the rw side,
#                                             --keep-cache on both
#   - no FLUSH for read-only opens        -> --noflush (the benchmark only reads)
#   - OPEN is answered on read-write mounts; --read-only mounts read
#     without opening (ENOSYS to OPEN and FLUSH: no OPEN, FLUSH, RELEASE)
#                                          -> --no-open on the ro side only
#   - cache_readdir on every opendir, keep_cache while the names are the same
#                                          -> --cache-readdir
#   - FUSE_CAP_AUTO_INVAL_DATA cleared    -> --no-auto-inval
#   - 64 worker threads                   -> --threads 64
# (Before that commit: --timeout 1 --threads 16, nothing else.)
CFS_COMMON_FLAGS="--timeout 300 --keep-cache --noflush --cache-readdir --no-auto-inval --threads 64"
CFS_RW_FLAGS="$CFS_COMMON_FLAGS --direct-io"
CFS_RO_FLAGS="$CFS_COMMON_FLAGS --ro --no-open"
# ---------------------------------------------------------------------------

cd "$(dirname "$0")/.."
REPO=$(pwd)
SCRIPT_START=$(date +%s.%N)

if [[ "${BENCH_QUICK:-0}" == 1 ]]; then
  SECS=${BENCH_SECONDS:-0.2}; RUNS=${BENCH_RUNS:-1}; STARTS=${BENCH_STARTS:-3}
else
  SECS=${BENCH_SECONDS:-1}; RUNS=${BENCH_RUNS:-5}; STARTS=${BENCH_STARTS:-10}
fi
SMALL=${BENCH_SMALL:-1000}
BIG=${BENCH_BIG:-10000}
COLD=32
DELAY=0.2

# Only 127.0.0.1 is contacted: no proxy may capture it, and no credential
# from the caller's environment may select or log in to a real Infisical.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
unset INFISICAL_ACCESS_TOKEN INFISICAL_UNIVERSAL_AUTH_CLIENT_ID INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET
unset INFISICAL_SITE_URL INFISICAL_SSL_CERTIFICATE INFISICALFS_STORE_KEY

log() { printf 'bench: %s\n' "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

for tool in gcc pkg-config python3 curl fusermount3; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done
[[ -c /dev/fuse ]] || fail "/dev/fuse is missing"
pkg-config --exists fuse3 || fail "libfuse3-dev is not installed (pkg-config fuse3)"

# --- work area and cleanup --------------------------------------------------
WORK=$(mktemp -d /tmp/infisicalfs-bench.XXXXXX)
TMPFS=""
TMPFS_MOUNTED=0
PIDS=()      # every background process started here
MOUNTS=()    # every mountpoint used here

cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  local m pid
  for m in "${MOUNTS[@]}"; do
    if grep -q " $m " /proc/mounts; then
      fusermount3 -u "$m" 2>/dev/null || umount "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null
    fi
  done
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  # Detached mounts re-parent their daemon: find ours by the unique work path.
  for pid in $(grep -l -a -F "$WORK" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
    [[ "$pid" != "$$" && "$pid" != "$BASHPID" ]] && kill "$pid" 2>/dev/null
  done
  for _ in $(seq 50); do
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [[ $alive == 0 ]] && break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
  if [[ $TMPFS_MOUNTED == 1 ]]; then umount "$TMPFS"; fi
  if ! grep -q -F "$WORK" /proc/mounts; then rm -rf "$WORK"; else log "left $WORK: still mounted"; fi
  [[ -n "$TMPFS" && $TMPFS_MOUNTED == 0 ]] && rm -rf "$TMPFS"
  if [[ $status != 0 ]]; then
    log "exit status $status; logs were in $WORK/logs (removed)"
  fi
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$WORK/bin" "$WORK/logs"

# Show a log's end when a step fails.
show_log() { log "--- $1"; tail -n 20 "$1" >&2 || true; }

# --- machine ----------------------------------------------------------------
busy_builds() { ps -eo args= | awk '/(^|\/)swift-(build|frontend|driver)( |$)|^swiftc / {n++} END {print n + 0}'; }

# --- build ------------------------------------------------------------------
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  log "building infisicalfs (swift build -c release)"
  swift build -c release --product infisicalfs >"$WORK/logs/swift-build.log" 2>&1 \
    || { show_log "$WORK/logs/swift-build.log"; fail "swift build"; }
fi
IFS_BIN="$REPO/.build/release/infisicalfs"
[[ -x "$IFS_BIN" ]] || fail "$IFS_BIN is missing"
log "building Benchmarks/bench.c and Benchmarks/cfs.c"
gcc -O2 -Wall -pthread -o "$WORK/bin/bench" Benchmarks/bench.c
# shellcheck disable=SC2046
gcc -O2 -Wall -o "$WORK/bin/cfs" Benchmarks/cfs.c $(pkg-config --cflags --libs fuse3)
BENCH="$WORK/bin/bench"
CFS="$WORK/bin/cfs"

# --- helpers ----------------------------------------------------------------
# The value after KEY in a line of "key value" pairs.
field() { awk -v k="$1" '{for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit }}'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
minimum() { printf '%s\n' "$@" | sort -g | head -1; }
maximum() { printf '%s\n' "$@" | sort -g | tail -1; }
is_mounted() { grep -q " $1 " /proc/mounts; }
kib() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$2/status"; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

# Waits until MOUNTPOINT is mounted, or PID died, or 20 s passed.
wait_mounted() {
  local mnt=$1 pid=$2 logf=$3
  for _ in $(seq 2000); do
    is_mounted "$mnt" && return 0
    kill -0 "$pid" 2>/dev/null || { show_log "$logf"; fail "the daemon for $mnt died"; }
    sleep 0.01
  done
  show_log "$logf"; fail "$mnt was not mounted within 20 s"
}

# Starts a foreground infisicalfs mount; sets LAST_PID.
start_ifs() {
  local mnt=$1 name=$2; shift 2
  mkdir -p "$mnt"; MOUNTS+=("$mnt")
  "$IFS_BIN" mount "$mnt" --foreground --log-level warning "$@" >"$WORK/logs/$name.log" 2>&1 &
  LAST_PID=$!; PIDS+=("$LAST_PID")
  wait_mounted "$mnt" "$LAST_PID" "$WORK/logs/$name.log"
}

start_cfs() {
  local mnt=$1 name=$2; shift 2
  mkdir -p "$mnt"; MOUNTS+=("$mnt")
  # shellcheck disable=SC2068
  "$CFS" --small "$SMALL" --big "$BIG" $@ "$mnt" >"$WORK/logs/$name.log" 2>&1 &
  LAST_PID=$!; PIDS+=("$LAST_PID")
  wait_mounted "$mnt" "$LAST_PID" "$WORK/logs/$name.log"
}

stop_mount() {
  local mnt=$1 pid=$2
  fusermount3 -u "$mnt" 2>/dev/null || true
  for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.01; done
  kill "$pid" 2>/dev/null || true
}

# Runs a bench command; a failure stops the script with its message.
run_bench() { "$BENCH" "$@" || fail "bench $*"; }

BUSY_BEFORE=$(busy_builds)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
[[ $BUSY_BEFORE -gt 0 ]] && log "warning: $BUSY_BEFORE Swift compiler processes are running; figures may be low"

# --- tmpfs ------------------------------------------------------------------
if [[ "$(stat -f -c %T /dev/shm 2>/dev/null)" == tmpfs ]]; then
  TMPFS=$(mktemp -d /dev/shm/infisicalfs-bench.XXXXXX)
elif [[ $(id -u) == 0 ]]; then
  TMPFS="$WORK/tmpfs"; mkdir -p "$TMPFS"; mount -t tmpfs -o size=256m bench-tmpfs "$TMPFS"; TMPFS_MOUNTED=1
else
  fail "no tmpfs: /dev/shm is not tmpfs and mounting one needs root"
fi
log "tmpfs tree in $TMPFS"
run_bench mktree "$TMPFS" "$SMALL" "$BIG" >/dev/null

# --- infisicalfs on the local store: seed through the mount -----------------
STORE="$WORK/store/store.db"
mkdir -p "$WORK/store"
LOCAL=(--backend local --local-store "$STORE")
MNT_RW="$WORK/mnt/ifs-rw"; MNT_RO="$WORK/mnt/ifs-ro"
log "seeding the local store through the mount: /p/dev/hello, $SMALL and $BIG secrets"
start_ifs "$MNT_RW" seed "${LOCAL[@]}"
SEED_S=$(run_bench mktree "$MNT_RW" "$SMALL" "$BIG" | field seconds)
stop_mount "$MNT_RW" "$LAST_PID"
log "seeded in ${SEED_S} s"

# --- mount to first answer (local store) --------------------------------------
log "mount to first answer, $STARTS times each form"
MNT_START="$WORK/mnt/ifs-start"; mkdir -p "$MNT_START"; MOUNTS+=("$MNT_START")
DETACHED_MS=(); FOREGROUND_MS=()
for _ in $(seq "$STARTS"); do
  out=$("$BENCH" ready "$MNT_START/p/dev/hello" 20 wait -- "$IFS_BIN" mount "$MNT_START" "${LOCAL[@]}") \
    || fail "detached mount: $out"
  DETACHED_MS+=("$(field ready_ms <<<"$out")")
  fusermount3 -u "$MNT_START"
  sleep 0.2   # the detached daemon exits after the unmount
  out=$("$BENCH" ready "$MNT_START/p/dev/hello" 20 poll -- "$IFS_BIN" mount "$MNT_START" --foreground \
    --log-level warning "${LOCAL[@]}" 2>>"$WORK/logs/start.log") || fail "foreground mount: $out"
  FOREGROUND_MS+=("$(field ready_ms <<<"$out")")
  pid=$(field pid <<<"$out"); PIDS+=("$pid")
  stop_mount "$MNT_START" "$pid"
done

# --- mounts for the loops -------------------------------------------------------
start_ifs "$MNT_RW" ifs-rw "${LOCAL[@]}"; PID_RW=$LAST_PID
RSS_LOCAL_IDLE=$(kib VmRSS "$PID_RW")
start_ifs "$MNT_RO" ifs-ro "${LOCAL[@]}" --read-only; PID_RO=$LAST_PID
MNT_CRW="$WORK/mnt/cfs-rw"; MNT_CRO="$WORK/mnt/cfs-ro"
start_cfs "$MNT_CRW" cfs-rw "$CFS_RW_FLAGS"
start_cfs "$MNT_CRO" cfs-ro "$CFS_RO_FLAGS"

# --- the Infisical test server ----------------------------------------------------
log "starting the Infisical test server with $((1 + SMALL + BIG + COLD)) seeded secrets"
python3 - "$WORK/seed.json" "$SMALL" "$BIG" "$COLD" <<'PY'
import json, sys
path, small, big, cold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def value(i):  # Benchmarks/bench_value.h
    return ("secret-value-%05d-" % i).ljust(32, "x")[:32]
secrets = [{"projectSlug": "p", "environment": "dev", "secretPath": "/", "secretKey": "hello", "secretValue": value(0)}]
for folder, n in (("/d", small), ("/big", big), ("/cold", cold)):
    secrets += [{"projectSlug": "p", "environment": "dev", "secretPath": folder,
                 "secretKey": "K%05d" % i, "secretValue": value(i)} for i in range(1, n + 1)]
json.dump({"identities": [{"identityId": "bench-identity", "clientId": "bench-client", "clientSecret": "bench-secret"}],
           "projects": [{"slug": "p", "id": "bench-project", "members": ["bench-identity"]}],
           "secrets": secrets}, open(path, "w"))
PY
python3 Tests/InfisicalTestServer/infisical_test_server.py --port 0 --seed "$WORK/seed.json" \
  >"$WORK/server.port" 2>"$WORK/logs/server.log" &
PIDS+=("$!"); SERVER_PID=$!
for _ in $(seq 600); do grep -q '^PORT ' "$WORK/server.port" && break; kill -0 "$SERVER_PID" || break; sleep 0.1; done
PORT=$(awk '/^PORT / {print $2}' "$WORK/server.port")
[[ -n "$PORT" ]] || { show_log "$WORK/logs/server.log"; fail "the test server did not start"; }
SERVER="http://127.0.0.1:$PORT"
requests() { curl -sf "$SERVER/__test__/requests"; }
INF_ENV=(env INFISICAL_UNIVERSAL_AUTH_CLIENT_ID=bench-client INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=bench-secret)

start_inf() {
  local mnt=$1 name=$2; shift 2
  mkdir -p "$mnt"; MOUNTS+=("$mnt")
  "${INF_ENV[@]}" "$IFS_BIN" mount "$mnt" --foreground --log-level warning --site-url "$SERVER" "$@" \
    >"$WORK/logs/$name.log" 2>&1 &
  LAST_PID=$!; PIDS+=("$LAST_PID")
  wait_mounted "$mnt" "$LAST_PID" "$WORK/logs/$name.log"
}

# Requests between two /__test__/requests snapshots: "TOTAL route=n, ...".
req_diff() {
  python3 -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
d = {k: b.get(k, 0) - a.get(k, 0) for k in b if b.get(k, 0) != a.get(k, 0)}
print(sum(d.values()), "; ".join("%s: %d" % kv for kv in sorted(d.items())) or "none")' "$1" "$2"
}

# --- API requests per 10,000 reads, RSS with 10,000 cached secrets ----------------
log "Infisical backend: API requests per 10,000 reads, RSS"
MNT_INF="$WORK/mnt/ifs-inf"
start_inf "$MNT_INF" ifs-inf; PID_INF=$LAST_PID
RSS_INF_IDLE=$(kib VmRSS "$PID_INF")
stat "$MNT_INF/p/dev" >/dev/null    # resolve project and environment; the folders are read below
r0=$(requests)
run_bench readn "$MNT_INF/p/dev/d" "$SMALL" 10000 >/dev/null
r1=$(requests)
run_bench readn "$MNT_INF/p/dev/big" "$BIG" 10000 >/dev/null
r2=$(requests)
REQ_SMALL=$(req_diff "$r0" "$r1")
REQ_BIG=$(req_diff "$r1" "$r2")
run_bench lsl "$MNT_INF/p/dev/big" 0 >/dev/null
run_bench readn "$MNT_INF/p/dev/big" "$BIG" "$BIG" >/dev/null
RSS_INF_HWM=$(kib VmHWM "$PID_INF"); RSS_INF_NOW=$(kib VmRSS "$PID_INF")

# --- the timed loops ----------------------------------------------------------------
FSES=(ifs-rw ifs-ro ifs-inf tmpfs cfs-rw cfs-ro)
declare -A ROOT=([ifs-rw]="$MNT_RW" [ifs-ro]="$MNT_RO" [ifs-inf]="$MNT_INF" [tmpfs]="$TMPFS"
                 [cfs-rw]="$MNT_CRW" [cfs-ro]="$MNT_CRO")
OPS=(orc stat readdir lsl)
declare -A TARGET_OF=([orc]="openreadclose p/dev/hello" [stat]="stat p/dev/d/K00500"
                      [readdir]="readdir p/dev/d" [lsl]="lsl p/dev/big")
declare -A SAMPLES=()
for fs in "${FSES[@]}"; do   # every tree holds the same bytes
  cmp -s "${ROOT[$fs]}/p/dev/hello" "$TMPFS/p/dev/hello" || fail "$fs: p/dev/hello differs from tmpfs"
done
log "timed loops: ${#OPS[@]} operations x ${#FSES[@]} file systems x $RUNS runs of $SECS s"
BUSY_DURING=$(busy_builds)
for run in $(seq "$RUNS"); do
  for op in "${OPS[@]}"; do
    read -r cmd rel <<<"${TARGET_OF[$op]}"
    for fs in "${FSES[@]}"; do
      v=$(run_bench "$cmd" "${ROOT[$fs]}/$rel" "$SECS" | field ops_per_s)
      SAMPLES[$op,$fs]="${SAMPLES[$op,$fs]:-} $v"
    done
  done
  log "run $run/$RUNS done"
  b=$(busy_builds); [[ $b -gt $BUSY_DURING ]] && BUSY_DURING=$b
done
declare -A MED=()
for op in "${OPS[@]}"; do
  for fs in "${FSES[@]}"; do
    # shellcheck disable=SC2086
    MED[$op,$fs]=$(median ${SAMPLES[$op,$fs]})
  done
done

# Local store RSS after the loops (ls -l of the big folder ran) and reading all of it.
run_bench readn "$MNT_RW/p/dev/big" "$BIG" "$BIG" >/dev/null
RSS_LOCAL_HWM=$(kib VmHWM "$PID_RW")

# --- 32 concurrent cold reads, 200 ms per call ------------------------------------------
# A fresh mount with the default cache: nothing of the folder is cached yet
# (the login check's project list is, as on any mount).
log "$COLD concurrent cold reads on a fresh mount, every GET delayed ${DELAY} s"
MNT_COLD="$WORK/mnt/ifs-cold"
start_inf "$MNT_COLD" ifs-cold; PID_COLD=$LAST_PID
curl -sf -X POST -H 'Content-Type: application/json' \
  -d "{\"method\": \"GET\", \"route\": \"*\", \"delaySeconds\": $DELAY, \"count\": 0}" \
  "$SERVER/__test__/faults" >/dev/null || fail "installing the delay fault"
r0=$(requests)
COLD_OUT=$("$BENCH" coldreads "$COLD" "$MNT_COLD/p/dev/cold/K" 2>"$WORK/logs/coldreads.log") \
  || { show_log "$WORK/logs/coldreads.log"; fail "cold reads: $COLD_OUT"; }
r1=$(requests)
REQ_COLD=$(req_diff "$r0" "$r1")
COLD_WALL=$(field wall_s <<<"$COLD_OUT")
THREADS_COLD=$(awk '/^Threads:/ {print $2}' "/proc/$PID_COLD/status")
curl -sf -X DELETE "$SERVER/__test__/faults" >/dev/null || true

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report -------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.3f", a / b; else print "n/a"}'; }
# verdict RATIO TARGET: met, or missed with the shortfall.
verdict() {
  awk -v r="$1" -v t="$2" 'BEGIN {
    if (r >= t) printf "met (%.3fx >= %.2fx)", r, t;
    else printf "**missed**: %.3fx < %.2fx (%.1f%% of target, %.1fx short)", r, t, 100 * r / t, t / r }'
}
# verdict_max VALUE LIMIT UNIT: met when VALUE < LIMIT.
verdict_max() {
  awk -v v="$1" -v l="$2" -v u="$3" 'BEGIN {
    if (v < l) printf "met (< %s %s)", l, u; else printf "**missed** by %.2f %s (%.2fx the limit)", v - l, u, v / l }'
}
fmt() { awk -v v="$1" 'BEGIN {if (v >= 100) printf "%.0f", v; else printf "%.2f", v}'; }

SCRIPT_END=$(date +%s.%N)
TOTAL_S=$(awk -v a="$SCRIPT_START" -v b="$SCRIPT_END" 'BEGIN {printf "%.0f", b - a}')

declare -A LABEL=([orc]="cached open+read+close of a 32 B secret (p/dev/hello)"
                  [stat]="stat of a secret (p/dev/d/K00500)"
                  [readdir]="readdir of $SMALL entries (p/dev/d)"
                  [lsl]="ls -l of $BIG secrets (p/dev/big; readdir + lstat each)")

echo
echo "## infisicalfs benchmark ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo
echo "Machine: $(nproc) cores, kernel $(uname -r), $(swift --version 2>/dev/null | head -1 | sed 's/^ *//'),"\
  "libfuse $(pkg-config --modversion fuse3), $(gcc --version | head -1)."
echo "Loops: $SECS s per run, median of $RUNS runs. Load average before/after: $LOAD_BEFORE / $LOAD_AFTER."\
  "Swift compiler processes seen: $BUSY_BEFORE at start, up to $BUSY_DURING during the loops."
echo "infisicalfs: commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(
  n=$(git status --porcelain -- Sources Package.swift 2>/dev/null | wc -l); [[ $n -gt 0 ]] && echo ", plus $n uncommitted changed files under Sources/ or Package.swift"), release build."
echo "C file system flags: rw \`$CFS_RW_FLAGS\`, ro \`$CFS_RO_FLAGS\`. Local store seeded through the mount"\
  "($((1 + SMALL + BIG)) secrets) in $SEED_S s."
echo
echo "### Operations per second (median)"
echo
echo "| operation | infisicalfs rw (local) | infisicalfs --read-only (local) | infisicalfs rw (Infisical backend, warm cache) | tmpfs | C FS rw | C FS ro |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for op in "${OPS[@]}"; do
  printf '| %s |' "${LABEL[$op]}"
  for fs in "${FSES[@]}"; do printf ' %s |' "$(fmt "${MED[$op,$fs]}")"; done
  echo
done
echo
echo "### Ratios and the targets of issue 5"
echo
echo "| operation | rw / tmpfs | ro / tmpfs | rw / C rw | ro / C ro | target | verdict |"
echo "|---|---:|---:|---:|---:|---|---|"
for op in "${OPS[@]}"; do
  rw_t=$(ratio "${MED[$op,ifs-rw]}" "${MED[$op,tmpfs]}"); ro_t=$(ratio "${MED[$op,ifs-ro]}" "${MED[$op,tmpfs]}")
  rw_c=$(ratio "${MED[$op,ifs-rw]}" "${MED[$op,cfs-rw]}"); ro_c=$(ratio "${MED[$op,ifs-ro]}" "${MED[$op,cfs-ro]}")
  case $op in
    orc) target="ro >= 0.6x tmpfs; rw >= 0.9x C rw"
         v="ro: $(verdict "$ro_t" 0.6); rw: $(verdict "$rw_c" 0.9)" ;;
    stat) target=">= 0.85x tmpfs"
          v="rw: $(verdict "$rw_t" 0.85); ro: $(verdict "$ro_t" 0.85)" ;;
    readdir) target=">= 1.0x tmpfs"
             v="rw: $(verdict "$rw_t" 1.0); ro: $(verdict "$ro_t" 1.0)" ;;
    lsl) target="none stated (ratios only)"; v="—" ;;
  esac
  echo "| ${LABEL[$op]} | $rw_t | $ro_t | $rw_c | $ro_c | $target | $v |"
done
echo
echo "### API, memory, startup, cold reads"
echo
echo "| measure | result | target | verdict |"
echo "|---|---|---|---|"
n=${REQ_SMALL%% *}
echo "| API requests for 10,000 reads: 10 x each of $SMALL secrets of one folder, no ls first (p/dev resolved before; cache_ttl 300) | $n (${REQ_SMALL#* }) | 1 (folders read) | $( [[ $n -le 1 ]] && echo met || echo "**missed** by $((n - 1))" ) |"
n=${REQ_BIG%% *}
echo "| API requests for 10,000 reads: each of $BIG secrets of one folder once, no ls first | $n (${REQ_BIG#* }) | 1 (folders read) | $( [[ $n -le 1 ]] && echo met || echo "**missed** by $((n - 1))" ) |"
echo "| idle RSS right after mount, Infisical backend | $(mib "$RSS_INF_IDLE") MiB | < 32 MiB | $(verdict_max "$(mib "$RSS_INF_IDLE")" 32 MiB) |"
echo "| peak RSS (VmHWM) with $BIG cached secrets, Infisical backend (after the reads above, ls -l and reading all) | $(mib "$RSS_INF_HWM") MiB (VmRSS now $(mib "$RSS_INF_NOW") MiB) | < 64 MiB | $(verdict_max "$(mib "$RSS_INF_HWM")" 64 MiB) |"
echo "| idle RSS right after mount, local store | $(mib "$RSS_LOCAL_IDLE") MiB | < 32 MiB | $(verdict_max "$(mib "$RSS_LOCAL_IDLE")" 32 MiB) |"
echo "| peak RSS (VmHWM), local store, after the loops (ls -l of $BIG) and reading all $BIG | $(mib "$RSS_LOCAL_HWM") MiB | < 64 MiB | $(verdict_max "$(mib "$RSS_LOCAL_HWM")" 64 MiB) |"
# shellcheck disable=SC2068
d_med=$(median ${DETACHED_MS[@]}); f_med=$(median ${FOREGROUND_MS[@]})
echo "| mount to first answer, local store: \`infisicalfs mount\` (detached) until stat of p/dev/hello succeeds, median of $STARTS | $(fmt "$d_med") ms (min $(fmt "$(minimum "${DETACHED_MS[@]}")"), max $(fmt "$(maximum "${DETACHED_MS[@]}")")) | < 100 ms | $(verdict_max "$d_med" 100 ms) |"
echo "| the same with \`--foreground\`, polling stat every 0.1 ms, median of $STARTS | $(fmt "$f_med") ms (min $(fmt "$(minimum "${FOREGROUND_MS[@]}")"), max $(fmt "$(maximum "${FOREGROUND_MS[@]}")")) | < 100 ms | $(verdict_max "$f_med" 100 ms) |"
echo "| $COLD concurrent cold reads of $COLD different secrets (p/dev/cold/K000nn), every GET delayed ${DELAY} s, fresh mount, wall time | $COLD_WALL s ($(field errors <<<"$COLD_OUT") errors; ${REQ_COLD%% *} API requests: ${REQ_COLD#* }; daemon threads after: $THREADS_COLD) | < 0.5 s | $(verdict_max "$COLD_WALL" 0.5 s) |"
echo
echo "Whole script: ${TOTAL_S} s (build included)."
