#!/usr/bin/env bash
# `make run`: the product on this machine. A private Redis (unless REDIS_URL is set) and
# `omniroute serve` in the foreground. Ctrl-C (or SIGTERM) stops both; Redis keeps its data on disk.
#
#   scripts/run.sh [extra omniroute serve arguments...]
#
# Environment:
#   REDIS_URL               use this Redis instead of starting the private one (only or:{tenant}:* keys
#                           are touched there)
#   OMNIROUTE_CONFIG        routing configuration (default routing.yaml)
#   OMNIROUTE_REDIS_PORT    port of the private Redis (default 6390)
#   OMNIROUTE_REDIS_DIR     data directory of the private Redis (default .omniroute/redis)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

CONFIG=${OMNIROUTE_CONFIG:-routing.yaml}
REDIS_DIR=${OMNIROUTE_REDIS_DIR:-$ROOT/.omniroute/redis}
REDIS_PORT=${OMNIROUTE_REDIS_PORT:-6390}

say() { printf 'run: %s\n' "$*" >&2; }

if [ -n "${REDIS_URL:-}" ]; then
    scripts/bootstrap.sh
else
    scripts/bootstrap.sh redis-server redis-cli
fi

[ -f "$CONFIG" ] || { say "error: config file $CONFIG not found"; exit 1; }

# Telephony (routing.yaml telephony.enabled): omniroute serve starts Kamailio and the IVR worker pool.
if "$ROOT/.venv/bin/python" -c 'import sys; from router.config.loader import load
sys.exit(0 if load(sys.argv[1]).telephony.enabled else 1)' "$CONFIG" 2>/dev/null; then
    scripts/bootstrap.sh --no-venv kamailio espeak-ng sox
    # The IVR speaks from WAVs: render the text prompts that changed (a no-op when none did).
    "$ROOT/.venv/bin/omniroute" prompts build --config "$CONFIG" || exit 1
fi

started_redis=0
child=""

# shellcheck disable=SC2317  # (trap handlers)
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
        kill -TERM "$child" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$child" 2>/dev/null; then
            say "omniroute did not stop within 10s: killing it"
            kill -KILL "$child" 2>/dev/null || true
        fi
        wait "$child" 2>/dev/null || true
    fi
    if [ "$started_redis" = 1 ]; then
        scripts/redis.sh stop "$REDIS_DIR" "$REDIS_PORT" || rc=1
    fi
    exit "$rc"
}
trap cleanup EXIT
# Forward the stop request to omniroute and wait for it in the loop below; cleanup runs on EXIT.
# shellcheck disable=SC2317
on_signal() {
    stop_requested=1
    if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null || true; else exit 130; fi
}
stop_requested=0
trap on_signal INT TERM

if [ -n "${REDIS_URL:-}" ]; then
    redis_url=$REDIS_URL
    redis_where="from REDIS_URL; not started or stopped here"
else
    started_redis=1  # set before starting: a failed or interrupted start still gets `stop` (a no-op if down)
    redis_url=$(scripts/redis.sh start "$REDIS_DIR" "$REDIS_PORT")
    redis_where="private; data in ${REDIS_DIR#"$ROOT"/}, kept when stopped"
fi

# never print a password given in the URL
shown_url=$(sed -E 's#//([^@/]*:)?[^@/]*@#//***@#' <<<"$redis_url")

cat <<EOF

  Omniroute
  ---------
  Redis     $shown_url  ($redis_where)
  Config    $CONFIG
EOF
# `omniroute serve` prints the gateway's URLs (agent desktop, web chat, wallboard, metrics) once it listens.
cat <<EOF
  Demo      make demo   (in another terminal: scripted agents and customers; log in yourself as a01)
  Stop      Ctrl-C

EOF

"$ROOT/.venv/bin/omniroute" serve --config "$CONFIG" --redis "$redis_url" "$@" &
child=$!
[ $stop_requested = 0 ] || kill -TERM "$child" 2>/dev/null || true
while :; do
    set +e
    wait "$child"
    rc=$?
    set -e
    # wait returns early (rc > 128) when a trapped signal arrives; keep waiting until omniroute has exited
    kill -0 "$child" 2>/dev/null || break
done
if [ "$rc" -gt 128 ]; then  # that wait may have been the interrupted one: ask for the real exit status
    set +e; wait "$child" 2>/dev/null; rc2=$?; set -e
    [ $rc2 -eq 127 ] || rc=$rc2
fi
child=""
if [ "$stop_requested" = 1 ] && [ "$rc" -ne 0 ]; then
    say "omniroute exited with status $rc after the stop request"
fi
exit "$rc"
