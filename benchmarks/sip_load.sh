#!/usr/bin/env bash
# SIP load through Kamailio into the IVR worker pool: calls at rising rates, each pressing 2 (RFC 2833) to
# reach the general queue and held there with music on hold, then hanging up. Run by hand (not a test):
#
#   benchmarks/sip_load.sh [--workers N] [--rates "2 4 8"] [--hold SECONDS] [--duration SECONDS] [--idle SECONDS]
#
# It starts a private Redis, and `omniroute serve --no-gateway` with telephony enabled (Kamailio and N
# workers, 2 callers each) from a generated routing.yaml, using the test IVR flow (tests/telephony/flows.py).
# For each rate it runs sipp for --duration seconds of new calls and prints: calls, failed calls, the most
# calls up at once, call setup time (INVITE -> 200) p50/p99, the CPU seconds per second of the step used by
# the worker pool, by `omniroute serve` (router, pool supervisor, event forwarder), by Kamailio and by sipp,
# and the 1-minute load average at its end. Before the rates it measures the idle pool for --idle seconds.
# "Held with no failure" is the highest rate whose calls all succeeded. Run it under
# `flock -x /tmp/omniroute-bench.lock` on a shared machine.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=$ROOT/.venv/bin/python
WORKERS=8
RATES="2 4 8"
HOLD=4
DURATION=10
IDLE=5
while [ $# -gt 0 ]; do
    case $1 in
        --workers) WORKERS=$2; shift 2 ;;
        --rates) RATES=$2; shift 2 ;;
        --hold) HOLD=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --idle) IDLE=$2; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "sip_load: unknown argument $1" >&2; exit 2 ;;
    esac
done
for tool in sipp redis-server; do
    command -v "$tool" >/dev/null || { echo "sip_load: $tool missing: scripts/bootstrap.sh sipp kamailio redis-server" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/omniroute-sip-load.XXXXXX)
