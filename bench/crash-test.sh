#!/usr/bin/env bash
# Crash test with the full backlog: src/test/java/dev/mailgate/CrashIT.java with 200 requests per kill point
# (100 outbox files + 100 JMS messages) instead of the 40 that `mvn verify` runs in CI.
#
# For each kill point (after a third of the backlog reached the SMTP server; in the middle of DATA; right at
# start-up) the packaged jar is started as its own process against a local STARTTLS + XOAUTH2 SMTP server and token
# endpoint, killed with SIGKILL, restarted on the same folders, and checked: every request delivered, extra copies at
# most the sends in flight at the kill (SENDING rows in the killed process's journal + an interrupted outbox
# hand-off), every outbox file in .sent/ only, and the journal's SENT rows = the delivery ids the server received.
#
#   bench/crash-test.sh [backlog] [--rebuild]
#
# backlog: requests per kill point (default 200). The jar is built when target/mailgate.jar is missing or older
# than the sources, or always with --rebuild. Prints a summary table; the test's full output is in
# target/failsafe-reports/dev.mailgate.CrashIT-output.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
backlog=200
rebuild=false
for arg in "$@"; do
  case "$arg" in
    --rebuild) rebuild=true ;;
    *[!0-9]*|'') echo "usage: bench/crash-test.sh [backlog] [--rebuild]" >&2; exit 64 ;;
    *) backlog=$arg ;;
  esac
done

# Maven's quiet output, without the colour escapes it prints even in batch mode
quiet() { sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d'; }

if $rebuild || [ ! -f target/mailgate.jar ] || [ -n "$(find src/main pom.xml -newer target/mailgate.jar | head -1)" ]; then
  mvn -B -ntp -q -DskipTests package 2>&1 | quiet
fi

output=target/failsafe-reports/dev.mailgate.CrashIT-output.txt
rm -f "$output"
status=0
start=$(date +%s)
# test-compile keeps the test classes current; the test runs the jar in target/ as a separate process
mvn -B -ntp -q test-compile failsafe:integration-test failsafe:verify -Dit.test=CrashIT \
  -Dmailgate.crash.backlog="$backlog" 2>&1 | quiet || status=$?
elapsed=$(( $(date +%s) - start ))

field() { grep -o "$1=[^ ]*" <<<"$2" | head -1 | cut -d= -f2; }

echo
echo "Crash test: $backlog requests per kill point, kill -9 mid-flight, restart on the same folders (${elapsed}s in all)"
echo
printf '| %-13s | %8s | %7s | %9s | %10s | %12s | %-30s | %5s | %7s |\n' "kill point" requests "at kill" delivered \
  duplicates "extra copies" "in flight at the kill" bound seconds
echo '|---|---:|---:|---:|---:|---:|---|---:|---:|'
if [ -f "$output" ]; then
  grep '^CRASH-TEST kill=' "$output" | while IFS= read -r line; do
    inflight="$(field inFlightAtKill "$line") ($(field sendingAtKill "$line") sending + $(field handOffsAtKill "$line") hand-off)"
    printf '| %-13s | %8s | %7s | %9s | %10s | %12s | %-30s | %5s | %7s |\n' "$(field kill "$line")" \
      "$(field requests "$line")" "$(field receivedAtKill "$line")" "$(field delivered "$line")" \
      "$(field duplicates "$line")" "$(field extraCopies "$line")" "$inflight" "$(field bound "$line")" \
      "$(field seconds "$line")"
  done
  grep '^CRASH-TEST NOTE' "$output" || true
fi
echo
echo "at kill: mails the server had when the process died; duplicates: requests received more than once;"
echo "in flight: journal rows SENDING at the kill + outbox files queued but not yet moved to .queued/;"
echo "asserted: extra copies <= in flight <= bound (mailgate.jms.consumers + 1)."
if [ "$status" -ne 0 ]; then
  echo
  echo "CRASH TEST FAILED (exit $status): see target/failsafe-reports/ (dev.mailgate.CrashIT.txt and -output.txt)"
fi
exit "$status"
