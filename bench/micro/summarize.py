#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# summarize.py - the short text summary of a mara-micro JSON report (Google Benchmark's
# --benchmark_out): median time per benchmark, mara's speed-up over libosip2 and libfdproto,
# and the machine. Usage: summarize.py REPORT.json   (prints to stdout, always exits 0 on a
# readable report: the targets are reported, never asserted).
import json
import math
import os
import platform
import sys

BASELINES = ("libosip2", "libfdproto")
TARGET = 5.0  # issue "Benchmark harness": parser >= 5x libosip2, codec >= 5x libfdproto
# The pairs each target is judged on: the like-for-like variant of mara.
HEADLINE = {"sip_parse": "mara_deep", "dia_decode": "mara", "dia_encode": "mara"}


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def medians(report):
    """{name without /real_time: (ns per op, items per second)} from the median aggregates,
    or from the plain runs when the report has no aggregates (a single repetition)."""
    rows = {}
    have_aggr = any(b.get("run_type") == "aggregate" for b in report["benchmarks"])
    for b in report["benchmarks"]:
        if have_aggr and b.get("aggregate_name") != "median":
            continue
        if not have_aggr and b.get("run_type", "iteration") != "iteration":
            continue
        name = b.get("run_name", b["name"])
        # mb_register: the thread's CPU time; mb_register_wall (".../real_time"): wall clock
        wall = name.endswith("/real_time")
        name = name.removesuffix("/real_time")
        scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
        rows[name] = (b["real_time" if wall else "cpu_time"] * scale,
                      b.get("items_per_second"))
    return rows


def fmt_rate(v):
    if v is None:
        return ""
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= div:
            return f"{v / div:.2f}{unit}/s"
    return f"{v:.0f}/s"


def main():
    if len(sys.argv) != 2:
        print("usage: summarize.py REPORT.json", file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        report = json.load(f)
    ctx = report.get("context", {})
    rows = medians(report)
    reps = {b.get("repetitions", 1) for b in report["benchmarks"]}

    print(f"mara micro-benchmarks: {ctx.get('host_name', platform.node())}, "
          f"{ctx.get('date', '?')}")
    print(f"machine: nproc={os.cpu_count()}, cpu={cpu_model()}, "
          f"kernel={platform.system()} {platform.release()}, load average at start="
          f"{'/'.join(f'{x:.2f}' for x in ctx.get('load_avg', [])) or '?'}")
    load = ctx.get("load_avg", [])
    if load and load[0] > (os.cpu_count() or 1) / 2:
        print(f"WARNING: the machine was busy (load {load[0]:.2f} on {os.cpu_count()} CPUs): "
              "other processes share the CPUs and these numbers are not reliable")
    print(f"libraries: libosip2 {ctx.get('libosip2', '?')}, "
          f"libfdproto {ctx.get('libfdproto', '?')}, "
          f"libbenchmark built as {ctx.get('library_build_type', '?')}")
    print(f"message sizes (bytes): " + ", ".join(
        f"{k.split('_', 2)[2]} {v}" for k, v in sorted(ctx.items())
        if k.startswith(("sip_bytes_", "dia_bytes_"))))
    print()
    print(f"median time per operation, CPU time of the thread (wall clock for the ring), "
          f"{max(reps)} repetitions:")
    width = max(len(n) for n in rows) if rows else 10
    for name, (ns, ips) in rows.items():
        print(f"  {name:<{width}}  {ns:10.1f} ns  {fmt_rate(ips):>10}")

    # speed-up = baseline time / mara time, per message, for every mara variant
    print()
    print("speed-up of mara (baseline median time / mara median time; > 1: mara faster):")
    groups = {}
    for name in rows:
        parts = name.split("/")
        if len(parts) == 3:
            groups.setdefault((parts[0], parts[1]), {})[parts[2]] = rows[name][0]
    headline = {}
    for (kind, msg), impls in groups.items():
        base = next((b for b in BASELINES if b in impls), None)
        if not base:
            continue
        ratios = {v: impls[base] / t for v, t in impls.items() if v != base and t > 0}
        text = ", ".join(f"{v} {r:.1f}x" for v, r in ratios.items())
        print(f"  {kind}/{msg} vs {base}: {text}")
        if HEADLINE.get(kind) in ratios:
            target = "parser" if kind == "sip_parse" else "codec"
            headline.setdefault((target, base), []).append(ratios[HEADLINE[kind]])

    print()
    print(f"issue targets (reported, not asserted; geometric mean over messages):")
    for (target, base), rs in headline.items():
        gm = math.exp(sum(math.log(r) for r in rs) / len(rs))
        verdict = "met" if min(rs) >= TARGET else "not met"
        print(f"  {target} >= {TARGET:.0f}x {base}: {gm:.1f}x (min {min(rs):.1f}x) - {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
