#!/usr/bin/env bash
# Outbox -> sandbox benchmark: starts the packaged gateway on embedded defaults in a scratch
# directory, drops N MailRequests (default 200) into outbox/ at once, waits for every receipt,
# and prints messages/s, latency percentiles, token requests and peak RSS. Per-mailbox pacing is
# lifted (every request comes from the one default sender): this measures Mailgate's own path. With --write, the
# result replaces the "Outbox to sandbox" section of BENCHMARKS.md.
#
#   bench/outbox-bench.sh [N] [--write]
#
# Environment variables of the gateway (MAILGATE_*) pass through, e.g.
# MAILGATE_OUTBOX_SETTLE_TIME=200ms bench/outbox-bench.sh 200
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
count=200
write=false
for arg in "$@"; do
  case "$arg" in
    --write) write=true ;;
    *) count=$arg ;;
  esac
done

[ -f target/mailgate.jar ] || mvn -B -ntp -q -DskipTests package

work=$(mktemp -d)
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

(cd "$work" && MAILGATE_LIMITS_MESSAGES_PER_MINUTE=1000000 exec java -jar "$root/target/mailgate.jar" > mailgate.log 2>&1) &
pid=$!

java "$root/bench/OutboxBench.java" "$work" "$count" "$pid" > "$work/result.md"
cat "$work/result.md"

if $write; then
  python3 "$root/bench/write-section.py" "Outbox to sandbox" "$root/BENCHMARKS.md" "$work/result.md"
fi
