#!/usr/bin/env bash
# S3 PUT/GET of 1 MiB x 256 and 4 KiB x 2000 at concurrency 16 (s3load.mjs, S3_CLIENT=raw: node:http
# + SigV4, UNSIGNED-PAYLOAD), against Enclave's S3 and against s3rver in the same run, interleaved
# (Enclave run r, s3rver run r, ...; each idle while the other is measured). Prints per-run lines
# and medians. Needs s3rver installed: see /work/shared/bench/README.md (PEER_ROOT/s3rver-pkg).
# Env: RUNS (3) PEER_ROOT (/tmp/perf-suite) BENCH_S3_PORT (29100) PEER_PORT (29000)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RUNS=${RUNS:-3}
PEER_ROOT=${PEER_ROOT:-/tmp/perf-suite}
PEER_PORT=${PEER_PORT:-29000}
export BENCH_S3_PORT=${BENCH_S3_PORT:-29100}
export BENCH_S3_ENV=$PEER_ROOT/enclave-s3.env
OUT=${OUT:-$PEER_ROOT/s3-bench-$(date +%s).txt}
mkdir -p "$PEER_ROOT/s3rver-data"
export NODE_NO_WARNINGS=1

(cd "$ROOT" && exec node --import tsx bench/s3/enclave-s3.ts) & ENCLAVE=$!
"$PEER_ROOT/s3rver-pkg/node_modules/.bin/s3rver" --address 127.0.0.1 --port "$PEER_PORT" --directory "$PEER_ROOT/s3rver-data" --silent & PEER=$!
trap 'kill $ENCLAVE $PEER 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$BENCH_S3_ENV" ] && (echo > /dev/tcp/127.0.0.1/$PEER_PORT) 2>/dev/null && break; sleep 0.2; done

load() { # target size count
  local target=$1 size=$2 count=$3 prefix="r$(date +%s%N)"
  if [ "$target" = enclave ]; then
    (set -a; . "$BENCH_S3_ENV"; set +a; node "$HERE/s3load.mjs" --client raw --prefix "$prefix" --size "$size" --count "$count" --concurrency 16 --max-secs 120)
  else
    S3_ENDPOINT=http://127.0.0.1:$PEER_PORT S3_ACCESS_KEY=S3RVER S3_SECRET_KEY=S3RVER S3_BUCKET=bench \
      node "$HERE/s3load.mjs" --client raw --prefix "$prefix" --size "$size" --count "$count" --concurrency 16 --max-secs 120
  fi | sed "s/^/$target /"
}
: > "$OUT"
for r in $(seq "$RUNS"); do
  for target in enclave s3rver; do
    load "$target" 1048576 256 | tee -a "$OUT"
    load "$target" 4096 2000 | tee -a "$OUT"
  done
done
echo "# medians (target metric median unit)"
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => l.split(" "));
const by = new Map();
for (const [t, m, v, u] of rows) { const k = t + " " + m; by.set(k, [...(by.get(k) ?? []), Number(v)]); by.set(k + "\0", u); }
for (const [k, vs] of [...by].filter(([k]) => !k.endsWith("\0")).sort()) { vs.sort((a, b) => a - b); const m = vs.length % 2 ? vs[(vs.length - 1) / 2] : (vs[vs.length / 2 - 1] + vs[vs.length / 2]) / 2; console.log(k, m, by.get(k + "\0"), "runs:", vs.join(",")); }' "$OUT"
echo "# raw lines in $OUT"
