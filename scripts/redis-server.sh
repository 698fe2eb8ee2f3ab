#!/usr/bin/env bash
# A throwaway redis-server for the Redis store's benchmarks and manual runs
# (the tests in tests/redis_*.rs start their own): no persistence, bound to
# 127.0.0.1 on a free port, stopped by its PID.
#
#   scripts/redis-server.sh install      # Debian's redis-server, if missing
#   scripts/redis-server.sh start DIR    # prints redis://127.0.0.1:PORT/
#   scripts/redis-server.sh stop DIR
set -euo pipefail

usage() {
    echo "usage: $0 install | start DIR | stop DIR" >&2
    exit 2
}

case "${1:-}" in
install)
    if ! command -v redis-server >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    fi
    ;;
start)
    dir=${2:-}
    [ -n "$dir" ] || usage
    mkdir -p "$dir"
    # The kernel picks a free port; it is released before the server binds
    # it, which on a test machine nothing else races for.
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$dir" >"$dir/redis.log" 2>&1 &
    echo $! >"$dir/pid"
    echo "$port" >"$dir/port"
    for _ in $(seq 200); do
        if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
            echo "redis://127.0.0.1:$port/"
            exit 0
        fi
        kill -0 "$(cat "$dir/pid")" 2>/dev/null || break
        sleep 0.1
    done
    echo "redis-server did not start; its log:" >&2
    cat "$dir/redis.log" >&2
    exit 1
    ;;
stop)
    dir=${2:-}
    [ -n "$dir" ] && [ -f "$dir/pid" ] || usage
    pid=$(cat "$dir/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$dir/pid"; exit 0; }
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/pid"
    ;;
*) usage ;;
esac
