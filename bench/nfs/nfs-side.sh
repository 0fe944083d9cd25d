#!/usr/bin/env bash
# One side of the NFS comparison: the shared harness's nfs.sh, run inside ganesha's private
# network namespace when NFS_NETNS=ganesha (ganesha needs rpcbind on port 111, so it lives there).
#
# Enclave's side runs nfs.sh once per round (RUNS=1), emptying /bench before each (see
# enclave-nfs.ts), and takes the medians itself: nfs.sh deletes a round's files only through a
# local folder (NFS_LOCAL_DIR, ganesha's side), so with RUNS=N in one go Enclave's nfs-ls of round
# r listed r rounds' files (903 entries in round 3) while ganesha's listed 301.
set -euo pipefail
SHARED=${BENCH_SHARED:-/work/shared/bench}
if [ "${NFS_NETNS:-}" = ganesha ]; then exec "$SHARED/peers/peers.sh" exec ganesha bash "$SHARED/nfs.sh"; fi
[ -n "${ENCLAVE_PID:-}" ] || exec bash "$SHARED/nfs.sh"
empty_bench() {
  local before
  before=$(grep -c '^cleaned' "$ENCLAVE_OUT" || true)
  kill -USR2 "$ENCLAVE_PID"
  for _ in $(seq 600); do [ "$(grep -c '^cleaned' "$ENCLAVE_OUT" || true)" -gt "$before" ] && break; sleep 0.1; done
}
RESULTS=$(mktemp /tmp/perf-suite-results.XXXXXX)
. "$SHARED/lib.sh"   # RUNS (default 3), record_lines, summarize (medians of RESULTS, then removes it)
for _ in $(seq "$RUNS"); do
  empty_bench
  RUNS=1 bash "$SHARED/nfs.sh" | record_lines
done
summarize
