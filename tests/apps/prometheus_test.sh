#!/usr/bin/env bash
# R-MET against the real thing: a Debian Prometheus server scrapes a load
# harness run's /metrics endpoint; its HTTP API must then report the
# harness's own count of committed events and every subscription's lag at 0.
# `promtool check metrics` lints the exposition, `promtool check rules` the
# shipped alert rules. If Prometheus cannot start, the test fails.
#   tests/apps/prometheus_test.sh SOURCERY_LOAD CONFIG_DIR
set -euo pipefail
load=$1 config=$2
for tool in prometheus promtool curl python3; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool not found (apt-get install prometheus curl python3)" >&2; exit 1; }
done
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$work"/*.log; do echo "--- $f" >&2; tail -n 20 "$f" >&2; done; exit 1; }

# Two free ports (the kernel's pick; released just before use).
read -r hport pport < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')

# Polls `check` (a command) every 0.2 s until it succeeds or `seconds` pass:
# Prometheus and the harness are other processes, seen only through files
# and HTTP, so their state is looked at, with a generous deadline.
wait_for() {
  local seconds=$1 what=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    [ $SECONDS -lt $deadline ] || fail "$what within ${seconds} s"
    sleep 0.2
  done
}

cat > "$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
rule_files: ["$(cd "$config" && pwd)/prometheus/sourcery-alerts.yml"]
scrape_configs:
  - job_name: sourcery
    static_configs:
      - targets: ["127.0.0.1:$hport"]
EOF
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address="127.0.0.1:$pport" --log.level=warn > "$work/prometheus.log" 2>&1 &
pids+=($!)
ready() { curl -sf "http://127.0.0.1:$pport/-/ready" >/dev/null; }
wait_for 60 "Prometheus ready on port $pport" ready

"$load" --config="$config" --scenario=quick --harness.events=20000 --harness.progress-interval=0 \
  --metrics.listen="127.0.0.1:$hport" --metrics.hold=true \
  --harness.report-json="$work/report.json" --harness.report-svg="$work/report.svg" \
  > "$work/harness-out.log" 2> "$work/harness.log" &
harness=$!
pids+=("$harness")
complete() { grep -q "^Run complete: " "$work/harness.log"; }
wait_for 120 "the harness run to complete" complete
events=$(sed -n 's/^Run complete: \([0-9]*\) events committed.*/\1/p' "$work/harness.log")
[ -n "$events" ] && [ "$events" -gt 0 ] || fail "no event count in the harness's output"

# value QUERY: the single value of an instant query, or "none".
value() {
  curl -sf "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1" | python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if len(r) == 1 else "none")'
}
scraped_all() { [ "$(value sourcery_events_committed_total)" = "$events" ]; }
wait_for 60 "Prometheus to scrape sourcery_events_committed_total = $events" scraped_all
caught_up() { [ "$(value 'max(sourcery_subscription_lag_events)')" = "0" ]; }
wait_for 60 "every subscription's lag to reach 0" caught_up
subs=$(value 'count(sourcery_subscription_lag_events)')
[ "$subs" = "2" ] || fail "expected the quick scenario's 2 subscriptions, Prometheus has $subs"
echo "Prometheus: sourcery_events_committed_total = $events (the harness's count), $subs subscriptions at lag 0"

curl -sf "http://127.0.0.1:$hport/metrics" > "$work/exposition.txt" || fail "GET /metrics"
promtool check metrics < "$work/exposition.txt" > "$work/promtool.log" 2>&1 \
  || fail "promtool check metrics: $(cat "$work/promtool.log")"
promtool check rules "$config/prometheus/sourcery-alerts.yml" > "$work/rules.log" 2>&1 \
  || fail "promtool check rules: $(cat "$work/rules.log")"
echo "promtool: the exposition ($(grep -c '^# TYPE' "$work/exposition.txt") metrics) and the alert rules pass"

# Every query of the shipped dashboard parses and runs on this Prometheus.
python3 - "$(dirname "$0")/../../docs/grafana-dashboard.json" "$pport" <<'PY' || fail "a dashboard query"
import json, sys, urllib.parse, urllib.request
dash, port = json.load(open(sys.argv[1])), sys.argv[2]
exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
for e in exprs:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": e})
    try:
        urllib.request.urlopen(url).read()
    except Exception as x:
        sys.exit(f"dashboard query {e!r}: {x}")
print(f"dashboard: its {len(exprs)} queries run")
PY

kill -INT "$harness"
wait "$harness" || fail "the harness exited with $? after Ctrl-C (0 expected: verified, stopped cleanly)"
grep -q '"passed":true' "$work/report.json" || fail "the harness's verification did not pass"
echo "PASSED"
