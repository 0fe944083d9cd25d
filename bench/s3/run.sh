#!/usr/bin/env bash
# S3 benchmark: Enclave's S3 over HTTPS against nginx over TLS (GET) and s3rver (PUT/GET/DELETE),
# one load generator for all, in the same run, interleaved.
#
# How to run
#   RUNS=3 bench/s3/run.sh                 # from the repo root; ~5-10 min on 2 cores at RUNS=3
# Needs: nginx on PATH (Debian: apt-get install -y nginx; nothing else of it is used: the script
# starts a private nginx with its own config under $PEER_ROOT/s3-nginx and stops it again) and
# s3rver under $PEER_ROOT/s3rver-pkg:
#   mkdir -p /tmp/perf-suite/s3rver-pkg && (cd /tmp/perf-suite/s3rver-pkg && npm init -y && npm install s3rver)
# The output is machine-readable: per-run lines 'target metric value unit rROUND' (also in $OUT),
# then '# medians' lines 'target metric median unit runs: v1,v2,...', then '# checks' lines
# 'check name value unit goal pass|fail|info|n/a' against the issue's targets (ratios are the
# median of per-round ratios, so a slow round on the shared host hits both sides alike).
# Profiling: bench/s3/profile.sh (CPU profile + metadata transaction counts per workload).
#
# What is measured
#   Workload: s3load.mjs at concurrency 16 over keep-alive connections (one agent, 16 sockets),
#   256 x 1 MiB and 2,000 x 4 KiB objects, unique random bodies; MB/s (1e6 B, payload), ops/s,
#   p50 and p99 latency per op.
#   enclave   bench/s3/enclave-s3.ts: serve() on a fresh data dir (defaults: chunks encrypted at
#             rest), S3 on HTTPS only with the instance certificate (secure: true, the default).
#             Client: --client raw (node:http(s) + SigV4, UNSIGNED-PAYLOAD). PUT, GET, DELETE.
#   nginx-tls nginx (Debian package) serving the same number of files of the same sizes
#             (www/files/1MiB/o000000.. and www/files/4KiB/o000000..) over TLS with the *same*
#             certificate and key as Enclave (EC, written by enclave-s3.ts), TLS 1.2/1.3, server
#             preference for TLS_AES_128_GCM_SHA256 as Enclave's TLS_CIPHERS; worker_processes
#             auto, sendfile on, keepalive_requests 100000. Client: --client http (unsigned GET,
#             same agent, concurrency and latency accounting as raw). GET only: the like-for-like
#             peer for Enclave's GET.
#   s3rver    s3rver (npm, --silent, filesystem backend, no encryption) over TLS with the same
#             certificate (--cert/--key). Client: --client raw. The peer for PUT (nginx cannot PUT).
#             It does not fsync and does not encrypt: a PUT peer, not a like-for-like one.
#   null-tls  (opt-in: TARGETS="enclave nginx-tls s3rver null-tls") bench/s3/nulls3.mjs, a Node HTTPS
#             server with the same certificate that stores nothing and checks nothing: the
#             ceiling of this client + Node's HTTPS on this machine. Client: --client raw.
#   Each round runs the targets in TARGETS order (enclave, nginx-tls, s3rver), so each server is
#   idle while another is measured. The negotiated TLS version and cipher of each target is printed
#   ('# <target> tls ...'): TLS 1.3 AES-128-GCM for enclave, nginx-tls and null-tls; s3rver has no
#   server cipher preference and gets the client's first choice, AES-256-GCM.
#   Client and servers share the host's cores: read the same-run ratios, not absolute figures.
#
# Env: RUNS (3) PEER_ROOT (/tmp/perf-suite) BENCH_S3_PORT (29100) PEER_PORT (29000, s3rver)
#   NGINX_PORT (28443) NGINX_WORKERS (auto) NULL_PORT (29300) TARGETS ("enclave nginx-tls s3rver")
#   BENCH_S3_SECURE (1; 0 = Enclave and s3rver on plain HTTP, nginx stays TLS) BIG_COUNT (256)
#   SMALL_COUNT (2000) CONC (16) OUT ($PEER_ROOT/s3-bench-<time>.txt) BENCH_S3_AUDIT (0)
#   ENCLAVE_NODE_FLAGS (--single-threaded-gc --heap-growing-percent=300, as `npm start` runs the server; "" for V8's default)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RUNS=${RUNS:-3}
ENCLAVE_NODE_FLAGS=${ENCLAVE_NODE_FLAGS---single-threaded-gc --heap-growing-percent=300}
PEER_ROOT=${PEER_ROOT:-/tmp/perf-suite}
PEER_PORT=${PEER_PORT:-29000}
NGINX_PORT=${NGINX_PORT:-28443}
NGINX_WORKERS=${NGINX_WORKERS:-auto}
NULL_PORT=${NULL_PORT:-29300}
TARGETS=${TARGETS:-enclave nginx-tls s3rver}
BIG_COUNT=${BIG_COUNT:-256}
SMALL_COUNT=${SMALL_COUNT:-2000}
CONC=${CONC:-16}
export BENCH_S3_SECURE=${BENCH_S3_SECURE:-1}
export BENCH_S3_PORT=${BENCH_S3_PORT:-29100}
export BENCH_S3_ENV=$PEER_ROOT/enclave-s3.env
export BENCH_S3_TLS_DIR=$PEER_ROOT/s3-bench-tls
OUT=${OUT:-$PEER_ROOT/s3-bench-$(date +%s).txt}
NGX=$PEER_ROOT/s3-nginx
export NODE_NO_WARNINGS=1
has() { [[ " $TARGETS " == *" $1 "* ]]; }
wait_port() { for _ in $(seq 150); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.2; done; echo "port $1 did not open" >&2; return 1; }

