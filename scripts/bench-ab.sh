#!/usr/bin/env bash
# A same-run A/B of one criterion bench at two commits: builds the bench
# binary at each (in detached worktrees under target/ab), then runs the two
# alternately, ROUNDS times, and prints each benchmark's median per round.
# On a shared, noisy machine only figures from one such run compare.
#
#   bash scripts/bench-ab.sh BEFORE AFTER BENCH [FILTER]
#   e.g. bash scripts/bench-ab.sh c7fa4a5 HEAD core direct/
#
# Environment: ROUNDS (default 2), FEATURES (cargo features for the build,
# default none), MEASURE (criterion measurement seconds, default 1).
set -euo pipefail
before=$1 after=$2 bench=$3 filter=${4:-}
rounds=${ROUNDS:-2} measure=${MEASURE:-1}
root=$(git rev-parse --show-toplevel)
cd "$root"

build() { # rev -> path of the bench binary
  local rev sha dir
  rev=$1
  sha=$(git rev-parse --short "$rev")
  dir=target/ab/$sha
  [ -d "$dir" ] || git worktree add -q --detach "$dir" "$sha"
  (cd "$dir" && CARGO_TARGET_DIR="$root/target/ab-build/$sha" \
    timeout 1800 cargo bench --bench "$bench" ${FEATURES:+--features "$FEATURES"} --no-run \
    --message-format=json 2>/dev/null) |
    grep '"executable":"' | grep "\"name\":\"$bench\"" | tail -1 |
    sed 's/.*"executable":"\([^"]*\)".*/\1/'
}

a=$(build "$before")
b=$(build "$after")
for round in $(seq "$rounds"); do
  for side in before after; do
    binary=$a
    [ "$side" = after ] && binary=$b
    echo "== round $round, $side ($(basename "$(dirname "$(dirname "$(dirname "$binary")")")"))"
    timeout 1800 "$binary" --bench --measurement-time "$measure" --warm-up-time 0.5 --noplot \
      ${filter:+"$filter"} 2>/dev/null |
      awk '/time:/ { name = $0; sub(/ *time:.*/, "", name); gsub(/^ +/, "", name)
                     if (name == "") name = previous
                     median = $0; sub(/.*time: +\[[^ ]+ [^ ]+ /, "", median); sub(/ [^ ]+ [^ ]+\]$/, "", median)
                     print name "\t" median; next }
           NF { previous = $0; gsub(/^ +| +$/, "", previous) }'
  done
done
