#!/usr/bin/env bash
# Starts pushbench's peers for side-by-side runs: nginx + nchan, Pushpin (with its
# GRIP origin) and a framework SSE endpoint (Starlette + sse-starlette under uvicorn), plus
# pushbench's own server, each on a free loopback port with the configs under scripts/peers/.
#
#   scripts/peers.sh [smoke]     install what is missing, start every peer, check each technique
#                                of each peer with a raw-socket subscriber, stop everything
#   scripts/peers.sh run [-- ARGS...]
#                                one `pushbench run --target URL --profile P --server-pid PID`
#                                per server (ARGS passed through, after small defaults), each
#                                into OUT/<server>, then `pushbench report` of them all into
#                                OUT/report; exits non-zero if any run failed
#   scripts/peers.sh fanout [-- ARGS...]
#                                10,000 subscribers on one topic, 256 B payloads, the rate
#                                stepped 1, 5, 10, 20, 50, 100 msg/s until loss or p99 > 1 s,
#                                SSE and WebSocket on every server: a Markdown table in
#                                OUT/fanout.md (scripts/peers/fanout.py; heavy: ~15 s a step)
#   scripts/peers.sh serve       start them, print their URLs, wait for Ctrl-C, stop everything
#   scripts/peers.sh capture     start nchan, Pushpin and the framework endpoint with a 1 s
#                                heartbeat and a retention of 4, print real exchanges with each
#                                as Markdown (scripts/peers/capture.py), stop everything
#
# Knobs (environment): PEERS ("pushbench nchan pushpin framework"), PEERS_DIR (scratch and the
# Python venv, default /tmp/pushbench-peers), PEERS_OUT (run and fanout: where the run
# directories go, default results/peers-<UTC time>), HEARTBEAT_S (15), RETENTION (1024,
# pushbench's default), NGINX_WORKERS (1), NCHAN_SHM (1024m), PUSHPIN_MESSAGE_RATE /
# PUSHPIN_MESSAGE_HWM (0 = unlimited; Pushpin's own defaults are 2500 and 25000),
# PUSHPIN_LOG_LEVEL (1), PEERS_NO_INSTALL=1 (never call apt-get or pip), PEERS_SERVE_S (3600:
# how long `serve` waits), FANOUT_RATES ("1 5 10 20 50 100"), FANOUT_CLIENTS (10000).
#
# Each peer is a set of functions: peer_<name>_start (background, registers its PIDs and sets
# <name>_pid, the root of its process tree, which --server-pid samples), peer_<name>_ready
# (answers?), and the facts the run step needs: its URL, its publish URL, its pushbench
# profile and the techniques it offers. Every process started here is stopped by PID on exit,
# Ctrl-C or failure.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
here="$root/scripts/peers"
PEERS="${PEERS:-pushbench nchan pushpin framework}"
PEERS_DIR="${PEERS_DIR:-/tmp/pushbench-peers}"
HEARTBEAT_S="${HEARTBEAT_S:-15}"
RETENTION="${RETENTION:-1024}"
venv="$PEERS_DIR/venv"
bin="${CARGO_TARGET_DIR:-$root/target}/release/pushbench"
mode="${1:-smoke}"
[ "$#" -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
extra_args=("$@")
if [ "$mode" = capture ]; then
    PEERS="${PEERS_CAPTURE:-nchan pushpin framework}"
    HEARTBEAT_S=1
    RETENTION=4
fi

# --- processes: started here, stopped here ------------------------------------------------------
pids=()
# Whether PID still runs (a zombie, e.g. Pushpin's origin waiting for the runner to reap it,
# does not).
alive() {
    local state
    state="$(ps -o stat= -p "$1" 2>/dev/null || true)"
    [ -n "$state" ] && [ "${state#Z}" = "$state" ]
}
stop_all() {
    local pid i kids
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        pid="${pids[$i]}"
        kids="$(ps -o pid= --ppid "$pid" 2>/dev/null || true)"
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in $(seq 1 50); do
            alive "$pid" || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        # Children left behind by a parent that did not stop them (nginx workers, Pushpin's
        # condure/zurl/proxy/handler) are ours too: stop them by PID.
        for k in $kids; do kill -KILL "$k" 2>/dev/null || true; done
    done
    pids=()
}
trap 'stop_all' EXIT
trap 'echo "interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

die() { echo "peers.sh: $*" >&2; exit 1; }

# Prints N free loopback ports (held open together while chosen, so they differ).
free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# Waits (at most ~10 s) until URL answers with STATUS (default: any HTTP status).
wait_http() {
    local url="$1" want="${2:-}" code
    for _ in $(seq 1 100); do
        code="$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$url" 2>/dev/null || true)"
        if [ "$code" != "000" ] && { [ -z "$want" ] || [ "$code" = "$want" ]; }; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# Replaces @NAME@ in template $1 with the values given as NAME=value arguments.
render() {
    local template="$1" expr=() kv
    shift
    for kv in "$@"; do expr+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
    sed "${expr[@]}" "$template"
}

# --- install ------------------------------------------------------------------------------------
install_missing() {
    local need=()
    command -v nginx >/dev/null || need+=(nginx)
    [ -f /usr/lib/nginx/modules/ngx_nchan_module.so ] || need+=(libnginx-mod-nchan)
    command -v pushpin >/dev/null && command -v condure >/dev/null \
        && command -v zurl >/dev/null || need+=(pushpin)
    command -v curl >/dev/null || need+=(curl)
    python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
    if [ "${#need[@]}" -gt 0 ]; then
        [ "${PEERS_NO_INSTALL:-0}" = 1 ] && die "missing packages: ${need[*]}"
        echo "installing ${need[*]} (apt-get)" >&2
        apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2
    fi
    # Debian starts Pushpin's and nginx's system services where it can; the peers here run
    # their own instances on other ports, so those are left as they are.
    local stamp="$venv/requirements.txt"
    if ! cmp -s "$here/requirements.txt" "$stamp"; then
        [ "${PEERS_NO_INSTALL:-0}" = 1 ] && die "no Python venv at $venv"
        echo "installing Python packages into $venv (pip)" >&2
        python3 -m venv "$venv" >&2
        "$venv/bin/pip" install -q -r "$here/requirements.txt" >&2
        cp "$here/requirements.txt" "$stamp"
    fi
}

# --- pushbench's own server ---------------------------------------------------------------------
peer_pushbench_start() {
    "$bin" serve --listen 127.0.0.1:0 --heartbeat "${HEARTBEAT_S}s" \
        --retention "$RETENTION" --max-connections 19000 >"$run/pushbench.log" 2>&1 &
    pids+=($!)
    pushbench_pid=$!
}
peer_pushbench_ready() {
    pushbench_addr=""
    for _ in $(seq 1 100); do
        pushbench_addr="$(sed -n '1s/^listening on http:\/\/\([^ ]*\).*/\1/p' \
            "$run/pushbench.log" 2>/dev/null)"
        [ -n "$pushbench_addr" ] && break
        sleep 0.1
    done
    [ -n "$pushbench_addr" ] && wait_http "http://$pushbench_addr/stats" 200
}
peer_pushbench_url() { echo "http://$pushbench_addr"; }
peer_pushbench_publish_url() { peer_pushbench_url; }
peer_pushbench_profile() { echo pushbench; }
peer_pushbench_techniques() { echo "poll long-poll stream sse ws"; }

# --- nginx + nchan ------------------------------------------------------------------------------
peer_nchan_start() {
    local dir="$run/nchan"
    mkdir -p "$dir/logs" "$dir/tmp"
    read -r nchan_port < <(free_ports 1)
    render "$here/nginx-nchan.conf.template" PREFIX="$dir" PORT="$nchan_port" \
        USER="$(id -un)" GROUP="$(id -gn)" WORKERS="${NGINX_WORKERS:-1}" NOFILE=20000 \
        WORKER_CONNECTIONS=19000 LOG_LEVEL=warn ACCESS_LOG=off SHM="${NCHAN_SHM:-1024m}" \
        RETENTION="$RETENTION" SUBSCRIBER_TIMEOUT=0 HEARTBEAT_S="$HEARTBEAT_S" >"$dir/nginx.conf"
    nginx -q -t -p "$dir/" -c "$dir/nginx.conf" -e "$dir/logs/error.log" \
        || die "nginx rejected $dir/nginx.conf (see $dir/logs/error.log)"
    nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/logs/error.log" >"$dir/stdout" 2>&1 &
    pids+=($!)
    nchan_pid=$! # the master (daemon off): its workers are its children
}
peer_nchan_ready() { wait_http "http://127.0.0.1:$nchan_port/nchan-status" 200; }
peer_nchan_url() { echo "http://127.0.0.1:$nchan_port"; }
peer_nchan_publish_url() { peer_nchan_url; }
peer_nchan_profile() { echo nchan; }
# nchan has no short poll of pushbench's kind: /poll is its interval-poll (304 when nothing new).
peer_nchan_techniques() { echo "poll long-poll stream sse ws"; }

# --- Pushpin and its origin ---------------------------------------------------------------------
peer_pushpin_start() {
    local dir="$run/pushpin" ports
    mkdir -p "$dir/run" "$dir/log"
    ports="$(free_ports 6)"
    read -r pushpin_port pushpin_control zmq_push zmq_sub command_port origin_port <<<"$ports"
    render "$here/pushpin.conf.template" DIR="$dir" PORT="$pushpin_port" \
        LOG_LEVEL="${PUSHPIN_LOG_LEVEL:-1}" MAXCONN=19000 ZMQ_PUSH_PORT="$zmq_push" \
        ZMQ_SUB_PORT="$zmq_sub" CONTROL_PORT="$pushpin_control" COMMAND_PORT="$command_port" \
        MESSAGE_RATE="${PUSHPIN_MESSAGE_RATE:-0}" MESSAGE_HWM="${PUSHPIN_MESSAGE_HWM:-0}" \
        >"$dir/pushpin.conf"
    # over_http: WebSocket connections reach the origin as WebSocket-over-HTTP requests.
    echo "* 127.0.0.1:$origin_port,over_http" >"$dir/routes"
    # The origin is started by the shell that then becomes Pushpin's runner: the origin is
    # the runner's child, so the tree --server-pid samples is Pushpin (runner, condure, zurl,
    # proxy, handler) plus the origin it needs, which answers every poll and long poll.
    (
        cd "$dir"
        "$venv/bin/python" "$here/grip_origin.py" --port "$origin_port" \
            --control "http://127.0.0.1:$pushpin_control" --retention "$RETENTION" \
            --heartbeat "$HEARTBEAT_S" >"$dir/origin.log" 2>&1 &
        echo $! >"$dir/origin.pid"
        exec pushpin --config "$dir/pushpin.conf"
    ) >"$dir/stdout" 2>&1 &
    pids+=($!)
    pushpin_pid=$!
    for _ in $(seq 1 50); do [ -s "$dir/origin.pid" ] && break; sleep 0.1; done
    [ -s "$dir/origin.pid" ] && pids+=("$(cat "$dir/origin.pid")")
}
peer_pushpin_ready() {
    wait_http "http://127.0.0.1:$origin_port/poll/ready" 200 \
        && wait_http "http://127.0.0.1:$pushpin_port/poll/ready" 200
}
peer_pushpin_url() { echo "http://127.0.0.1:$pushpin_port"; }
# The application publishes, as a real one would: the origin stores the message and hands it
# to Pushpin's control API (POST /publish/). Publishing through Pushpin's own port works too.
peer_pushpin_publish_url() { echo "http://127.0.0.1:$origin_port"; }
peer_pushpin_profile() { echo pushpin; }
peer_pushpin_control_url() { echo "http://127.0.0.1:$pushpin_control"; }
peer_pushpin_techniques() { echo "poll long-poll stream sse ws"; }

# --- the framework endpoint ---------------------------------------------------------------------
peer_framework_start() {
    read -r framework_port < <(free_ports 1)
    "$venv/bin/python" "$here/framework_app.py" --port "$framework_port" \
        --retention "$RETENTION" >"$run/framework.log" 2>&1 &
    pids+=($!)
    framework_pid=$!
}
peer_framework_ready() { wait_http "http://127.0.0.1:$framework_port/"; }
peer_framework_url() { echo "http://127.0.0.1:$framework_port"; }
peer_framework_publish_url() { peer_framework_url; }
# Not a built-in profile: a custom profile file (scripts/peers/framework-profile.toml).
peer_framework_profile() { echo "$here/framework-profile.toml"; }
peer_framework_techniques() { echo "stream sse ws"; }

# --- the steps: smoke, run, fanout ---------------------------------------------------------------
smoke_peer() {
    local name="$1"
    # shellcheck disable=SC2046 # the techniques are separate words on purpose
    python3 "$here/wire.py" smoke "$name" "$("peer_${name}_url")" \
        "$("peer_${name}_publish_url")" $("peer_${name}_techniques")
}

# The defaults of `run` (ARGS after `--` come later and override them): quick, ~25 s a server.
RUN_DEFAULTS=(--clients 100 --rate 10 --warmup 1s --duration 4s --drain 1s --pause 200ms)

# One `pushbench run` against server $1 into $out/$1, its process tree sampled by PID.
run_peer() {
    local name="$1" pid_var="${1}_pid"
    echo "== $name: pushbench run --target $("peer_${name}_url") --profile" \
        "$("peer_${name}_profile") --server-pid ${!pid_var}" >&2
    "$bin" run --target "$("peer_${name}_url")" --profile "$("peer_${name}_profile")" \
        --server-pid "${!pid_var}" --out "$out/$name" "${RUN_DEFAULTS[@]}" \
        "${extra_args[@]}"
}

# The fan-out steps of server $1 (scripts/peers/fanout.py), rows appended to $out/fanout.jsonl.
fanout_peer() {
    local name="$1" pid_var="${1}_pid" techs=() t
    for t in sse ws; do
        [[ " $("peer_${name}_techniques") " == *" $t "* ]] && techs+=("$t")
    done
    python3 "$here/fanout.py" steps --bin "$bin" --server "$name" \
        --url "$("peer_${name}_url")" --profile "$("peer_${name}_profile")" \
        --server-pid "${!pid_var}" --out "$out/fanout-$name" --rows "$out/fanout.jsonl" \
        --clients "${FANOUT_CLIENTS:-10000}" --rates "${FANOUT_RATES:-1 5 10 20 50 100}" \
        --techniques "${techs[*]}" -- "${extra_args[@]}"
}

capture_peer() {
    local name="$1" extra=()
    [ "$name" = pushpin ] && extra=("$(peer_pushpin_control_url)")
    echo "## $name"
    echo
    python3 "$here/capture.py" "$name" "$("peer_${name}_url")" \
        "$("peer_${name}_publish_url")" "${extra[@]}"
    echo
}

main() {
    case "$mode" in
        smoke | serve | capture | run | fanout) ;;
        --fanout) mode=fanout ;;
        *) die "unknown mode '$mode' (smoke, run, fanout, serve or capture)" ;;
    esac
    install_missing
    [ "${PEERS_NO_BUILD:-0}" = 1 ] \
        || cargo build --release -q -p loadgen --manifest-path "$root/Cargo.toml" >&2
    [ -x "$bin" ] || die "no $bin (cargo build --release -p loadgen)"
    if [ "$mode" = run ] || [ "$mode" = fanout ]; then
        out="${PEERS_OUT:-$root/results/peers-$(date -u +%Y%m%dT%H%M%SZ)}"
        mkdir -p "$out"
        out="$(cd "$out" && pwd)"
    fi
    mkdir -p "$PEERS_DIR"
    run="$(mktemp -d "$PEERS_DIR/run-XXXXXX")"
    echo "scratch directory: $run" >&2
    local name status=0
    for name in $PEERS; do
        declare -F "peer_${name}_start" >/dev/null || die "unknown peer '$name'"
        "peer_${name}_start"
        "peer_${name}_ready" || die "$name did not answer within 10 s (logs under $run)"
        echo >&2 "$name: $("peer_${name}_url") (publish: $("peer_${name}_publish_url")," \
            "profile: $("peer_${name}_profile"), techniques: $("peer_${name}_techniques"))"
    done
    if [ "$mode" = serve ]; then
        echo "serving until Ctrl-C (or ${PEERS_SERVE_S:-3600} s)" >&2
        sleep "${PEERS_SERVE_S:-3600}" &
        pids+=($!)
        wait "${pids[-1]}" || true
        return 0
    fi
    local dirs=()
    for name in $PEERS; do
        case "$mode" in
            capture) capture_peer "$name" || status=1 ;;
            smoke)
                echo "== $name"
                smoke_peer "$name" || status=1
                ;;
            run)
                run_peer "$name" || { status=1; echo "peers.sh: $name: the run failed" >&2; }
                [ -f "$out/$name/summary.json" ] && dirs+=("$out/$name")
                ;;
            fanout) fanout_peer "$name" || status=1 ;;
        esac
    done
    if [ "$mode" = run ] && [ "${#dirs[@]}" -gt 0 ]; then
        "$bin" report --out "$out/report" "${dirs[@]}" >&2 || status=1
        echo "report: $out/report/index.html (runs: ${dirs[*]})"
    fi
    if [ "$mode" = fanout ] && [ -s "$out/fanout.jsonl" ]; then
        python3 "$here/fanout.py" render --rows "$out/fanout.jsonl" >"$out/fanout.md"
        echo "fan-out table: $out/fanout.md"
    fi
    return "$status"
}

main
