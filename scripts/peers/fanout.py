"""The fan-out figure of scripts/peers.sh: many subscribers on one topic, the rate stepped.

  fanout.py steps --bin PUSHBENCH --server NAME --url URL --profile P --server-pid PID
                  --out DIR --rows FILE.jsonl [--clients 10000] [--rates "1 5 10 20 50 100"]
                  [--techniques "sse ws"] [-- EXTRA RUN ARGS...]
      For each technique, one `pushbench run --clients N --topics 1 --payload-bytes 256
      --rate R --techniques T --json` per rate, in order, until a step loses a message (or
      fails) or its p99 exceeds 1 s; each step's figures appended to FILE.jsonl as one line.
  fanout.py render --rows FILE.jsonl [--command CMD] > fanout.md
      The Markdown table of every step, then per server and technique the highest lossless
      step with p99 < 100 ms (deliveries/s, p99, server CPU-s per 1M deliveries), and the
      same with p99 < 1 s.

Before each step it waits until the server's process tree is idle (< 5% of a core, at most
90 s): a server still draining the previous step's backlog would be measured twice.
"""

import argparse
import json
import os
import subprocess
import sys
import time

STOP_P99_MS = 1000.0
GOOD_P99_MS = 100.0


def tree_cpu_s(root):
    """CPU seconds (user + system) of `root` and every process below it, from /proc."""
    parent, ticks = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])
        ticks[int(entry)] = int(fields[11]) + int(fields[12])
    tree, i = [root], 0
    while i < len(tree):
        tree += [p for p, pp in parent.items() if pp == tree[i] and p not in tree]
        i += 1
    return sum(ticks.get(p, 0) for p in tree) / os.sysconf("SC_CLK_TCK")


def settle(a, limit_s=90.0):
    """Waits (at most `limit_s`) until the server uses < 5% of a core: the previous step's
    backlog (messages still queued for clients long gone) must not spill into the next."""
    deadline = time.monotonic() + limit_s
    before = tree_cpu_s(a.server_pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = tree_cpu_s(a.server_pid)
        if now - before < 0.05:
            return
        before = now
    print(f"  {a.server}: still busy after {limit_s:g} s, measuring anyway", file=sys.stderr)


def run_step(a, technique, rate):
    """One `pushbench run`; its technique's summary (None if it wrote none) and exit code."""
    out = os.path.join(a.out, f"{technique}-{rate:g}")
    cmd = [
        a.bin, "run", "--target", a.url, "--profile", a.profile,
        "--server-pid", str(a.server_pid), "--techniques", technique,
        "--clients", str(a.clients), "--topics", "1", "--payload-bytes", "256",
        "--rate", f"{rate:g}", "--warmup", "3s", "--duration", "5s",
        "--drain", "2s", "--read-timeout", "30s", "--no-report", "--json", "--out", out,
    ] + a.extra
    print(f"  {a.server} {technique} {rate:g} msg/s: {' '.join(cmd)}", file=sys.stderr)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, check=False)
    doc = None
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        summary = os.path.join(out, "summary.json")
        if os.path.exists(summary):
            with open(summary, encoding="utf-8") as f:
                doc = json.load(f)
    if doc is None:
        return None, proc.returncode
    for t in doc.get("techniques", []):
        if t.get("technique") == technique:
            return t, proc.returncode
    return None, proc.returncode


def row_of(server, technique, rate, t, rc):
    """The figures of one step (None where not measured)."""
    delivered = t.get("delivered") or 0
    duration = t.get("duration_s") or 0
    cpu = t.get("server_cpu_s")
    lat = t.get("latency_us") or {}
    return {
        "server": server,
        "technique": technique,
        "rate": rate,
        "clients": t.get("clients"),
        "delivered": delivered,
        "expected": t.get("expected") or 0,
        "lost": t.get("lost") or 0,
        "duplicates": t.get("duplicates") or 0,
        "deliveries_per_s": delivered / duration if duration else None,
        "p50_ms": lat.get("p50", 0) / 1000.0 if delivered else None,
        "p99_ms": lat.get("p99", 0) / 1000.0 if delivered else None,
        "server_cpu_s": cpu,
        "cpu_s_per_1m": cpu / delivered * 1e6 if cpu is not None and delivered else None,
        "failure": t.get("failure"),
        "exit": rc,
    }


