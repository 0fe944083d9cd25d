#!/usr/bin/env bash
# One Enclave NFS server (bench/nfs/enclave-nfs.ts, production set-up), one nfs-cp write of a
# 1 GiB file and one nfs-cp read of it back, compared byte for byte: the big-file path alone, for
# quick A/B runs (ENCLAVE_NODE_FLAGS="" vs the default). The peer comparison is run.sh.
# Needs: libnfs-utils. Env: ENCLAVE_NFS_PORT (32149) ENCLAVE_NODE_FLAGS (--single-threaded-gc --heap-growing-percent=300)
#   BIG_FILE (/tmp/perf-suite/data/big-1024MiB.bin, made from /dev/urandom if missing)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PORT=${ENCLAVE_NFS_PORT:-32149}
ENCLAVE_NODE_FLAGS=${ENCLAVE_NODE_FLAGS---single-threaded-gc --heap-growing-percent=300}
BIG_FILE=${BIG_FILE:-/tmp/perf-suite/data/big-1024MiB.bin}
if [ ! -s "$BIG_FILE" ]; then mkdir -p "$(dirname "$BIG_FILE")"; head -c 1073741824 /dev/urandom > "$BIG_FILE"; fi
BYTES=$(stat -c %s "$BIG_FILE")
WORK=$(mktemp -d /tmp/enclave-nfs-big-XXXXXX)
# shellcheck disable=SC2086 # ENCLAVE_NODE_FLAGS is a list of flags
(cd "$REPO" && exec node $ENCLAVE_NODE_FLAGS --import tsx bench/nfs/enclave-nfs.ts "$WORK/data" "$PORT") > "$WORK/server.out" 2>&1 &
SERVER=$!
cleanup() { kill -TERM "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 300); do grep -q '^ready' "$WORK/server.out" 2>/dev/null && break; sleep 0.2; done
grep -q '^ready' "$WORK/server.out" || { echo "the server did not start:" >&2; cat "$WORK/server.out" >&2; exit 1; }
url="nfs://127.0.0.1/bench/big?version=3&nfsport=$PORT&mountport=$PORT"
t0=$(date +%s%N); nfs-cp "$BIG_FILE" "$url" >/dev/null || exit 1; t1=$(date +%s%N)
echo "nfs_write_big $(( BYTES * 1000 / (t1 - t0) )) MB/s"
sleep 1
t0=$(date +%s%N); nfs-cp "$url" "$WORK/read-back" >/dev/null || exit 1; t1=$(date +%s%N)
echo "nfs_read_big $(( BYTES * 1000 / (t1 - t0) )) MB/s"
cmp -s "$BIG_FILE" "$WORK/read-back" || { echo "read-back differs from what was written" >&2; exit 1; }