mkdir -p "$PEER_ROOT"
rm -f "$BENCH_S3_ENV"
ENCLAVE='' PEER='' NGINX_PID='' NULLS3=''
cleanup() {
  [ -n "$NULLS3" ] && kill "$NULLS3" 2>/dev/null || true
  [ -n "$ENCLAVE" ] && kill "$ENCLAVE" 2>/dev/null || true
  [ -n "$PEER" ] && kill "$PEER" 2>/dev/null || true
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

# Enclave first: it writes the certificate and key every peer serves.
# shellcheck disable=SC2086 # ENCLAVE_NODE_FLAGS is a list of flags
(cd "$ROOT" && exec node $ENCLAVE_NODE_FLAGS --import tsx bench/s3/enclave-s3.ts) & ENCLAVE=$!
for _ in $(seq 300); do [ -s "$BENCH_S3_ENV" ] && break; sleep 0.2; done
[ -s "$BENCH_S3_ENV" ] || { echo "enclave-s3.ts did not start" >&2; exit 1; }

if has s3rver; then
  rm -rf "$PEER_ROOT/s3rver-data"; mkdir -p "$PEER_ROOT/s3rver-data"
  S3RVER_TLS=()
  [ "$BENCH_S3_SECURE" = 0 ] || S3RVER_TLS=(--cert "$BENCH_S3_TLS_DIR/cert.pem" --key "$BENCH_S3_TLS_DIR/key.pem")
  "$PEER_ROOT/s3rver-pkg/node_modules/.bin/s3rver" --address 127.0.0.1 --port "$PEER_PORT" --directory "$PEER_ROOT/s3rver-data" --silent "${S3RVER_TLS[@]}" & PEER=$!
  wait_port "$PEER_PORT"
fi

if has nginx-tls; then
  mkdir -p "$NGX"/{www,logs,tmp}; chmod 755 "$PEER_ROOT" "$NGX" "$NGX/www"
  # The same number of files of the same sizes as the S3 objects GET reads (created once).
  node -e '
    const fs = require("fs"), crypto = require("crypto");
    for (const [tag, size, count] of [["1MiB", 1048576, +process.argv[2]], ["4KiB", 4096, +process.argv[3]]]) {
      const dir = process.argv[1] + "/www/files/" + tag; fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
      for (let i = 0; i < count; i++) { const f = dir + "/o" + String(i).padStart(6, "0"); if (!fs.existsSync(f)) fs.writeFileSync(f, crypto.randomBytes(size), { mode: 0o644 }); }
    }' "$NGX" "$BIG_COUNT" "$SMALL_COUNT"
  cat > "$NGX/nginx.conf" <<CONF
worker_processes $NGINX_WORKERS;
pid $NGX/nginx.pid;
error_log $NGX/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000; keepalive_timeout 75s;
  client_body_temp_path $NGX/tmp/body; proxy_temp_path $NGX/tmp/proxy; fastcgi_temp_path $NGX/tmp/fcgi;
  uwsgi_temp_path $NGX/tmp/uwsgi; scgi_temp_path $NGX/tmp/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT ssl;
    ssl_certificate $BENCH_S3_TLS_DIR/cert.pem; ssl_certificate_key $BENCH_S3_TLS_DIR/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3; ssl_prefer_server_ciphers on;
    ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256;
    root $NGX/www;
  }
}
CONF
  NGINX_USER=(); [ "$(id -u)" = 0 ] && NGINX_USER=(-g 'user root;')
  nginx -c "$NGX/nginx.conf" -p "$NGX" "${NGINX_USER[@]}"
  wait_port "$NGINX_PORT"; NGINX_PID=$(cat "$NGX/nginx.pid")
fi

