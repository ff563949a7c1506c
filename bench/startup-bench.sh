#!/usr/bin/env bash
# Start-up benchmark: launches the packaged gateway on embedded defaults (sandbox SMTP server and token
# endpoint, embedded Artemis broker, H2 journal, HTTP API, routes from the jar) and measures the wall time
# from `java -jar` until GET /health/ready answers 200 (the journal, broker, outbox, routes and consumers
# are up). Each run starts it in a fresh empty directory (cold) and then again in the same directory
# (warm: the broker journal, H2 journal and generated secrets already exist); then both again with the class
# data sharing archive that `mvn package` writes (java -XX:SharedArchiveFile=target/mailgate.jsa -jar ...).
# Prints min / median / max of that time, of launch to "routes started" in the log (text format), of the
# gateway's CPU time and of its peak RSS, with the machine's load average: on 2 cores start-up is
# CPU-bound, so other processes stretch it. With --write, the result replaces the "Start-up" section of
# BENCHMARKS.md.
#
#   bench/startup-bench.sh [runs (default 5)] [--write]
#
# Environment variables of the gateway (MAILGATE_*) pass through; HTTP and broker ports are chosen free
# for every start. KEEP=1 keeps the scratch directories (with mailgate.log).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
runs=5
write=false
for arg in "$@"; do
  case "$arg" in
    --write) write=true ;;
    *) runs=$arg ;;
  esac
done

[ -f target/mailgate.jar ] && [ -f target/mailgate.jsa ] || mvn -B -ntp -q -DskipTests package

result=$(mktemp)
trap 'rm -f "$result"' EXIT
archive=()
[ -f target/mailgate.jsa ] && archive=("$root/target/mailgate.jsa")  # absent with -Dmailgate.cds.skip
java "$root/bench/StartupBench.java" "$root/target/mailgate.jar" "$runs" "${archive[@]}" > "$result"
cat "$result"

if $write; then
  python3 "$root/bench/write-section.py" "Start-up" "$root/BENCHMARKS.md" "$result"
fi
