#!/usr/bin/env bash
# The 100,000-client target (pushbench issue 14, item 4): 100,000 concurrent SSE clients on this
# one machine, server and load generator sharing its cores, one message every 5 s to all of them
# (one topic, 0.2 msg/s) for a 60 s window. Targets: nothing lost, p99 <= 2 s; reported: server
# and load-generator memory per client.
#
# One process may hold at most `ulimit -n` descriptors (20,000 here) and the script does not raise
# it: the server runs as SERVER_PROCS SO_REUSEPORT processes (`--server-processes`) and the
# clients as LOADGEN_PROCS worker processes (`--processes`), both picked so that each process
# holds about PER_PROC connections (well under the limit). Clients are spread over enough
# loopback source addresses (127.0.0.x) that none uses more than half of the ephemeral port
# range (/proc/sys/net/ipv4/ip_local_port_range) towards the server's one port.
#
# While the run goes, a sampler writes samples.csv into the run directory once a second:
# MemAvailable, the summed RSS of the server processes and of the load-generator processes, the
# busiest process's descriptor count, whole-machine CPU use (/proc/stat) and TCP sockets
# (/proc/net/sockstat). At the end the script prints the figures from the run's summary.json,
# a PASS/FAIL line against the targets, and, if the run failed, which resource ran out first
# (memory, ports, descriptors, CPU / time-outs) with the figures behind it.
#
#   scripts/bench-100k.sh [OUT_DIR]
#
# Knobs (environment): CLIENTS (100000), RATE (0.2 msg/s), DURATION (60s), RAMP_UP (2500 conn/s),
# WARMUP (10s), DRAIN (10s), PER_PROC (13000 connections per process), SERVER_PROCS and
# LOADGEN_PROCS (default: ceil(CLIENTS / PER_PROC)), SOURCE_ADDRS (default: 127.0.0.1-127.0.0.N,
# N picked from the port range), P99_TARGET_MS (2000), BENCH_NO_BUILD=1 (use the built binary),
# PUSHBENCH_BIN (the binary to run), CARGO_TARGET_DIR.
# Exit status: 0 PASS, 1 FAIL or the run failed, 2 a prerequisite is missing.
# Every step is bounded by `timeout`; Ctrl-C stops the run (partial results kept) and the sampler.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
clients="${CLIENTS:-100000}"
rate="${RATE:-0.2}"
duration="${DURATION:-60s}"
ramp_up="${RAMP_UP:-2500}"
warmup="${WARMUP:-10s}"
drain="${DRAIN:-10s}"
per_proc="${PER_PROC:-13000}"
p99_target_ms="${P99_TARGET_MS:-2000}"
out="${1:-$root/results/bench-100k-$(date -u +%Y%m%d-%H%M%S)}"

die() { echo "bench-100k: $*" >&2; exit 2; }
secs() { # "60s", "500ms", "2m", "60" -> whole seconds (rounded up)
    case "$1" in
        *ms) echo $(((${1%ms} + 999) / 1000)) ;;
        *s) echo "${1%s}" ;;
        *m) echo $((${1%m} * 60)) ;;
        *) echo "$1" ;;
    esac
}
for tool in python3 timeout ps awk; do
    command -v "$tool" >/dev/null || die "needs $tool"
done
[[ "$clients" =~ ^[0-9]+$ ]] && [ "$clients" -gt 0 ] || die "CLIENTS must be a positive integer"
[[ "$per_proc" =~ ^[0-9]+$ ]] && [ "$per_proc" -gt 0 ] || die "PER_PROC must be a positive integer"

# --- the binary ---------------------------------------------------------------------------------
if [ -n "${PUSHBENCH_BIN:-}" ]; then
    bin="$PUSHBENCH_BIN"
else
    if [ "${BENCH_NO_BUILD:-}" != 1 ]; then
        timeout 1800 cargo build --release -p loadgen --manifest-path "$root/Cargo.toml" >&2
    fi
    bin="${CARGO_TARGET_DIR:-$root/target}/release/pushbench"
fi
[ -x "$bin" ] || die "no pushbench binary at $bin (build it, or set PUSHBENCH_BIN)"