redis_pid="" serve_pid=""
cleanup() {  # every step may fail (serve already gone): set -e must not skip the rest, or Redis outlives us
    if [ -n "$serve_pid" ]; then kill -TERM "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
    if [ -n "$redis_pid" ]; then kill -TERM "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

redis_port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
redis_pid=$!
REDIS_URL=redis://127.0.0.1:$redis_port/0

# routing.yaml, prompts, music on hold, and the caller scenario; prints "SIP_PORT MEDIA_PORT"
read -r SIP_PORT MEDIA_PORT < <("$PY" - "$WORK" "$WORKERS" "$HOLD" <<'EOF'
import sys
from pathlib import Path
from tests.telephony import sipp
from tests.telephony.harness import Ports, voice_yaml, write_wav
work, workers, hold = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
def clash(p):  # the workers' SIP ports, sipp's media ports and the workers' RTP ranges must not overlap
    rtp = {q for i in range(workers) for q in range(p.rtp + 100 * i, p.rtp + 100 * i + 16)}
    return rtp & ({p.sip, *range(p.worker, p.worker + workers), *range(p.media, p.media + 80)})
ports = Ports(workers)
while clash(ports):
    ports = Ports(workers)
(work / "prompts").mkdir()
for name in ("main", "sub"):
    write_wav(work / "prompts" / f"{name}.wav", 4)
write_wav(work / "moh.wav", 5, 330)
yaml = voice_yaml("bench", ports, workers=workers, offer_timeout=20, allow="[127.0.0.0/8]",
                  flood="{requests: 100000, per: 1}")
# the product's defaults, not the tests' faster ones (heartbeat 0.5 s, probes every 1 s)
yaml = yaml.replace("probe_interval: 1\n", "probe_interval: 2\n").replace("heartbeat: 0.5\n", "heartbeat: 1\n")
(work / "routing.yaml").write_text(yaml)
(work / "caller.xml").write_text(sipp.caller("2", hold_ms=int(hold * 1000)))
print(ports.sip, ports.media)
EOF
)

OMNIROUTE_IVR_FLOW=tests.telephony.flows:menu OMNIROUTE_TEST_PROMPTS=$WORK/prompts \
    "$ROOT/.venv/bin/omniroute" serve --config "$WORK/routing.yaml" --redis "$REDIS_URL" --no-gateway \
    >"$WORK/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 300); do grep -q "SIP (callers)" "$WORK/serve.log" && break; sleep 0.1; done
grep -q "SIP (callers)" "$WORK/serve.log" || {
    echo "sip_load: serve did not start:"; grep -iE "assert|abort|error" "$WORK/serve.log" | head -10; tail -30 "$WORK/serve.log"
    exit 1
}

# CPU seconds (user+system) of a set of pids, from /proc
cpu_of() { "$PY" -c '
import os, sys
tick = os.sysconf("SC_CLK_TCK"); total = 0
for pid in sys.argv[1:]:
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        total += int(f[11]) + int(f[12])
    except OSError:
        pass
print(total / tick)' "$@"; }
worker_pids() { pgrep -f "telephony.worker --config $WORK/routing.yaml" | tr '\n' ' '; }
kamailio_pids() { pgrep -f "kamailio -DD -E -f /tmp/omniroute-kamailio" | tr '\n' ' '; }

echo
echo "SIP load: $WORKERS workers (2 callers each = $((WORKERS * 2)) calls at once), hold ${HOLD}s + IVR, ${DURATION}s per rate"
read -ra wp <<<"$(worker_pids)"
sleep 2  # the last workers' first OPTIONS probes and heartbeats
w0=$(cpu_of "${wp[@]}"); sleep "$IDLE"; w1=$(cpu_of "${wp[@]}")
"$PY" -c "c = ($w1 - $w0) / $IDLE; print(f'idle pool: {c:.2f} cores ({c / $WORKERS * 100:.2f}% of a core per worker)')"
printf '%6s %7s %7s %9s %10s %10s %11s %12s %10s %11s %6s\n' "cps" "calls" "failed" "max_up" "setup_p50" "setup_p99" \
    "pool_cpu/s" "serve_cpu/s" "kam_cpu/s" "sipp_cpu/s" "load1"
best=""
for rate in $RATES; do
    calls=$("$PY" -c "print(max(1, round($rate * $DURATION)))")
    step=$WORK/rate$rate
    mkdir -p "$step"
    read -ra wp <<<"$(worker_pids)"
    read -ra kp <<<"$(kamailio_pids)"
    w0=$(cpu_of "${wp[@]}"); k0=$(cpu_of "${kp[@]}"); s0=$(cpu_of "$serve_pid"); t0=$(date +%s.%N)
    set +e
    (cd "$step" && /usr/bin/time -f "%U %S" -o "$step/sipp.time" sipp -sf "$WORK/caller.xml" -i 127.0.0.1 -mi 127.0.0.1 -mp "$MEDIA_PORT" -s ivr \
        -r "$rate" -m "$calls" -l 10000 -nostdin -trace_stat -fd 1 -trace_rtt -rtt_freq 1 \
        -trace_err -error_file "$step/errors.log" \
        "127.0.0.1:$SIP_PORT" >sipp.log 2>&1)
    set -e
    w1=$(cpu_of "${wp[@]}"); k1=$(cpu_of "${kp[@]}"); s1=$(cpu_of "$serve_pid"); t1=$(date +%s.%N)
    read -r done_calls failed max_up p50 p99 < <("$PY" - "$step" <<'EOF'
import csv, glob, sys
step = sys.argv[1]
rows = list(csv.reader(open(glob.glob(f"{step}/*_.csv")[0]), delimiter=";"))
head, last = rows[0], rows[-1]
col = {name: i for i, name in enumerate(head)}
ok, failed = int(last[col["SuccessfulCall(C)"]]), int(last[col["FailedCall(C)"]])
up = max(int(r[col["CurrentCall"]]) for r in rows[1:])
rtts = []
for path in glob.glob(f"{step}/*_rtt.csv"):
    for r in list(csv.reader(open(path), delimiter=";"))[1:]:
        if len(r) >= 2 and r[1]:  # Date_ms;response_time_ms;rtd_no
            rtts.append(float(r[1]))
rtts.sort()
pct = lambda p: rtts[min(len(rtts) - 1, int(p * len(rtts)))] if rtts else float("nan")
print(ok + failed, failed, up, f"{pct(0.5):.1f}ms", f"{pct(0.99):.1f}ms")
EOF
)
    secs=$("$PY" -c "print($t1 - $t0)")
    pool_cpu=$("$PY" -c "print(f'{($w1 - $w0) / $secs:.2f}')")
    kam_cpu=$("$PY" -c "print(f'{($k1 - $k0) / $secs:.2f}')")
    serve_cpu=$("$PY" -c "print(f'{($s1 - $s0) / $secs:.2f}')")
    sipp_cpu=$("$PY" -c "u, s = open('$step/sipp.time').read().split()[-2:]; print(f'{(float(u) + float(s)) / $secs:.2f}')")
    load1=$(cut -d' ' -f1 /proc/loadavg)
    printf '%6s %7s %7s %9s %10s %10s %11s %12s %10s %11s %6s\n' "$rate" "$done_calls" "$failed" "$max_up" "$p50" "$p99" \
        "$pool_cpu" "$serve_cpu" "$kam_cpu" "$sipp_cpu" "$load1"
    if [ "$failed" = 0 ]; then
        best=$rate
    elif [ -f "$step/errors.log" ]; then  # why calls failed, most frequent first
        grep -oE "(Aborting call on [a-z ]+|while expecting '[0-9]+'[^,]*|received 'SIP/2.0 [0-9]+ [A-Za-z ]+)" \
            "$step/errors.log" | sort | uniq -c | sort -rn | head -3 | sed 's/^/         /'
    fi
done
echo
echo "highest rate with no failed call: ${best:-none} calls/s"
