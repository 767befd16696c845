# Sourced by the live checks: starts `github-stats-exporter --demo` on its own port, against the
# local Redis (own namespace) and RabbitMQ (own queue names), with per-org election, so that every
# family the exporter can serve appears. `demo_start NAME PORT` sets DEMO_URL, DEMO_FAKE (the
# embedded fake GitHub's base URL), DEMO_ORGS (comma-separated) and DEMO_LOG; the process is stopped when the shell exits.
# Needs: curl, python3, Redis on 127.0.0.1:6379, RabbitMQ on 127.0.0.1:5672 (guest/guest).

EXPORTER_BIN="${EXPORTER_BIN:-target/debug/github-stats-exporter}"
# The standalone fake GitHub (built with its `faults` feature, which the exporter's embedded
# demo fake leaves out), for checks that inject faults: `DEMO_STANDALONE_FAKE=1 demo_start …`.
FAKE_BIN="${FAKE_BIN:-target/debug/fake-github}"

demo_build() {
  if [ ! -x "$EXPORTER_BIN" ] || [ "$EXPORTER_BIN" = target/debug/github-stats-exporter ]; then
    cargo build --locked -p github-stats-exporter
  fi
  if [ "${DEMO_STANDALONE_FAKE:-}" = 1 ] && { [ ! -x "$FAKE_BIN" ] || [ "$FAKE_BIN" = target/debug/fake-github ]; }; then
    cargo build --locked -p fake-github --bin fake-github
  fi
}

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.5 s until it succeeds.
wait_for() {
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "timed out waiting for: $what" >&2
      [ -n "${DEMO_LOG:-}" ] && tail -n 30 "$DEMO_LOG" >&2
      return 1
    fi
    sleep 0.5
  done
}

# demo_log_field NAME: NAME's value in the demo's JSON start-up line.
demo_log_field() {
  python3 -c 'import json, sys
for line in open(sys.argv[1]):
    try:
        event = json.loads(line)
    except ValueError:
        continue
    if sys.argv[2] in event:
        print(event[sys.argv[2]])
        break' "$DEMO_LOG" "$1"
}

demo_start() {
  local name=$1 port=$2 ns
  ns="ci-${name}-$$"
  DEMO_NS=$ns
  DEMO_LOG="$(mktemp -t "demo-${name}.XXXXXX.log")"
  DEMO_URL="http://127.0.0.1:${port}"
  local mode=(--demo)
  if [ "${DEMO_STANDALONE_FAKE:-}" = 1 ]; then
    fake_start "$((port + 1))"
    mode=()
  fi
  env GITHUB_STATS_SERVER__LISTEN_ADDR="127.0.0.1:${port}" \
    GITHUB_STATS_SERVER__LOG_FORMAT=json \
    GITHUB_STATS_STORE__REDIS_URL=redis://127.0.0.1:6379/0 \
    GITHUB_STATS_STORE__NAMESPACE="$ns" \
    GITHUB_STATS_AMQP__URL='amqp://guest:guest@127.0.0.1:5672/%2f' \
    GITHUB_STATS_AMQP__EXCHANGE="$ns.x" GITHUB_STATS_AMQP__QUEUE="$ns.jobs" \
    GITHUB_STATS_AMQP__DLQ="$ns.dlq" \
    GITHUB_STATS_LEADER_ELECTION__ENABLED=true GITHUB_STATS_LEADER_ELECTION__MODE=per_org \
    GITHUB_STATS_BACKFILL__MAX_ATTEMPTS=1 GITHUB_STATS_BACKFILL__REQUEUE_DELAYS=1s \
    GITHUB_STATS_BACKFILL__COALESCE_WINDOW=1s \
    "$EXPORTER_BIN" "${mode[@]}" >"$DEMO_LOG" 2>&1 &
  DEMO_PID=$!
  trap 'demo_stop' EXIT
  if [ "${DEMO_STANDALONE_FAKE:-}" != 1 ]; then
    wait_for 60 "the demo's fake GitHub in the log" grep -q '"fake_github"' "$DEMO_LOG"
    DEMO_FAKE="$(demo_log_field fake_github)"
    DEMO_ORGS="$(demo_log_field orgs)"
  fi
  wait_for 60 "$DEMO_URL/readyz" curl -fsS "$DEMO_URL/readyz"
}

# Starts the standalone fake GitHub (3 orgs of 20 repositories, like the demo) on PORT and sets
# DEMO_FAKE, DEMO_ORGS and the exporter's `mode` arguments/environment to scrape it.
fake_start() {
  local port=$1
  DEMO_FAKE="http://127.0.0.1:${port}"
  "$FAKE_BIN" --orgs 3 --repos 20 --users 12 --listen "127.0.0.1:${port}" \
    --rate-limit 1000000 --stats-compute-calls 1 >"${DEMO_LOG}.fake" 2>&1 &
  DEMO_FAKE_PID=$!
  wait_for 60 "$DEMO_FAKE/_fake/info" curl -fsS "$DEMO_FAKE/_fake/info"
  DEMO_ORGS="$(curl -fsS "$DEMO_FAKE/_fake/info" |
    python3 -c 'import json, sys; print(",".join(o["login"] for o in json.load(sys.stdin)["orgs"]))')"
  export GITHUB_STATS_GITHUB__API_BASE_URL="$DEMO_FAKE/" GITHUB_STATS_GITHUB__TOKEN=fake-token \
    GITHUB_STATS_GITHUB__ORGS="$DEMO_ORGS" GITHUB_STATS_GITHUB__SCRAPE_INTERVAL=10s
}

# Makes every cycle of the demo's last org fail, so that backfill jobs are enqueued, consumed
# and (max_attempts 1) dead-lettered: the backfill families appear. Needs the standalone fake
# (`DEMO_STANDALONE_FAKE=1`): the embedded demo fake has no fault injection.
demo_fail_one_org() {
  local org=${DEMO_ORGS##*,}
  curl -fsS -X POST "$DEMO_FAKE/_fake/faults" -H 'content-type: application/json' \
    -d "{\"path_regex\":\"/orgs/${org}/.*\",\"status\":500,\"count\":1000000}" >/dev/null
  echo "$org"
}

demo_stop() {
  if [ -n "${DEMO_PID:-}" ] && kill -0 "$DEMO_PID" 2>/dev/null; then
    kill -TERM "$DEMO_PID"
    wait "$DEMO_PID" || true
  fi
  if [ -n "${DEMO_FAKE_PID:-}" ]; then
    kill -TERM "$DEMO_FAKE_PID" 2>/dev/null || true
    wait "$DEMO_FAKE_PID" 2>/dev/null || true
    DEMO_FAKE_PID=
  fi
  DEMO_PID=
  # Remove what this run created in the shared Redis and RabbitMQ (its own names only).
  if [ -n "${DEMO_NS:-}" ]; then
    redis-cli -h 127.0.0.1 -p 6379 --scan --pattern "${DEMO_NS}:*" |
      xargs -r -n 100 redis-cli -h 127.0.0.1 -p 6379 del >/dev/null || true
    rabbitmqctl list_queues -q name 2>/dev/null | grep "^${DEMO_NS}\." |
      while read -r queue; do rabbitmqctl delete_queue -q "$queue" </dev/null >/dev/null || true; done
  fi
}
