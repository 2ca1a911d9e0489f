#!/usr/bin/env python3
"""Tests of scripts/bench-100k-report.py on made-up run directories: the figures it prints, the
PASS/FAIL verdict, and which resource it names as having run out first.

    python3 scripts/test_bench_100k_report.py
"""
import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

REPORT = Path(__file__).with_name("bench-100k-report.py")
SAMPLE_HEAD = ("t_s,mem_available_kib,server_rss_kib,loadgen_rss_kib,server_procs,loadgen_procs,"
               "max_fds,cpu_busy_pct,tcp_inuse,tcp_tw,tcp_alloc,tcp_mem_pages,run_cpu_pct,steal_cpu_pct")


def run_dir(tmp, *, lost=0, p99_us=900_000, samples=None, errors=None):
    """A run directory of 1,000 clients: 10 s ramp-up, 10 s window, 1 message/s."""
    d = Path(tmp)
    sse = {"technique": "sse", "clients": 1000, "published": 10, "expected": 10_000,
           "delivered": 10_000 - lost, "lost": lost, "duplicates": 0, "reconnects": 0,
           "publish_failures": 0, "duration_s": 10.0,
           "latency_us": {"p50": 400_000, "p99": p99_us, "max": p99_us + 50_000},
           "connect_ms": {"p50": 0.3, "p99": 9.0, "max": 20.0},
           "server_cpu_s": 4.0, "server_rss_bytes": 30 * 1024 * 1024,
           "server_rss_idle_bytes": 10 * 1024 * 1024, "loadgen_cpu_s": 2.0,
           "loadgen_rss_bytes": 12 * 1024 * 1024, "errors": errors or {}, "failure": None}
    (d / "summary.json").write_text(json.dumps({"manifest": {}, "techniques": [sse]}))
    (d / "manifest.json").write_text(json.dumps({"machine": {"cores": 2}}))
    rows = ["t_s,technique,phase,connections,delivered_per_s,latency_p99_us,bytes_down_per_s,"
            "bytes_up_per_s,requests_per_s,server_cpu_s,server_rss_bytes,loadgen_cpu_s,repetition"]
    for t in range(1, 21):
        phase = "ramp-up" if t <= 10 else "steady"
        rows.append(f"{t}.0,sse,{phase},{min(t * 100, 1000)},0,,0,0,0,0.4,0,0.2,")
    (d / "timeseries.csv").write_text("\n".join(rows) + "\n")
    if samples is None:
        samples = [f"{t}.0,20000000,30000,12000,9,9,1000,50,2000,0,2000,10,30,0" for t in range(21)]
    (d / "samples.csv").write_text(SAMPLE_HEAD + "\n" + "\n".join(samples) + "\n")
    return d


def report(d, *args):
    p = subprocess.run([sys.executable, str(REPORT), str(d), *args],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout


class Report(unittest.TestCase):
    def test_pass_prints_the_figures(self):
        with tempfile.TemporaryDirectory() as tmp:
            code, out = report(run_dir(tmp))
        self.assertEqual(code, 0, out)
        self.assertIn("connected: peak 1000, lowest in the window 1000", out)
        self.assertIn("delivered 10000 / expected 10000, lost 0", out)
        self.assertIn("latency p50 400 ms, p99 900 ms, max 950 ms", out)
        # (30 - 10) MiB over 1,000 clients; 12 MiB over 1,000 clients
        self.assertIn("20.5 KiB per client", out)
        self.assertIn("12.3 KiB per client", out)
        # (4 + 2) CPU-s over 10 messages, over 2 cores
        self.assertIn("cost 0.60 CPU-s (server 0.40, load generator 0.20): at least 0.30 s", out)
        # the window: the machine 50% of 2 cores; the run 0.6 CPU-s a second
        self.assertIn("the machine 1.00 of 2 cores busy, this run 0.60, other processes 0.40", out)
        self.assertTrue(out.rstrip().endswith("PASS: nothing lost, p99 <= 2000 ms"), out)

    def test_fails_on_p99_over_the_target(self):
        with tempfile.TemporaryDirectory() as tmp:
            code, out = report(run_dir(tmp, p99_us=2_500_000))
        self.assertEqual(code, 1)
        self.assertIn("FAIL: nothing lost, p99 <= 2000 ms", out)
        self.assertIn("nothing ran out in the samples", out)

    def test_fails_on_a_loss_and_on_a_failed_run(self):
        with tempfile.TemporaryDirectory() as tmp:
            self.assertEqual(report(run_dir(tmp, lost=3))[0], 1)
        with tempfile.TemporaryDirectory() as tmp:
            code, out = report(run_dir(tmp), "--status", "3")
        self.assertEqual(code, 1)
        self.assertIn("run exit status 3", out)

    def test_names_descriptors_before_cpu(self):
        samples = []
        for t in range(21):
            fds = 19_500 if t >= 4 else 1000  # 95% of 20,000 is 19,000
            cpu = 100 if t >= 8 else 40
            samples.append(f"{t}.0,20000000,30000,12000,9,9,{fds},{cpu},2000,0,2000,10,30,0")
        with tempfile.TemporaryDirectory() as tmp:
            code, out = report(run_dir(tmp, lost=40, samples=samples, errors={"connect": 40}))
        self.assertEqual(code, 1)
        self.assertIn("reached at t=4 s: descriptors", out)
        self.assertIn("reached at t=10 s: CPU", out)  # the third busy sample in a row
        self.assertIn("errors: connect 40 (connect / read time-outs", out)
        self.assertIn("ran out first: descriptors (a process at 95% of its 20000 limit) at t=4 s", out)

    def test_names_ports_when_addresses_are_too_few(self):
        with tempfile.TemporaryDirectory() as tmp:
            code, out = report(run_dir(tmp, lost=5), "--ports", "28232", "--per-addr", "27000")
        self.assertEqual(code, 1)
        self.assertIn("ports: ~27000 clients per source address, 28232 ephemeral ports", out)
        self.assertIn("ran out first: ports", out)

    def test_fails_when_a_client_dropped_in_the_window(self):
        with tempfile.TemporaryDirectory() as tmp:
            d = run_dir(tmp)
            ts = (d / "timeseries.csv").read_text().replace("15.0,sse,steady,1000,", "15.0,sse,steady,990,")
            (d / "timeseries.csv").write_text(ts)
            code, out = report(d)
        self.assertEqual(code, 1)
        self.assertIn("not every client stayed connected: 990 of 1000", out)

    def test_a_run_without_results_fails_plainly(self):
        with tempfile.TemporaryDirectory() as tmp:
            code, out = report(Path(tmp))
        self.assertEqual(code, 1)
        self.assertIn("no summary.json with an sse technique", out)


if __name__ == "__main__":
    unittest.main()
