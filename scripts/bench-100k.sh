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
# busiest process's descriptor count (every 10 s), whole-machine CPU use (/proc/stat), TCP
# sockets (/proc/net/sockstat), and the run's own CPU and the hypervisor's steal beside the
# machine's. At the end scripts/bench-100k-report.py (tested by scripts/test_bench_100k_report.py)
# prints the figures from the run's summary.json, a PASS/FAIL line against the targets, and, if
# the run failed, which resource ran out first (memory, ports, descriptors, CPU / time-outs) with
# the figures behind it, and how much of the CPU other processes took. Re-run it on a run
# directory: `scripts/bench-100k-report.py RUN_DIR`.
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
    local root_pid="$1" t0 prev_busy=0 prev_total=0 prev_ticks=0 prev_steal=0 n=0 max_fds=0
    t0="$(date +%s.%N)"
    echo "t_s,mem_available_kib,server_rss_kib,loadgen_rss_kib,server_procs,loadgen_procs,max_fds,cpu_busy_pct,tcp_inuse,tcp_tw,tcp_alloc,tcp_mem_pages,run_cpu_pct,steal_cpu_pct"
    while kill -0 "$root_pid" 2>/dev/null; do
        local now cpu busy total steal pct run_pct steal_pct ticks procs_line fds pid sock
        now="$(date +%s.%N)"
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
        # CPU: the whole machine's (busy / all, /proc/stat) and the run's own processes'
        # (utime + stime, same clock ticks) and the hypervisor's steal, as % of the machine over the
        # last second.
        # A process that exited takes its ticks along: a negative difference is left empty.
        cpu="$(awk '/^cpu / {b=$2+$3+$4+$7+$8+$9; print $9, b, b+$5+$6}' /proc/stat)"
        ticks="$(for pid in $pids; do cat "/proc/$pid/stat" 2>/dev/null; done |
            awk '{sub(/^.*\) /, ""); t += $12 + $13} END {print t + 0}')"
        read -r steal busy total <<<"$cpu"
        pct=""
        run_pct=""
        steal_pct=""
        if [ "$prev_total" -gt 0 ] && [ "$total" -gt "$prev_total" ]; then
            pct=$(((busy - prev_busy) * 100 / (total - prev_total)))
            steal_pct=$(((steal - prev_steal) * 100 / (total - prev_total)))
            [ "$ticks" -ge "$prev_ticks" ] && run_pct=$(((ticks - prev_ticks) * 100 / (total - prev_total)))
        fi
        prev_busy="$busy"
        prev_total="$total"
        prev_ticks="$ticks"
        prev_steal="$steal"
        # Listing 12,000 descriptors costs ~25 ms of CPU: every 10th second only, the busiest
        # process's count carried over in between.
        if [ $((n % 10)) -eq 0 ]; then
            max_fds=0
            for pid in $pids; do
                fds="$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
                [ "$fds" -gt "$max_fds" ] && max_fds="$fds"
            done
        fi
        n=$((n + 1))
        sock="$(awk '/^TCP:/ {for (i=2;i<NF;i+=2) v[$i]=$(i+1); print v["inuse"]+0, v["tw"]+0, v["alloc"]+0, v["mem"]+0}' /proc/net/sockstat)"
        printf '%.1f,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' \
            "$(echo "$now - $t0" | awk '{print $1 - $3}')" \
            "$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)" \
            "$s_rss" "$l_rss" "$s_n" "$l_n" "$max_fds" "$pct" "${sock// /,}" "$run_pct" "$steal_pct"
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
set +e
timeout 60 python3 "$root/scripts/bench-100k-report.py" "$out" --status "$status" \
    --p99-target-ms "$p99_target_ms" --fd-limit "$fd_limit" --ports "$ports" --per-addr "$per_addr"
verdict=$?
set -e
echo "run directory: $out"
exit "$verdict"
