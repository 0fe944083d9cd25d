#!/usr/bin/env bash
# Audit overhead through S3 (issue 7 item 7): 4 KiB PUTs at concurrency 16 (s3load.mjs, raw SigV4
# client) against Enclave's S3 with every request audited and with the auditor left out, runs
# interleaved (off, on, off, on, ...). Prints each run and the medians. Env: RUNS (3), COUNT (2000).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RUNS=${RUNS:-3}
COUNT=${COUNT:-2000}
export NODE_NO_WARNINGS=1
declare -A results=([0]="" [1]="")
for run in $(seq "$RUNS"); do
  for audit in 0 1; do
    env_file=$(mktemp -u /tmp/enclave-s3-audit-XXXXXX.env)
    # shellcheck disable=SC2086 # ENCLAVE_NODE_FLAGS is a list of flags
    (cd "$ROOT" && BENCH_S3_AUDIT=$audit BENCH_S3_ENV=$env_file BENCH_S3_PORT=29150 exec node ${ENCLAVE_NODE_FLAGS---single-threaded-gc --heap-growing-percent=300} --import tsx bench/s3/enclave-s3.ts) > /dev/null & server=$!
    for _ in $(seq 150); do [ -s "$env_file" ] && break; sleep 0.2; done
    line=$(set -a; . "$env_file"; set +a; node "$ROOT/bench/s3/s3load.mjs" --client raw --prefix "a$audit-r$run" --ops put --size 4096 --count "$COUNT" --concurrency 16 --max-secs 120 2>/dev/null | grep -E "_ops " | head -1)
    kill -INT "$server"; wait "$server" 2>/dev/null || true
    rm -f "$env_file"
    ops=$(echo "$line" | grep -oE '[0-9.]+ ops/s' | head -1 | cut -d' ' -f1)
    echo "# run $run audit=$audit: $line" >&2
    results[$audit]="${results[$audit]} $ops"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
off=$(echo "${results[0]}" | median)
on=$(echo "${results[1]}" | median)
echo "s3_put_4KiB_unaudited $off ops/s"
echo "s3_put_4KiB_audited $on ops/s"
awk -v off="$off" -v on="$on" 'BEGIN { printf "audit_overhead %.1f %%\n", (off - on) / off * 100 }'
