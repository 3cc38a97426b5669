#!/usr/bin/env bash
# The `./run-tests.sh SUITE` of the CI recipes, stood in by
# ci_recipes_run_test.py: checks that the job's environment names its leased
# stack and that the stack answers there, and records the suite in
# $STATE/tests.log. With $STATE/hold present it then waits (at most 120 s)
# after writing $STATE/holding.<pid>, so the test can cancel the job here.
# The test copies it into each job's folder with STATE= filled in.
set -euo pipefail
STATE="${STATE:?}"
suite="${1:?usage: run-tests.sh SUITE}"
fail() { echo "run-tests.sh ($suite): FAIL: $*" >&2; exit 1; }

vars=(REDIS_PORT REDIS_URL COMPOSE_PROJECT_NAME PORTLEASE_LEASE_ID)
[ "$suite" = redis ] ||
  vars+=(WORKER_PORT ORCH_PORT HEALTH_PORT METRICS_PORT WORKER_ADDR ORCH_WS_URL
         HEALTH_URL METRICS_URL)
for var in "${vars[@]}"; do
  [ -n "${!var:-}" ] || fail "$var is not set"
  [[ "${!var}" != [\'\"]* ]] || fail "$var keeps its quotes: ${!var}"
done
[ "$REDIS_URL" = "redis://127.0.0.1:$REDIS_PORT" ] || fail "REDIS_URL=$REDIS_URL"
[ "$(timeout 5 redis-cli -p "$REDIS_PORT" ping)" = PONG ] ||
  fail "no Redis on REDIS_PORT=$REDIS_PORT"
if [ "$suite" != redis ]; then
  pong="$(timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "PING\n" >&3 &&
    head -n 1 <&3' _ "$WORKER_PORT")" || fail "worker on WORKER_PORT=$WORKER_PORT"
  [ "$pong" = "PONG worker" ] || fail "worker answered '$pong'"
  health="$(timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" &&
    printf "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" >&3 &&
    head -n 1 <&3' _ "$HEALTH_PORT")" || fail "health on HEALTH_PORT=$HEALTH_PORT"
  [[ "$health" == "HTTP/1.1 200 "* ]] || fail "GET /healthz answered '$health'"
fi
echo "$suite $COMPOSE_PROJECT_NAME $REDIS_PORT ${GITHUB_JOB:-${CI_JOB_NAME:-}}" >>"$STATE/tests.log"
echo "run-tests.sh: suite $suite passed on $COMPOSE_PROJECT_NAME (redis $REDIS_PORT)"

if [ -e "$STATE/hold" ]; then
  echo "$PWD" >"$STATE/holding.$$"
  for _ in $(seq 120); do sleep 1; done
  fail "held for 120 s and nobody cancelled the job"
fi
