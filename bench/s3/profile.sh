#!/usr/bin/env bash
# CPU profiles of Enclave's S3 server, one per workload: 4 KiB PUT, 4 KiB GET, 1 MiB PUT, 1 MiB GET
# (s3load.mjs --client raw, concurrency 16, HTTPS as run.sh). One enclave-s3.ts process with
# BENCH_S3_PROFILE_DIR set; SIGUSR2 before and after each workload brackets a V8 CPU profile
# (the profiler node --cpu-prof uses, via node:inspector) plus wall/CPU time and metadata
# transaction counts of that phase. Each GET reads the objects of the PUT before it.
# Usage: bench/s3/profile.sh  (from the repo root)   then read $DIR/summary.txt
# Env: DIR ($PEER_ROOT/s3-profile-<time>) PEER_ROOT (/tmp/perf-suite) BENCH_S3_PORT (29200)
#   BIG_COUNT (256) SMALL_COUNT (2000) CONC (16) BENCH_S3_PROFILE_INTERVAL_US (200)
#   BENCH_S3_TX_CALLERS (0; 1 = also <label>.callers.txt, who opens each metadata transaction)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PEER_ROOT=${PEER_ROOT:-/tmp/perf-suite}
DIR=${DIR:-$PEER_ROOT/s3-profile-$(date +%s)}
BIG_COUNT=${BIG_COUNT:-256}
SMALL_COUNT=${SMALL_COUNT:-2000}
CONC=${CONC:-16}
export BENCH_S3_PORT=${BENCH_S3_PORT:-29200}
export BENCH_S3_ENV=$DIR/enclave-s3.env
export BENCH_S3_PROFILE_DIR=$DIR
export NODE_NO_WARNINGS=1
mkdir -p "$DIR"; rm -f "$BENCH_S3_ENV" "$DIR/phases.jsonl"

# shellcheck disable=SC2086 # ENCLAVE_NODE_FLAGS is a list of flags
(cd "$ROOT" && exec node ${ENCLAVE_NODE_FLAGS---single-threaded-gc --heap-growing-percent=300} --import tsx bench/s3/enclave-s3.ts) & ENCLAVE=$!
trap 'kill $ENCLAVE 2>/dev/null || true; wait 2>/dev/null || true' EXIT
for _ in $(seq 300); do [ -s "$BENCH_S3_ENV" ] && break; sleep 0.2; done
[ -s "$BENCH_S3_ENV" ] || { echo "enclave-s3.ts did not start" >&2; exit 1; }

phase() { # n label op size count
  local n=$1 label=$2 op=$3 size=$4 count=$5 lines
  kill -USR2 "$ENCLAVE"; sleep 0.5
  lines=$( (set -a; . "$BENCH_S3_ENV"; set +a; node "$HERE/s3load.mjs" --client raw --ops "$op" --prefix "p$size" --size "$size" --count "$count" --concurrency "$CONC" --max-secs 120) )
  kill -USR2 "$ENCLAVE"
  for _ in $(seq 100); do [ "$( { wc -l < "$DIR/phases.jsonl"; } 2>/dev/null || echo 0)" -ge "$n" ] && break; sleep 0.1; done
  echo "$lines" | sed "s/^/$label /" | tee -a "$DIR/load.txt"
  mv "$DIR/phase-$n.cpuprofile" "$DIR/$label.cpuprofile"
  [ -f "$DIR/phase-$n.callers.txt" ] && mv "$DIR/phase-$n.callers.txt" "$DIR/$label.callers.txt"
  echo "$label $(sed -n "${n}p" "$DIR/phases.jsonl")" >> "$DIR/phases.txt"
}
: > "$DIR/load.txt"; : > "$DIR/phases.txt"
phase 1 put-4KiB put 4096 "$SMALL_COUNT"
phase 2 get-4KiB get 4096 "$SMALL_COUNT"
phase 3 put-1MiB put 1048576 "$BIG_COUNT"
phase 4 get-1MiB get 1048576 "$BIG_COUNT"

{
  echo "# phases: wall/CPU ms of the server process and metadata transactions (reads/writes, summed ms in them)"
  node -e '
    const fs = require("fs");
    for (const l of fs.readFileSync(process.argv[1], "utf8").trim().split("\n")) {
      const sp = l.indexOf(" "), label = l.slice(0, sp), p = JSON.parse(l.slice(sp + 1));
      const n = label.endsWith("4KiB") ? +process.argv[2] : +process.argv[3];
      const cpu = p.cpuUserMs + p.cpuSysMs;
      console.log(`${label}: wall ${p.wallMs} ms, cpu ${cpu} ms (${(100 * cpu / p.wallMs).toFixed(0)}% of one core; user ${p.cpuUserMs} sys ${p.cpuSysMs}), ` +
        `cpu/request ${(cpu / n).toFixed(3)} ms, metadata reads ${p.reads} (${(p.reads / n).toFixed(2)}/req, ${p.readMs} ms), writes ${p.writes} (${(p.writes / n).toFixed(2)}/req, ${p.writeMs} ms), commits ${p.commits} (${(p.writes / Math.max(1, p.commits)).toFixed(1)} tx/commit, event loop blocked ${p.commitMs} ms = ${(100 * p.commitMs / p.wallMs).toFixed(0)}% of wall), ` +
        `event-loop delay p50 ${p.loopDelayP50Ms.toFixed(1)} p99 ${p.loopDelayP99Ms.toFixed(1)} max ${p.loopDelayMaxMs.toFixed(1)} ms`);
    }' "$DIR/phases.txt" "$SMALL_COUNT" "$BIG_COUNT"
  for label in put-4KiB get-4KiB put-1MiB get-1MiB; do
    echo; echo "######## $label"; node "$HERE/cpuprofile-summary.mjs" "$DIR/$label.cpuprofile" --top 30
  done
} > "$DIR/summary.txt"
echo "profiles and summary in $DIR (summary.txt)"
