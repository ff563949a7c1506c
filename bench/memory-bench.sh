#!/usr/bin/env bash
# Memory of the packaged gateway in the sandbox, in two runs:
#  1. on JVM defaults, N small requests (default 10000) POSTed to the HTTP API and delivered by the JMS channel
#     to the sandbox SMTP server, never more than a few hundred ahead of the deliveries; after the warm-up (a
#     tenth of N) and at a quarter, half, three quarters and all of N delivered, after a 50 s pause (the journal
#     keeps the last 45 s of commits), the heap in use after a full GC (jcmd GC.run, GC.heap_info), metaspace,
#     threads, RSS and the journal's file. A leak shows as heap that grows with the count;
#  2. with -Xmx128m, one request with a 30 MB attachment of random bytes dropped into the outbox
#     (mailgate.limits.max-message-size raised to 50MB, as an admin who raised Exchange's MaxSendSize would):
#     the time to its receipt, the peak RSS, and the attachment checked at the sandbox server.
# Pacing, the 24-hour recipient limit and the HTTP rate limit are lifted: this measures Mailgate's own path. With
# --write, the tables replace the results of the "Memory" section of BENCHMARKS.md (created if missing).
#
#   bench/memory-bench.sh [N] [--write]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
count=10000
write=false
for arg in "$@"; do
  case "$arg" in
    --write) write=true ;;
    *[!0-9]*|'') echo "usage: bench/memory-bench.sh [N] [--write]" >&2; exit 64 ;;
    *) count=$arg ;;
  esac
done

[ -f target/mailgate.jar ] || mvn -B -ntp -q -DskipTests package

work=$(mktemp -d)
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

key="bench-key-$(date +%s%N)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start <dir> <java options...>: the gateway on embedded defaults in <dir>, its limits lifted
start() {
  local dir=$1
  shift
  mkdir -p "$dir"
  (cd "$dir" && MAILGATE_HTTP_API_KEYS="$key" MAILGATE_HTTP_PORT="$port" MAILGATE_BROKER_PORT=0 \
    MAILGATE_LIMITS_MESSAGES_PER_MINUTE=1000000 MAILGATE_LIMITS_RECIPIENTS_PER_DAY=1000000000 \
    MAILGATE_HTTP_REQUESTS_PER_MINUTE=1000000 \
    exec java "$@" -jar "$root/target/mailgate.jar" > mailgate.log 2>&1) &
  pid=$!
}

port=$(free_port)
start "$work/steady"
java "$root/bench/MemoryBench.java" steady "$work/steady" "$port" "$key" "$count" "$pid" > "$work/steady.md"
kill "$pid"; wait "$pid" 2>/dev/null || true

large_options="-Xmx128m -XX:+ExitOnOutOfMemoryError"
port=$(free_port)
MAILGATE_LIMITS_MAX_MESSAGE_SIZE=50MB start "$work/large" $large_options
java "$root/bench/MemoryBench.java" large "$work/large" 30 "$pid" "$large_options" > "$work/large.md"
kill "$pid"; wait "$pid" 2>/dev/null || true
pid=

cat "$work/steady.md" <(echo) "$work/large.md" | tee "$work/result.md"

if $write; then
  # the section's introduction is written by hand; a first run gives it a placeholder
  grep -q '^## Memory$' BENCHMARKS.md || printf '\n## Memory\n\n`bench/memory-bench.sh`: see the script.\n\n<!-- results -->\n' \
    >> BENCHMARKS.md
  python3 "$root/bench/write-section.py" "Memory" "$root/BENCHMARKS.md" "$work/result.md"
fi
