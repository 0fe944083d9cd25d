#!/usr/bin/env bash
# One side of the NFS comparison: the shared harness's nfs.sh, run inside ganesha's private
# network namespace when NFS_NETNS=ganesha (ganesha needs rpcbind on port 111, so it lives there).
set -euo pipefail
SHARED=${BENCH_SHARED:-/work/shared/bench}
if [ "${NFS_NETNS:-}" = ganesha ]; then exec "$SHARED/peers/peers.sh" exec ganesha bash "$SHARED/nfs.sh"; fi
if [ -n "${ENCLAVE_PID:-}" ]; then  # empty Enclave's /bench first (see enclave-nfs.ts)
  before=$(grep -c '^cleaned' "$ENCLAVE_OUT" || true)
  kill -USR2 "$ENCLAVE_PID"
  for _ in $(seq 600); do [ "$(grep -c '^cleaned' "$ENCLAVE_OUT" || true)" -gt "$before" ] && break; sleep 0.1; done
fi
exec bash "$SHARED/nfs.sh"