def lossless(r):
    return (
        r["failure"] is None
        and r["expected"] > 0
        and r["delivered"] == r["expected"]
        and r["lost"] == 0
    )


def steps(a):
    rates = [float(x) for x in a.rates.split()]
    status = 0
    for technique in a.techniques.split():
        for rate in rates:
            settle(a)
            t, rc = run_step(a, technique, rate)
            if t is None:
                print(f"  {a.server} {technique} {rate:g}: no summary (exit {rc})",
                      file=sys.stderr)
                status = 1
                break
            r = row_of(a.server, technique, rate, t, rc)
            with open(a.rows, "a", encoding="utf-8") as f:
                f.write(json.dumps(r) + "\n")
            print(f"  -> {r['delivered']}/{r['expected']} delivered, p99 {r['p99_ms']} ms",
                  file=sys.stderr)
            if not lossless(r) or (r["p99_ms"] or 0) > STOP_P99_MS:
                break
    return status


def fmt(x, spec):
    return "not measured" if x is None else format(x, spec)


def best(rows, server, technique, p99_ms):
    """The highest-rate lossless step of `server`/`technique` with p99 < `p99_ms`."""
    good = [r for r in rows if r["server"] == server and r["technique"] == technique
            and lossless(r) and (r["p99_ms"] or 0) < p99_ms]
    return max(good, key=lambda r: r["rate"]) if good else None


def summary(rows, p99_ms):
    print(f"Highest lossless step with p99 < {p99_ms:g} ms, per server and technique:")
    print()
    print("| server | technique | msg/s | deliveries/s | p99 ms | server CPU-s per 1M deliveries |")
    print("|---|---|---:|---:|---:|---:|")
    seen = []
    for r in rows:
        if (r["server"], r["technique"]) not in seen:
            seen.append((r["server"], r["technique"]))
    for server, technique in seen:
        r = best(rows, server, technique, p99_ms)
        if r is None:
            print(f"| {server} | {technique} | none | - | - | - |")
            continue
        print(f"| {server} | {technique} | {r['rate']:g} | {fmt(r['deliveries_per_s'], ',.0f')} "
              f"| {fmt(r['p99_ms'], '.1f')} | {fmt(r['cpu_s_per_1m'], '.2f')} |")
    print()


def render(a):
    with open(a.rows, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    print("| server | technique | msg/s | delivered/expected | deliveries/s | p50 ms | p99 ms "
          "| server CPU-s per 1M deliveries |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        note = "" if lossless(r) else " (loss)" if r["failure"] is None else " (failed)"
        print(f"| {r['server']} | {r['technique']} | {r['rate']:g} "
              f"| {r['delivered']}/{r['expected']}{note} | {fmt(r['deliveries_per_s'], ',.0f')} "
              f"| {fmt(r['p50_ms'], '.1f')} | {fmt(r['p99_ms'], '.1f')} "
              f"| {fmt(r['cpu_s_per_1m'], '.2f')} |")
    print()
    summary(rows, GOOD_P99_MS)
    summary(rows, STOP_P99_MS)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("steps")
    for k in ["--bin", "--server", "--url", "--profile", "--out", "--rows"]:
        s.add_argument(k, required=True)
    s.add_argument("--server-pid", type=int, required=True)
    s.add_argument("--clients", type=int, default=10000)
    s.add_argument("--rates", default="1 5 10 20 50 100")
    s.add_argument("--techniques", default="sse ws")
    s.add_argument("extra", nargs="*")
    r = sub.add_parser("render")
    r.add_argument("--rows", required=True)
    a = p.parse_args()
    if a.cmd == "steps":
        os.makedirs(a.out, exist_ok=True)
        return steps(a)
    return render(a)


if __name__ == "__main__":
    sys.exit(main())
