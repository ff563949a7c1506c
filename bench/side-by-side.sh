#!/usr/bin/env bash
# Side by side, in one run, against the same local submission server (STARTTLS + AUTH XOAUTH2, every
# token checked) and the same HTTPS token endpoint that MSAL4J calls:
#   (a) Jakarta Mail on one reused, authenticated connection: the limit;
#   (b) stock camel-mail `smtp` producer with an authenticator backed by MSAL4J: a connection per message;
#   (c) Mailgate (the packaged jar) end to end from its outbox folder;
#   (d) Mailgate end to end from its JMS queue (a JMS client over the embedded broker's TCP acceptor).
# Each sender runs in a JVM of its own. Everything is run twice: on plain loopback, and with every byte the
# server sends held back by DELAY ms (default 20) by a proxy in front of it, as at Internet distances.
# Prints messages/s, latency p50/p95, token requests, SMTP connections and peak RSS; with --write the
# tables replace the "Side by side" section of BENCHMARKS.md. MAILGATE_* variables pass through to the
# gateway (e.g. to compare settings); BENCH_MODES=raw,jms runs some senders only; BENCH_GATEWAY_OPTS adds
# JVM options to the gateway (e.g. a flight recording).
#
#   bench/side-by-side.sh [N=1000] [N at a distance=200] [DELAY ms=20] [--write]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
write=false
args=()
for arg in "$@"; do
  case "$arg" in
    --write) write=true ;;
    *) args+=("$arg") ;;
  esac
done
count=${args[0]:-1000}
far=${args[1]:-200}
delay=${args[2]:-20}

# the jar, and the test classes whose servers the benchmark runs
if [ ! -f target/mailgate.jar ] || [ ! -d target/test-classes/dev/mailgate/support ]; then
  mvn -B -ntp -q -DskipTests package
fi
[ -f target/bench.classpath ] || mvn -B -ntp -q dependency:build-classpath -Dmdep.includeScope=test \
  -Dmdep.outputFile=target/bench.classpath
cp="target/classes:target/test-classes:$(cat target/bench.classpath)"

work=$(mktemp -d)
cleanup() { [ -n "${KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"; }
trap cleanup EXIT

java -cp "$cp" -Dlogback.configurationFile="$root/bench/logback-bench.xml" bench/SideBySide.java run "$root" "$work" "$count" "$far" "$delay" > "$work/result.md"
cat "$work/result.md"

if $write; then
  python3 "$root/bench/write-section.py" "Side by side" "$root/BENCHMARKS.md" "$work/result.md"
fi
