#!/usr/bin/env bash
# Runs every Rust test binary (unit and integration tests) under valgrind
# memcheck: any invalid read or write, use of uninitialised memory or
# definite leak fails the run. Property tests run fewer cases here
# (PROPTEST_CASES), since memcheck slows each one about fifty-fold.
# Three binaries are left out: c_abi runs its C and C++ programs under
# valgrind itself, keyed_memory measures the process's resident size,
# which memcheck's shadow memory would swamp (and takes minutes there), and
# rust_dependent runs cargo and nm, none of floodgate's code.
set -euo pipefail
cd "$(dirname "$0")/.."

binaries=$(cargo test --all-features --quiet --no-run --message-format=json 2>/dev/null |
    python3 -c '
import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message.get("executable") \
            and message["target"]["kind"] != ["bench"] and message["profile"]["test"]:
        print(message["executable"])
')

count=0
for binary in $binaries; do
    name=$(basename "$binary")
    case "${name%-*}" in c_abi | keyed_memory | rust_dependent) continue ;; esac
    printf 'memcheck %s\n' "$name"
    PROPTEST_CASES=${PROPTEST_CASES:-8} timeout 900 valgrind --quiet --error-exitcode=99 \
        --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
        --show-possibly-lost=no \
        "$binary" --quiet --test-threads=2 >/tmp/floodgate-memcheck.log 2>&1 || {
        cat /tmp/floodgate-memcheck.log
        echo "memcheck failed on $name"
        exit 1
    }
    count=$((count + 1))
done
printf 'memcheck: %d test binaries clean\n' "$count"
