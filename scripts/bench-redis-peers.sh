#!/usr/bin/env bash
# floodgate's Redis store against the Redis peers on one redis-server, one
# run: rate-limiter-flexible's RateLimiterRedis (Node, over ioredis) beside
# floodgate's Node RedisLimiter, and limits' Redis storage (Python) beside
# floodgate's Python KeyedLimiter(store=...). The Rust API's own figures and
# the redis-benchmark floor are `cargo bench --features redis --bench redis`.
#
#   bash scripts/bench-redis-peers.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d)"

bash "$root/scripts/redis-server.sh" install
url="$(bash "$root/scripts/redis-server.sh" start "$scratch")"
trap 'bash "$root/scripts/redis-server.sh" stop "$scratch"; rm -rf "$scratch"' EXIT

echo "== Node: floodgate RedisLimiter and rate-limiter-flexible (same server: $url)"
(cd "$root" && cargo rustc --release --lib --features capi,redis --crate-type cdylib,staticlib --quiet)
(cd "$root/bindings/node" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
    && FLOODGATE_DEV_BUILD=1 node bench/redis.js "$url")

echo "== Python: floodgate KeyedLimiter(store=...) and limits (same server)"
# shellcheck source=../bindings/python/venv.sh
source "$root/bindings/python/venv.sh" -r "$root/bindings/python/requirements-bench.txt"
"$venv/bin/python" "$root/bindings/python/bench_redis.py" "$url"
