#!/usr/bin/env python3
"""The figures of a scripts/bench-100k.sh run, and what ran out first when it failed.

    scripts/bench-100k-report.py RUN_DIR [--status N] [--p99-target-ms MS] [--fd-limit N]
                                 [--ports N] [--per-addr N]

Reads the run directory's summary.json (the sse technique), timeseries.csv (connections, and the
run's own server and load-generator CPU per second) and the script's samples.csv (MemAvailable,
RSS, descriptors, whole-machine CPU, sockets; once a second, t_s from the run's start). Prints
clients connected, delivered / expected / lost, p50 / p99 / max latency, server and
load-generator RSS per client, CPU (peak, and per phase: the machine's, the run's, everyone
else's), the fan-out cost of one message, and a PASS/FAIL line against the targets (nothing
lost, p99 <= the target, every client connected all through the window). On FAIL it names the
resource that ran out first: memory (MemAvailable under 5% of RAM), descriptors (a process at
95% of its limit), ports (more clients per source address than ephemeral ports), CPU (the
machine 95% busy or more for 3 samples in a row). Exit status 0 PASS, 1 FAIL.
"""
import argparse
import csv
import json
import os
import sys
from pathlib import Path

KIB = 1024


def read_csv(path):
    try:
        with open(path) as f:
            return list(csv.DictReader(f))
    except OSError:
        return []


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def ms(us):
    return "n/a" if us is None else f"{us / 1000:.0f} ms"