if has null-tls; then
  node "$HERE/nulls3.mjs" "$NULL_PORT" "$BENCH_S3_TLS_DIR/cert.pem" "$BENCH_S3_TLS_DIR/key.pem" & NULLS3=$!
  wait_port "$NULL_PORT"
fi

SCHEME=https; [ "$BENCH_S3_SECURE" = 0 ] && SCHEME=http
load() { # target round size count
  local target=$1 round=$2 size=$3 count=$4 prefix="r$(date +%s%N)"
  local common=(--size "$size" --count "$count" --concurrency "$CONC" --max-secs 120)
  case "$target" in
    enclave) (set -a; . "$BENCH_S3_ENV"; set +a; node "$HERE/s3load.mjs" --client raw --prefix "$prefix" "${common[@]}") ;;
    nginx-tls) S3_ENDPOINT=https://127.0.0.1:$NGINX_PORT S3_TLS_INSECURE=1 node "$HERE/s3load.mjs" --client http --ops get --prefix files "${common[@]}" ;;
    s3rver) S3_ENDPOINT=$SCHEME://127.0.0.1:$PEER_PORT S3_TLS_INSECURE=1 S3_ACCESS_KEY=S3RVER S3_SECRET_KEY=S3RVER S3_BUCKET=bench \
      node "$HERE/s3load.mjs" --client raw --prefix "$prefix" "${common[@]}" ;;
    null-tls) S3_ENDPOINT=https://127.0.0.1:$NULL_PORT S3_TLS_INSECURE=1 S3_BUCKET=bench \
      node "$HERE/s3load.mjs" --client raw --ops put,get --prefix "$prefix" "${common[@]}" ;;
  esac 2> >(sed "s/^# /# $target /" >&2) | sed "s/^/$target /; s/\$/ r$round/"
}
: > "$OUT"
for r in $(seq "$RUNS"); do
  for target in $TARGETS; do
    load "$target" "$r" 1048576 "$BIG_COUNT" | tee -a "$OUT"
    load "$target" "$r" 4096 "$SMALL_COUNT" | tee -a "$OUT"
  done
done
echo "# medians (target metric median unit runs: per-round values)"
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => l.split(" "));
const med = (vs) => { vs = [...vs].sort((a, b) => a - b); return vs.length % 2 ? vs[(vs.length - 1) / 2] : (vs[vs.length / 2 - 1] + vs[vs.length / 2]) / 2; };
const by = new Map(), unit = new Map(), at = new Map();
for (const [t, m, v, u, r] of rows) { const k = t + " " + m; by.set(k, [...(by.get(k) ?? []), Number(v)]); unit.set(k, u); at.set(k + " " + r, Number(v)); }
for (const [k, vs] of [...by].sort()) console.log(k, +med(vs).toFixed(3), unit.get(k), "runs:", vs.join(","));
console.log("# checks (check name value unit goal pass|fail; ratios are medians of per-round ratios)");
const rounds = [...new Set(rows.map((r) => r[4]))];
const ratio = (a, b) => { const rs = rounds.map((r) => at.get(a + " " + r) / at.get(b + " " + r)).filter(Number.isFinite); return rs.length ? med(rs) : NaN; };
const check = (name, v, u, goal, ok) => console.log("check", name, Number.isFinite(v) ? +v.toFixed(3) : "n/a", u, goal, !Number.isFinite(v) ? "n/a" : goal === "info" ? "info" : ok(v) ? "pass" : "fail");
const m = (k) => (by.has(k) ? med(by.get(k)) : NaN);
check("enclave_get_1MiB_tput_vs_nginx_tls", ratio("enclave s3_get_1MiB_tput", "nginx-tls s3_get_1MiB_tput"), "ratio", ">=0.40", (v) => v >= 0.4);
check("enclave_put_1MiB_tput", m("enclave s3_put_1MiB_tput"), "MB/s", ">=250", (v) => v >= 250);
check("enclave_put_4KiB_ops", m("enclave s3_put_4KiB_ops"), "ops/s", ">=2000", (v) => v >= 2000);
check("enclave_get_4KiB_ops", m("enclave s3_get_4KiB_ops"), "ops/s", ">=5000", (v) => v >= 5000);
check("enclave_get_4KiB_ops_vs_nginx_tls", ratio("enclave s3_get_4KiB_ops", "nginx-tls s3_get_4KiB_ops"), "ratio", "info", () => true);
for (const op of ["put_1MiB_tput", "get_1MiB_tput", "put_4KiB_ops", "get_4KiB_ops"]) check("enclave_" + op + "_vs_s3rver", ratio("enclave s3_" + op, "s3rver s3_" + op), "ratio", "info", () => true);
' "$OUT"
echo "# raw lines in $OUT"
