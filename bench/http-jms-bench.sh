#!/usr/bin/env bash
# HTTP and JMS benchmark on the packaged gateway in the sandbox:
#  1. requests/s accepted by POST /api/v1/messages into the durable queue, at concurrency 1 and 16
#     (the JMS route is left out for this phase, so the numbers are the hand-off alone);
#  2. the gateway restarted with its default routes: the JMS channel drains that backlog into the
#     sandbox SMTP server, and the delivery rate is measured.
# Per-mailbox pacing is lifted (every request has the same sender): this measures Mailgate's own path.
# With --write, the result replaces the "HTTP and JMS" section of BENCHMARKS.md.
#
#   bench/http-jms-bench.sh [N at concurrency 1] [N at concurrency 16] [--write]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
serial=300
parallel=1200
write=false
args=()
for arg in "$@"; do
  case "$arg" in
    --write) write=true ;;
    *) args+=("$arg") ;;
  esac
done
[ ${#args[@]} -ge 1 ] && serial=${args[0]}
[ ${#args[@]} -ge 2 ] && parallel=${args[1]}

[ -f target/mailgate.jar ] || mvn -B -ntp -q -DskipTests package

work=$(mktemp -d)
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

key="bench-key-$(date +%s%N)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/ingest-routes"
cp routes/outbox.yaml "$work/ingest-routes/"

start() {
  (cd "$work" && MAILGATE_HTTP_API_KEYS="$key" MAILGATE_HTTP_PORT="$port" MAILGATE_BROKER_PORT=0 \
    MAILGATE_ROUTES_DIR="$1" MAILGATE_LIMITS_MESSAGES_PER_MINUTE=1000000 exec java -jar "$root/target/mailgate.jar" >> mailgate.log 2>&1) &
  pid=$!
}

start "$work/ingest-routes"
java "$root/bench/HttpJmsBench.java" ingest "$work" "$port" "$key" "$serial" "$parallel" "$pid" > "$work/ingest.md"
kill "$pid"; wait "$pid" 2>/dev/null || true
start "$root/routes"
java "$root/bench/HttpJmsBench.java" drain "$work" "$port" "$key" "$serial" "$parallel" "$pid" > "$work/drain.md"
cat "$work/ingest.md" "$work/drain.md" | tee "$work/result.md"

if $write; then
  python3 "$root/bench/write-section.py" "HTTP and JMS" "$root/BENCHMARKS.md" "$work/result.md"
fi
