#!/usr/bin/env bash
# NFSv3 benchmark, issue 6 item 9: libnfs nfs-cp write and read of a 1 GiB file and of 300 small
# files (one nfs-cp process each), Enclave against nfs-ganesha (Debian, VFS FSAL) in the same run,
# using the shared harness's nfs.sh (/work/shared/bench, see its README).
#
# Needs: libnfs-utils; nfs-ganesha nfs-ganesha-vfs rpcbind (apt); root (ganesha's netns).
# Env: ROUNDS (3) ENCLAVE_NFS_PORT (32049) BENCH_ROOT (/tmp/perf-suite) ENCLAVE_NFS_AUDIT (1)
#      NFS_BIG_MIB (1024) NFS_SMALL_COUNT (300) -- passed through to nfs.sh
#      ENCLAVE_NODE_FLAGS (--single-threaded-gc --heap-growing-percent=300, as `npm start` runs the server; "" for V8's default)
# Output: '<metric> <Enclave median> <ganesha median> <unit> <ratio>' (ratio > 1: Enclave better).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SHARED=${BENCH_SHARED:-/work/shared/bench}
ROUNDS=${ROUNDS:-3}
ENCLAVE_NODE_FLAGS=${ENCLAVE_NODE_FLAGS---single-threaded-gc --heap-growing-percent=300}
PORT=${ENCLAVE_NFS_PORT:-32049}
export BENCH_ROOT=${BENCH_ROOT:-/tmp/perf-suite}
DATA=$BENCH_ROOT/enclave-nfs
mkdir -p "$BENCH_ROOT"
rm -rf "$DATA" "$BENCH_ROOT/ganesha/export"

"$SHARED/peers/peers.sh" stop ganesha >/dev/null 2>&1 || true
"$SHARED/peers/peers.sh" start ganesha >&2

# shellcheck disable=SC2086 # ENCLAVE_NODE_FLAGS is a list of flags
(cd "$REPO" && exec node $ENCLAVE_NODE_FLAGS --import tsx bench/nfs/enclave-nfs.ts "$DATA" "$PORT") > "$BENCH_ROOT/enclave-nfs.out" 2> "$BENCH_ROOT/enclave-nfs.err" &
SERVER=$!
cleanup() { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; "$SHARED/peers/peers.sh" stop ganesha >/dev/null 2>&1 || true; }
trap cleanup EXIT
for _ in $(seq 300); do grep -q '^ready' "$BENCH_ROOT/enclave-nfs.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^ready' "$BENCH_ROOT/enclave-nfs.out" || { cat "$BENCH_ROOT/enclave-nfs.err" >&2; exit 1; }
echo "# enclave: $(cat "$BENCH_ROOT/enclave-nfs.out")" >&2

NODE_PID=$(sed -n 's/^ready .* pid=\([0-9]*\)$/\1/p' "$BENCH_ROOT/enclave-nfs.out")
cat > "$BENCH_ROOT/enclave-nfs.env" <<E
ENCLAVE_PID=$NODE_PID
ENCLAVE_OUT=$BENCH_ROOT/enclave-nfs.out
NFS_PORT=$PORT
MNT_PORT=$PORT
NFS_EXPORT=/bench
E
cat > "$BENCH_ROOT/ganesha-nfs.env" <<E
NFS_NETNS=ganesha
NFS_PORT=${NFS_PORT:-22049}
MNT_PORT=${MNT_PORT:-22048}
NFS_EXPORT=$BENCH_ROOT/ganesha/export
NFS_LOCAL_DIR=$BENCH_ROOT/ganesha/export
E
# nfs.sh names its files by run number (big_1, s1_f...), and NFS CREATE of an existing name is
# EXIST; ganesha's metadata cache keeps names removed behind its back. So instead of compare.sh's
# interleaving (every round would be run 1), each side runs ROUNDS rounds on a fresh export,
# Enclave first, and the medians are compared: ganesha's in one nfs.sh with RUNS=ROUNDS (nfs.sh
# deletes each round's files through its local folder), Enclave's one nfs.sh per round with /bench
# emptied before each (nfs-side.sh), so both list the same 301 entries every round.
run_side() { ( set -a; . "$1"; set +a; RUNS=$ROUNDS bash "$HERE/nfs-side.sh" ) 2> >(sed "s/^/# [$2] /" >&2); }
run_side "$BENCH_ROOT/enclave-nfs.env" enclave > "$BENCH_ROOT/enclave-nfs.result"
run_side "$BENCH_ROOT/ganesha-nfs.env" ganesha > "$BENCH_ROOT/ganesha-nfs.result"
echo "# metric enclave_median ganesha_median unit ratio (ms: lower is better, ratio = ganesha/enclave)" >&2
join <(sort "$BENCH_ROOT/enclave-nfs.result") <(sort "$BENCH_ROOT/ganesha-nfs.result") \
  | awk '{ r = ($3 == "ms") ? $4 / $2 : $2 / $4; printf "%s %s %s %s %.3f\n", $1, $2, $4, $3, r }'