def load_sse(out):
    try:
        summary = json.loads((out / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    techs = summary.get("techniques", []) if isinstance(summary, dict) else summary
    return next((t for t in techs if isinstance(t, dict) and t.get("technique") == "sse"), None)


def cores_of(out):
    try:
        manifest = json.loads((out / "manifest.json").read_text())
        return int(manifest["machine"]["cores"])
    except (OSError, ValueError, KeyError, TypeError):
        return os.cpu_count() or 1


def phases(ts):
    """{phase: (first t_s, last t_s, the run's CPU seconds in it)} from timeseries.csv rows."""
    out = {}
    for r in ts:
        t, ph = num(r.get("t_s")), r.get("phase")
        if t is None or not ph:
            continue
        cpu = (num(r.get("server_cpu_s")) or 0) + (num(r.get("loadgen_cpu_s")) or 0)
        lo, hi, c = out.get(ph, (t, t, 0.0))
        out[ph] = (min(lo, t), max(hi, t), c + cpu)
    return out


def cpu_shares(samples, ph, cores):
    """Per phase (label, lines): the machine's busy cores, the run's own, everyone else's."""
    shares = {}
    for name in ("ramp-up", "steady"):
        if name not in ph:
            continue
        lo, hi, run_cpu = ph[name]
        span = max(hi - lo + 1.0, 1.0)  # rows are taken at the end of each second
        busy = [s["cpu_busy_pct"] for s in samples
                if s.get("cpu_busy_pct") is not None and lo - 1 <= s["t_s"] <= hi]
        if not busy:
            continue
        machine = sum(busy) / len(busy) / 100 * cores
        run = run_cpu / span
        steal = [s["steal_cpu_pct"] for s in samples
                 if s.get("steal_cpu_pct") is not None and lo - 1 <= s["t_s"] <= hi]
        stolen = f" (hypervisor steal {sum(steal) / len(steal) / 100 * cores:.2f})" if steal else ""
        label = "the window" if name == "steady" else name
        shares[name] = (machine, run, max(machine - run, 0.0),
                        f"CPU in {label} ({span:.0f} s): the machine {machine:.2f} of {cores} cores "
                        f"busy, this run {run:.2f}, other processes {max(machine - run, 0):.2f}{stolen}")
    return shares


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--status", type=int, default=0, help="pushbench run's exit status")
    ap.add_argument("--p99-target-ms", type=float, default=2000.0)
    ap.add_argument("--fd-limit", type=int, default=20000)
    ap.add_argument("--ports", type=int, default=0, help="ephemeral ports per source address")
    ap.add_argument("--per-addr", type=int, default=0, help="clients per source address")
    a = ap.parse_args()
    out = a.run_dir

    samples = [{k: num(v) for k, v in r.items()} for r in read_csv(out / "samples.csv")]
    samples = [s for s in samples if s.get("t_s") is not None]
    ts = [r for r in read_csv(out / "timeseries.csv") if r.get("technique") == "sse"]
    ph = phases(ts)
    cores = cores_of(out)
    tech = load_sse(out)
    try:
        mem_total = int(next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal:")))
    except (OSError, StopIteration, ValueError):
        mem_total = 0

    def peak(key):
        vals = [s[key] for s in samples if s.get(key) is not None]
        return max(vals) if vals else None

    ok = False
    if tech is None:
        print("no summary.json with an sse technique: the run did not finish (see run.log)")
    else:
        n = tech.get("clients") or 0
        conns = [int(num(r["connections"]) or 0) for r in ts if r.get("connections")]
        steady = [int(num(r["connections"]) or 0) for r in ts
                  if r.get("phase") == "steady" and r.get("connections")]
        lat = tech.get("latency_us") or {}
        lost, p99 = tech.get("lost"), lat.get("p99")
        print(f"clients: {n}; connected: peak {max(conns) if conns else 'n/a'}, "
              f"lowest in the window {min(steady) if steady else 'n/a'}")
        print(f"delivered {tech.get('delivered')} / expected {tech.get('expected')}, lost {lost}, "
              f"duplicates {tech.get('duplicates')}, reconnects {tech.get('reconnects')}, "
              f"published {tech.get('published')}, publish failures {tech.get('publish_failures')}")
        print(f"latency p50 {ms(lat.get('p50'))}, p99 {ms(p99)}, max {ms(lat.get('max'))}")
        cm = tech.get("connect_ms") or {}
        print(f"connect p50 {cm.get('p50')} ms, p99 {cm.get('p99')} ms, max {cm.get('max')} ms")
        srv, idle = tech.get("server_rss_bytes"), tech.get("server_rss_idle_bytes") or 0
        lg = tech.get("loadgen_rss_bytes")
        if srv and n:
            print(f"server RSS: peak {srv / KIB / KIB:.0f} MiB (idle {idle / KIB / KIB:.0f} MiB), "
                  f"{(srv - idle) / n / KIB:.1f} KiB per client")
        if lg and n:
            print(f"load-generator RSS: peak {lg / KIB / KIB:.0f} MiB (coordinator + workers), "
                  f"{lg / n / KIB:.1f} KiB per client")
        sc, lc, pub = tech.get("server_cpu_s"), tech.get("loadgen_cpu_s"), tech.get("published")
        if sc is not None and lc is not None and pub:
            per = (sc + lc) / pub
            print(f"fan-out: one message to {n} clients cost {per:.2f} CPU-s (server {sc / pub:.2f}, "
                  f"load generator {lc / pub:.2f}): at least {per / cores:.2f} s on all {cores} cores")
        print(f"errors {tech.get('errors')}, failure {tech.get('failure')}")
        all_connected = not steady or min(steady) >= n  # every client open all through the window
        if not all_connected:
            print(f"not every client stayed connected: {min(steady)} of {n} at the lowest in the window")
        ok = (a.status == 0 and tech.get("failure") is None and lost == 0 and all_connected
              and bool(tech.get("delivered")) and p99 is not None and p99 <= a.p99_target_ms * 1000)

    shares = cpu_shares(samples, ph, cores)
    for _, _, _, line in shares.values():
        print(line)
    if samples:
        mins = [s["mem_available_kib"] for s in samples if s.get("mem_available_kib") is not None]
        print(f"sampled ({len(samples)} rows): peak CPU {peak('cpu_busy_pct') or 0:.0f}% of the machine, "
              f"lowest MemAvailable {min(mins) / KIB if mins else 0:.0f} MiB, "
              f"peak server RSS {(peak('server_rss_kib') or 0) / KIB:.0f} MiB, "
              f"peak load-generator RSS {(peak('loadgen_rss_kib') or 0) / KIB:.0f} MiB, "
              f"most descriptors in one process {peak('max_fds') or 0:.0f} (limit {a.fd_limit}), "
              f"peak TCP sockets {peak('tcp_inuse') or 0:.0f} in use, {peak('tcp_tw') or 0:.0f} TIME_WAIT")

    target = f"nothing lost, p99 <= {a.p99_target_ms:.0f} ms"
    if ok:
        print(f"PASS: {target}")
        return 0
    print(f"FAIL: {target} (run exit status {a.status})")
    for line in ran_out(samples, tech, a, mem_total):
        print(line)
    if "steady" in shares and shares["steady"][2] > 0.25 * cores:
        _, run, others, _ = shares["steady"]
        print(f"note: other processes used {others:.2f} cores in the window (this run {run:.2f}): "
              f"the machine was shared, and its latency measures that")
    return 1


def ran_out(samples, tech, a, mem_total):
    """Lines naming each resource that crossed its line, earliest first, then the first one."""
    def first(pred, run=1):
        streak = 0
        for s in samples:
            streak = streak + 1 if pred(s) else 0
            if streak >= run:
                return s["t_s"]
        return None

    marks = []
    if mem_total:
        marks.append((first(lambda s: (s.get("mem_available_kib") or mem_total) < mem_total * 0.05),
                      "memory (MemAvailable under 5% of RAM)"))
    marks.append((first(lambda s: (s.get("max_fds") or 0) >= a.fd_limit * 0.95),
                  f"descriptors (a process at 95% of its {a.fd_limit} limit)"))
    marks.append((first(lambda s: (s.get("cpu_busy_pct") or 0) >= 95, run=3),
                  "CPU (the machine 95% busy or more, 3 samples in a row)"))
    found = sorted((t, what) for t, what in marks if t is not None)
    lines = [f"  reached at t={t:.0f} s: {what}" for t, what in found]
    if a.ports and a.per_addr > a.ports * 0.9:
        lines.insert(0, f"  ports: ~{a.per_addr} clients per source address, {a.ports} ephemeral ports")
        found.insert(0, (0.0, "ports"))
    errors = (tech or {}).get("errors") or {}
    if errors:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(errors.items()))
        hint = (" (connect / read time-outs: the clients were not served in time)"
                if {"connect", "timeout"} & set(errors) else "")
        lines.append(f"  errors: {kinds}{hint}")
    if found:
        lines.append(f"ran out first: {found[0][1]} at t={found[0][0]:.0f} s")
    elif not errors:
        lines.append("nothing ran out in the samples: see run.log and summary.json's failure")
    return lines


if __name__ == "__main__":
    sys.exit(main())