# --- what it will need --------------------------------------------------------------------------
fd_limit="$(ulimit -n)"
[ "$fd_limit" = unlimited ] && fd_limit=1048576
procs=$(((clients + per_proc - 1) / per_proc))
server_procs="${SERVER_PROCS:-$procs}"
loadgen_procs="${LOADGEN_PROCS:-$procs}"
server_fds=$(((clients + server_procs - 1) / server_procs + 64))
loadgen_fds=$(((clients + loadgen_procs - 1) / loadgen_procs + 64))
read -r port_lo port_hi </proc/sys/net/ipv4/ip_local_port_range
ports=$((port_hi - port_lo + 1))
if [ -n "${SOURCE_ADDRS:-}" ]; then
    source_addrs="$SOURCE_ADDRS"
    case "$source_addrs" in
        *-*) lo="${source_addrs%%-*}" hi="${source_addrs##*-}"; n_addrs=$((${hi##*.} - ${lo##*.} + 1)) ;;
        *) n_addrs=$(($(tr -cd , <<<"$source_addrs" | wc -c) + 1)) ;;
    esac
    [ "$n_addrs" -ge 1 ] || die "SOURCE_ADDRS: cannot count the addresses of $source_addrs"
else
    n_addrs=$(((clients + ports / 2 - 1) / (ports / 2)))
    [ "$n_addrs" -lt 1 ] && n_addrs=1
    source_addrs="127.0.0.1-127.0.0.$n_addrs"
fi
per_addr=$(((clients + n_addrs - 1) / n_addrs))
mem_total_kib="$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
mem_avail_kib="$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)"
# Measured at 50,000 clients (docs/SCALING.md): ~12 KiB a connection in the server, ~10 KiB in
# the load generator, plus the kernel's two socket ends; 40 KiB a client leaves room.
mem_need_kib=$((clients * 40))
ramp_s=$(((clients + ramp_up - 1) / ramp_up))
run_s=$((ramp_s + $(secs "$warmup") + $(secs "$duration") + $(secs "$drain")))
limit_s=$((run_s * 2 + 180))

cat >&2 <<EOF
bench-100k: $clients SSE clients, one topic, $rate msg/s, window $duration (ramp-up $ramp_up conn/s = ${ramp_s} s, warm-up $warmup, drain $drain)
  descriptors: limit $fd_limit per process (not raised)
    server: $server_procs processes, ~$server_fds descriptors each
    load generator: $loadgen_procs worker processes, ~$loadgen_fds descriptors each
  ports: $ports ephemeral ($port_lo-$port_hi) per source address, $n_addrs addresses ($source_addrs), ~$per_addr clients each
  memory: ~$((mem_need_kib / 1024)) MiB wanted (40 KiB a client), $((mem_avail_kib / 1024)) MiB available of $((mem_total_kib / 1024)) MiB
  cores: $(nproc), load average $(cut -d' ' -f1-3 /proc/loadavg)
  run: ~${run_s} s, bounded at ${limit_s} s; run directory $out
EOF
[ "$server_fds" -lt $((fd_limit * 9 / 10)) ] || die "server processes would need ~$server_fds descriptors each (limit $fd_limit): raise SERVER_PROCS"
[ "$loadgen_fds" -lt $((fd_limit * 9 / 10)) ] || die "load-generator processes would need ~$loadgen_fds descriptors each (limit $fd_limit): raise LOADGEN_PROCS"
[ "$per_addr" -lt "$ports" ] || die "~$per_addr clients per source address, only $ports ports: more SOURCE_ADDRS"
[ "$mem_avail_kib" -gt "$mem_need_kib" ] ||
    echo "bench-100k: warning: less memory available than wanted; the run may run out of it" >&2

# --- the run and the sampler ---------------------------------------------------------------------
mkdir -p "$out"
samples="$out/samples.csv"
run_pid=""
sampler_pid=""
cleanup() {
    trap - EXIT INT TERM
    if [ -n "$run_pid" ] && kill -0 "$run_pid" 2>/dev/null; then
        kill -INT "$run_pid" 2>/dev/null || true # timeout passes it on: pushbench keeps partial results
        for _ in $(seq 1 30); do kill -0 "$run_pid" 2>/dev/null || break; sleep 1; done
        kill -KILL "$run_pid" 2>/dev/null || true
    fi
    if [ -n "$sampler_pid" ]; then kill "$sampler_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'echo "bench-100k: interrupted" >&2; cleanup; exit 130' INT TERM

# sample ROOT_PID: one CSV row a second while ROOT_PID lives. Server processes are those whose
# command line holds ` serve` (the supervisor and its SO_REUSEPORT children); every other process
# below the run (the coordinator, the workers) is the load generator.
sample() {
    local root_pid="$1" t0 prev_busy=0 prev_total=0
    t0="$(date +%s.%N)"
    echo "t_s,mem_available_kib,server_rss_kib,loadgen_rss_kib,server_procs,loadgen_procs,max_fds,cpu_busy_pct,tcp_inuse,tcp_tw,tcp_alloc,tcp_mem_pages"
    while kill -0 "$root_pid" 2>/dev/null; do
        local now cpu busy total pct procs_line fds max_fds=0 pid sock
        now="$(date +%s.%N)"
        cpu="$(awk '/^cpu / {b=$2+$3+$4+$7+$8+$9; print b, b+$5+$6}' /proc/stat)"
        busy="${cpu% *}"
        total="${cpu#* }"
        pct=""
        if [ "$prev_total" -gt 0 ] && [ "$total" -gt "$prev_total" ]; then
            pct=$(((busy - prev_busy) * 100 / (total - prev_total)))
        fi
        prev_busy="$busy"
        prev_total="$total"
        # pid kind rss for every process below root_pid (root included)
        procs_line="$(ps -e -o pid=,ppid=,rss=,args= | awk -v root="$root_pid" '
            { pid[NR]=$1; ppid[NR]=$2; rss[NR]=$3; srv[NR]=($0 ~ / serve( |$)/) }
            END {
                keep[root]=1; changed=1
                while (changed) { changed=0
                    for (i=1;i<=NR;i++) if (!(pid[i] in keep) && (ppid[i] in keep)) { keep[pid[i]]=1; changed=1 } }
                for (i=1;i<=NR;i++) if (pid[i] in keep) {
                    if (srv[i]) { s+=rss[i]; sn++ } else { l+=rss[i]; ln++ }
                    pids = pids " " pid[i] }
                printf "%d %d %d %d%s\n", s, l, sn, ln, pids }')"
        read -r s_rss l_rss s_n l_n pids <<<"$procs_line"
        for pid in $pids; do
            fds="$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
            [ "$fds" -gt "$max_fds" ] && max_fds="$fds"
        done
        sock="$(awk '/^TCP:/ {for (i=2;i<NF;i+=2) v[$i]=$(i+1); print v["inuse"]+0, v["tw"]+0, v["alloc"]+0, v["mem"]+0}' /proc/net/sockstat)"
        printf '%.1f,%s,%s,%s,%s,%s,%s,%s,%s\n' \
            "$(echo "$now - $t0" | awk '{print $1 - $3}')" \
            "$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)" \
            "$s_rss" "$l_rss" "$s_n" "$l_n" "$max_fds" "$pct" "${sock// /,}"
        sleep 1
    done
}

set +e
timeout --signal=INT --kill-after=60 "$limit_s" "$bin" run \
    --techniques sse --clients "$clients" --topics 1 --rate "$rate" --payload-bytes 256 \
    --server-processes "$server_procs" --processes "$loadgen_procs" \
    --source-addrs "$source_addrs" --ramp-up "$ramp_up" \
    --warmup "$warmup" --duration "$duration" --drain "$drain" \
    --connect-timeout 30s --read-timeout 60s \
    --out "$out" --no-report 2> >(tee "$out/run.log" >&2) &
run_pid=$!
sample "$run_pid" >"$samples" &
sampler_pid=$!
wait "$run_pid"
status=$?
run_pid=""
set -e
sleep 1.5 # the sampler's last row
kill "$sampler_pid" 2>/dev/null || true
sampler_pid=""
echo "bench-100k: pushbench run exited $status" >&2

# --- the figures ---------------------------------------------------------------------------------
python3 - "$out" "$status" "$p99_target_ms" "$fd_limit" "$ports" "$per_addr" "$mem_total_kib" <<'PY'
import csv, json, sys
from pathlib import Path

out, status, p99_target_ms = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
fd_limit, ports, per_addr, mem_total = (int(a) for a in sys.argv[4:8])
KIB = 1024

rows = []
try:
    with open(out / "samples.csv") as f:
        for r in csv.DictReader(f):
            rows.append({k: (float(v) if v not in ("", None) else None) for k, v in r.items()})
except OSError:
    pass

def peak(key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return max(vals) if vals else None

tech = None
try:
    summary = json.loads((out / "summary.json").read_text())
    techs = summary["techniques"] if isinstance(summary, dict) else summary
    tech = next((t for t in techs if t.get("technique") == "sse"), None)
except (OSError, ValueError, KeyError, StopIteration):
    pass

# connections open, from timeseries.csv: the highest count, and the lowest in the window
connected_max = connected_min_steady = None
try:
    with open(out / "timeseries.csv") as f:
        ts = [r for r in csv.DictReader(f) if r.get("technique") == "sse"]
    conns = [int(float(r["connections"])) for r in ts if r.get("connections")]
    steady = [int(float(r["connections"])) for r in ts if r.get("phase") == "steady" and r.get("connections")]
    connected_max = max(conns) if conns else None
    connected_min_steady = min(steady) if steady else None
except (OSError, ValueError, KeyError):
    pass

def ms(us):
    return "n/a" if us is None else f"{us / 1000:.0f} ms"

verdict_ok = False
if tech is None:
    print("no summary.json for sse: the run did not finish (see run.log)")
else:
    n = tech.get("clients") or 0
    lat = tech.get("latency_us") or {}
    lost = tech.get("lost")
    srv, idle, lg = tech.get("server_rss_bytes"), tech.get("server_rss_idle_bytes"), tech.get("loadgen_rss_bytes")
    dur = tech.get("duration_s") or 0
    print(f"clients: {n}; connected: peak {connected_max}, lowest in the window {connected_min_steady}")
    print(f"delivered {tech.get('delivered')} / expected {tech.get('expected')}, lost {lost}, "
          f"duplicates {tech.get('duplicates')}, reconnects {tech.get('reconnects')}, "
          f"published {tech.get('published')}, publish failures {tech.get('publish_failures')}")
    print(f"latency p50 {ms(lat.get('p50'))}, p99 {ms(lat.get('p99'))}, max {ms(lat.get('max'))}")
    cm = tech.get("connect_ms") or {}
    print(f"connect p50 {cm.get('p50')} ms, p99 {cm.get('p99')} ms, max {cm.get('max')} ms")
    if srv and n:
        per = (srv - (idle or 0)) / n / KIB
        print(f"server RSS: peak {srv / KIB / KIB:.0f} MiB (idle {(idle or 0) / KIB / KIB:.0f} MiB), "
              f"{per:.1f} KiB per client")
    if lg and n:
        print(f"load-generator RSS: peak {lg / KIB / KIB:.0f} MiB, {lg / n / KIB:.1f} KiB per client "
              f"(coordinator + workers)")
    if dur:
        sc, lc = tech.get("server_cpu_s"), tech.get("loadgen_cpu_s")
        print(f"CPU in the {dur:.0f} s window: server {sc} s ({(sc or 0) / dur:.2f} cores), "
              f"load generator {lc} s ({(lc or 0) / dur:.2f} cores)")
    print(f"errors {tech.get('errors')}, failure {tech.get('failure')}")
    p99 = lat.get("p99")
    verdict_ok = (status == 0 and tech.get("failure") is None and lost == 0
                  and tech.get("delivered") and p99 is not None and p99 <= p99_target_ms * 1000)

if rows:
    pcpu, pfd = peak("cpu_busy_pct"), peak("max_fds")
    mins = [r["mem_available_kib"] for r in rows if r.get("mem_available_kib") is not None]
    print(f"sampled ({len(rows)} s): peak CPU {pcpu:.0f}% of the machine, "
          f"lowest MemAvailable {min(mins) / KIB:.0f} MiB, "
          f"peak server RSS {(peak('server_rss_kib') or 0) / KIB:.0f} MiB, "
          f"peak load-generator RSS {(peak('loadgen_rss_kib') or 0) / KIB:.0f} MiB, "
          f"most descriptors in one process {pfd:.0f} (limit {fd_limit}), "
          f"peak TCP sockets {peak('tcp_inuse'):.0f} in use, {peak('tcp_tw'):.0f} TIME_WAIT")

target = f"nothing lost, p99 <= {p99_target_ms:.0f} ms"
if verdict_ok:
    print(f"PASS: {target}")
    sys.exit(0)
print(f"FAIL: {target} (run exit status {status})")

# What ran out first: the earliest sample at which a resource crossed its line.
def first(pred):
    return next((r["t_s"] for r in rows if pred(r)), None)
errors = (tech or {}).get("errors") or {}
marks = {
    "memory (MemAvailable under 5% of RAM)":
        first(lambda r: (r.get("mem_available_kib") or mem_total) < mem_total * 0.05),
    f"descriptors (a process at 95% of its {fd_limit} limit)":
        first(lambda r: (r.get("max_fds") or 0) >= fd_limit * 0.95),
    "CPU (the machine 95% busy or more)":
        first(lambda r: (r.get("cpu_busy_pct") or 0) >= 95),
}
found = sorted((t, what) for what, t in marks.items() if t is not None)
for t, what in found:
    print(f"  reached at t={t:.0f} s: {what}")
if per_addr > ports * 0.9:
    print(f"  ports: ~{per_addr} clients per source address against {ports} ephemeral ports")
if errors:
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(errors.items()))
    hint = " (connect / timeout errors on a busy machine: CPU, the clients could not be served in time)" \
        if {"connect", "timeout"} & set(errors) else ""
    print(f"  errors: {kinds}{hint}")
if found:
    print(f"ran out first: {found[0][1]} at t={found[0][0]:.0f} s")
elif not errors:
    print("nothing ran out in the samples: see run.log and summary.json's failure")
sys.exit(1)
PY
