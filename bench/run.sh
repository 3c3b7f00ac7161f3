#!/usr/bin/env bash
# npm run bench  ->  bash bench/run.sh
# 1. installs the benchmark's own dependencies (bench/package-lock.json) on first use;
# 2. builds the library (npm run build at the root: dist/);
# 3. starts a private redis-server on a free loopback port, stopped by its PID on exit;
# 4. runs every scenario (bench/run-all.mjs), the fleet scenario (fleet-report.mjs), the Cluster
#    comparison (scale-out-report.mjs), server-assisted invalidation (tracking-report.mjs) and the capacity
#    model (capacity.mjs: fleets of 2-32 processes on its own Redis and Cluster), and writes
#    bench/results.json, bench/RESULTS.md, bench/capacity.json and bench/CAPACITY.md;
# 5. renders the results as SVG charts in bench/charts/ (charts.mjs, Vega-Lite).
# Env: BENCH_QUICK=1 short smoke run; BENCH_ONLY=l1-hit,l2-hit,miss,stampede-1proc,stampede-4proc,http,memory;
#      BENCH_SKIP_BUILD=1 use the existing dist/; BENCH_SKIP_OURS=1 peers only; BENCH_SKIP_CAPACITY=1 no
#      capacity runs (the charts then draw the recorded bench/capacity.json).
set -euo pipefail

export BENCH_T0="$(date +%s.%N)"
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
cd "$ROOT"

log() { printf '[bench] %s\n' "$*" >&2; }

command -v redis-server >/dev/null || { log "redis-server not found (Debian: apt-get install -y redis-server)"; exit 1; }
command -v wrk >/dev/null || log "wrk not found: the HTTP scenario falls back to autocannon (apt-get install -y wrk for wrk)"

if [ ! -d "$ROOT/node_modules" ]; then
  log "root node_modules missing: npm ci"
  npm ci
fi
if [ ! -d "$BENCH_DIR/node_modules" ]; then
  log "installing benchmark dependencies (bench/, once)"
  (cd "$BENCH_DIR" && npm ci --legacy-peer-deps --no-audit --no-fund)
fi

if [ "${BENCH_SKIP_BUILD:-0}" != "1" ]; then
  log "building the library (npm run build)"
  if ! npm run build >&2; then
    log "WARNING: npm run build failed; nestjs-tiered-cache variants will use whatever dist/ holds (or be skipped)"
    export BENCH_BUILD_FAILED=1
  fi
fi

mkdir -p "$BENCH_DIR/.runs"
# Snapshot the build: others may rebuild (rm -rf dist) while the benchmark runs.
if [ -f "$ROOT/dist/index.js" ]; then
  rm -rf "$BENCH_DIR/.runs/dist.tmp" && cp -r "$ROOT/dist" "$BENCH_DIR/.runs/dist.tmp"
  rm -rf "$BENCH_DIR/.runs/dist" && mv "$BENCH_DIR/.runs/dist.tmp" "$BENCH_DIR/.runs/dist"
  export BENCH_OURS_DIST="$BENCH_DIR/.runs/dist/index.js"
elif [ "${BENCH_SKIP_OURS:-0}" != "1" ]; then
  log "WARNING: dist/index.js not found: nestjs-tiered-cache variants are skipped"
  export BENCH_SKIP_OURS=1
fi
REDIS_PID=""
cleanup() {
  if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }

for attempt in 1 2 3 4 5; do
  PORT="$(free_port)"
  redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    --logfile "$BENCH_DIR/.runs/redis.log" >/dev/null 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 1 50); do
    if redis-cli -p "$PORT" ping >/dev/null 2>&1; then break; fi
    sleep 0.05
  done
  if redis-cli -p "$PORT" ping >/dev/null 2>&1; then break; fi
  log "redis-server did not start on port $PORT (attempt $attempt)"
  cleanup
  REDIS_PID=""
done
[ -n "$REDIS_PID" ] || { log "could not start redis-server"; exit 1; }
log "redis-server pid $REDIS_PID on 127.0.0.1:$PORT"

export BENCH_REDIS_URL="redis://127.0.0.1:$PORT"
node "$BENCH_DIR/run-all.mjs"
if [ -z "${BENCH_ONLY:-}" ] && [ "${BENCH_SKIP_OURS:-0}" != "1" ]; then
  node "$BENCH_DIR/fleet-report.mjs"
  node "$BENCH_DIR/scale-out-report.mjs"
  node "$BENCH_DIR/tracking-report.mjs"
  if [ "${BENCH_SKIP_CAPACITY:-0}" != "1" ]; then
    node "$BENCH_DIR/capacity.mjs" || log "WARNING: the capacity runs failed; bench/capacity.json keeps the previous run"
  fi
  # The hand-written evidence for any goal still missed.
  { echo; cat "$BENCH_DIR/ANALYSIS.md"; } >> "$BENCH_DIR/RESULTS.md"
fi
if node "$BENCH_DIR/charts.mjs"; then
  {
    echo
    echo "## Charts"
    echo
    echo "Rendered by \`bench/charts.mjs\` (Vega-Lite) from bench/results.json and bench/capacity.json; the capacity model: bench/CAPACITY.md."
    for f in "$BENCH_DIR"/charts/*.svg; do echo; echo "![$(basename "$f" .svg)](charts/$(basename "$f"))"; done
  } >> "$BENCH_DIR/RESULTS.md"
else
  log "WARNING: charts were not rendered"
fi
log "done in $(node -e "console.log(((Date.now()/1000)-Number(process.env.BENCH_T0)).toFixed(0))") s: bench/RESULTS.md, bench/results.json"
