#!/usr/bin/env bash
# Throughput and startup of the fake-github release binary on ONE core, measured with wrk.
#
#   fake-github/benches/wrk.sh            # builds (release) if needed, then measures
#
# Env: CARGO_TARGET_DIR (default /work/target-fake), PORT (default 9455), DURATION (10s),
#      CONNECTIONS (32). Needs wrk (.ci/install-fake-github-deps.sh installs it) and taskset.
# The server is pinned to core 0, wrk to core 1, so the figure is what one core serves.
set -euo pipefail

target="${CARGO_TARGET_DIR:-/work/target-fake}"
port="${PORT:-9455}"
duration="${DURATION:-10s}"
conns="${CONNECTIONS:-32}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="$target/release/fake-github"

command -v wrk >/dev/null || { echo "wrk missing: run .ci/install-fake-github-deps.sh" >&2; exit 1; }
if [[ ! -x "$bin" ]]; then
  (cd "$root" && CARGO_TARGET_DIR="$target" cargo build --release -p fake-github --bin fake-github)
fi

start=$(date +%s.%N)
taskset -c 0 "$bin" --seed 7 --orgs 2 --repos 30 --users 20 --listen "127.0.0.1:$port" \
  --now 1700000000 --rate-limit 4000000000 --burst-max 0 --max-concurrent 0 --workers 1 \
  >/tmp/fake-github-bench.log 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$port/_fake/info" >/dev/null; do sleep 0.01; done
ready=$(date +%s.%N)
echo "startup (spawn to first answer): $(echo "$ready - $start" | bc) s"

info=$(curl -sf "http://127.0.0.1:$port/_fake/info")
org=$(echo "$info" | python3 -c 'import json,sys; print(json.load(sys.stdin)["orgs"][0]["login"])')
repo=$(echo "$info" | python3 -c 'import json,sys; print(json.load(sys.stdin)["orgs"][0]["repos"][0])')
auth="Authorization: Bearer fake-token"
base="http://127.0.0.1:$port"

run() {
  echo "== $1"
  echo "   taskset -c 1 wrk -t1 -c$conns -d$duration -H '$auth' '$2'"
  taskset -c 1 wrk -t1 -c"$conns" -d"$duration" -H "$auth" "$2" | grep -E 'Requests/sec|Latency|Non-2xx'
}
run "commits page (100 items, cached)" "$base/repos/$org/$repo/commits?per_page=100"
run "pulls page (state=all, sort=updated)" "$base/repos/$org/$repo/pulls?state=all&sort=updated&direction=desc&per_page=30"
run "org repos page" "$base/orgs/$org/repos?per_page=30"
run "rate_limit (small body)" "$base/rate_limit"
