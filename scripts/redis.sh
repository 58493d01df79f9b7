#!/usr/bin/env bash
# The private Redis of `make run`.
#
#   scripts/redis.sh start|stop|status [DIR] [PORT]
#
#   DIR   data directory (default $OMNIROUTE_REDIS_DIR, else .omniroute/redis in the checkout); it holds
#         the append-only file, dump.rdb, redis.pid and redis.log.
#   PORT  port on 127.0.0.1 (default $OMNIROUTE_REDIS_PORT, else 6390).
#
# start   starts redis-server daemonized (appendonly yes, appendfsync everysec, bound to 127.0.0.1) and
#         waits until it answers PING; does nothing if it runs already. Fails, saying so, if another
#         process holds the port.
# stop    SHUTDOWN SAVE: the data stays on disk for the next start.
# status  prints the state; exit 0 when running, 3 when not.
#
# The redis:// URL is printed on stdout by start and status (so: url=$(scripts/redis.sh start)).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

cmd=${1:-}
DIR=${2:-${OMNIROUTE_REDIS_DIR:-$ROOT/.omniroute/redis}}
PORT=${3:-${OMNIROUTE_REDIS_PORT:-6390}}
START_TIMEOUT=${OMNIROUTE_REDIS_START_TIMEOUT:-60}  # seconds; loading a large AOF takes a while

say() { printf 'redis.sh: %s\n' "$*" >&2; }
die() { printf 'redis.sh: error: %s\n' "$*" >&2; exit 1; }

case $cmd in
    start|stop|status) ;;
    *) echo "usage: $0 start|stop|status [DIR] [PORT]" >&2; exit 2 ;;
esac
if ! [[ $PORT =~ ^[0-9]+$ ]] || [ "$PORT" -lt 1 ] || [ "$PORT" -gt 65535 ]; then die "bad port '$PORT'"; fi

for bin in redis-server redis-cli; do
    command -v $bin >/dev/null 2>&1 ||
        die "$bin not found: run scripts/bootstrap.sh redis-server (or apt-get install redis-server redis-tools)"
done

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd -P)
PIDFILE=$DIR/redis.pid
LOGFILE=$DIR/redis.log
URL=redis://127.0.0.1:$PORT/0

cli() { redis-cli -h 127.0.0.1 -p "$PORT" "$@"; }

# Is something listening on the port?
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

# The pid from the pidfile, if that process is alive.
our_pid() {
    local pid
    [ -s "$PIDFILE" ] || return 1
    pid=$(<"$PIDFILE")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    # a stale pidfile whose pid now belongs to something else is not ours
    [ "$(cat "/proc/$pid/comm" 2>/dev/null || echo redis-server)" = redis-server ] || return 1
    echo "$pid"
}

# Is the Redis answering on the port ours (its process id is the one in our pidfile)?
ours_on_port() {
    local pid info
    pid=$(our_pid) || return 1
    info=$(cli INFO server 2>/dev/null | tr -d '\r') || return 1
    grep -qx "process_id:$pid" <<<"$info"
}

who_holds_port() {
    local line=""
    if command -v ss >/dev/null 2>&1; then
        line=$(ss -Hltnp "sport = :$PORT" 2>/dev/null | grep -o 'users:(.*)' | head -1 || true)
    fi
    if [ -z "$line" ] && command -v fuser >/dev/null 2>&1; then
        line=$(fuser -n tcp "$PORT" 2>/dev/null | xargs -r ps -o pid=,args= -p 2>/dev/null | head -1 || true)
    fi
    echo "${line:-an unknown process}"
}

status() {
    if ours_on_port; then
        say "running: $URL (pid $(our_pid)), data in $DIR"
        echo "$URL"
        return 0
    fi
    say "not running (port $PORT, data dir $DIR)"
    return 3
}

start() {
    if ours_on_port; then
        say "already running: $URL (pid $(our_pid)), data in $DIR"
        echo "$URL"
        return 0
    fi
    if port_open; then
        die "port $PORT on 127.0.0.1 is taken by another process ($(who_holds_port)).
  Stop it, or use another port: OMNIROUTE_REDIS_PORT=$((PORT + 1)) make run"
    fi
    if pid=$(our_pid); then
        # A live process in our pidfile but not answering on our port: probably starting, or stuck.
        die "redis-server pid $pid (from $PIDFILE) is alive but does not answer on port $PORT; see $LOGFILE"
    fi
    rm -f "$PIDFILE"
    say "starting redis-server on 127.0.0.1:$PORT, data in $DIR"
    redis-server \
        --port "$PORT" \
        --bind 127.0.0.1 \
        --protected-mode yes \
        --dir "$DIR" \
        --appendonly yes \
        --appendfsync everysec \
        --daemonize yes \
        --pidfile "$PIDFILE" \
        --logfile "$LOGFILE" ||
        die "redis-server failed to start; last lines of $LOGFILE:
$(tail -n 20 "$LOGFILE" 2>/dev/null)"
    local deadline=$((SECONDS + START_TIMEOUT)) reply
    while :; do
        reply=$(cli PING 2>/dev/null || true)
        if [ "$reply" = PONG ] && ours_on_port; then break; fi
        if [ $SECONDS -ge $deadline ]; then
            die "redis-server did not answer PING within ${START_TIMEOUT}s; last lines of $LOGFILE:
$(tail -n 20 "$LOGFILE" 2>/dev/null)"
        fi
        # pidfile written and process gone: it died (bad config, AOF damaged, ...)
        if [ -s "$PIDFILE" ] && ! our_pid >/dev/null; then
            die "redis-server exited during start; last lines of $LOGFILE:
$(tail -n 20 "$LOGFILE" 2>/dev/null)"
        fi
        sleep 0.1
    done
    say "running: $URL (pid $(our_pid))"
    echo "$URL"
}

stop() {
    local pid
    if ! pid=$(our_pid); then
        say "not running (port $PORT, data dir $DIR)"
        rm -f "$PIDFILE"
        return 0
    fi
    if ! ours_on_port; then
        die "pid $pid (from $PIDFILE) is alive but the Redis on port $PORT is not it; not stopping anything"
    fi
    say "stopping redis-server pid $pid (SHUTDOWN SAVE; data stays in $DIR)"
    local out
    out=$(cli SHUTDOWN SAVE 2>&1 || true)
    if [ -n "$out" ] && kill -0 "$pid" 2>/dev/null; then
        # e.g. "ERR Errors trying to SHUTDOWN. Check logs." when the save failed: Redis keeps running.
        die "SHUTDOWN SAVE refused: $out (see $LOGFILE); Redis is still running"
    fi
    local deadline=$((SECONDS + 60))
    while kill -0 "$pid" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || die "redis-server pid $pid did not exit within 60s after SHUTDOWN SAVE"
        sleep 0.1
    done
    rm -f "$PIDFILE"
    say "stopped"
}

$cmd
