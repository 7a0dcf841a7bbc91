#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# summarize.py DIR - medians of bench/compare runs: reads DIR/runs.csv (and DIR/saturation.csv,
# machine.txt, versions.txt, configs/params.txt), writes DIR/medians.csv, DIR/plot.dat (for
# plot.gp) and DIR/summary.md.
import csv
import os
import statistics
import sys

SYSTEMS = ["mara-auth", "kamailio-auth", "mara-fwd", "kamailio-fwd"]
LABEL = {
    "mara-auth": "mara-proxy + mara-aaa (Figure 4, Diameter digest)",
    "kamailio-auth": "Kamailio 5.6, auth module digest",
    "mara-fwd": "mara-proxy, auth_methods = [] (stateless forward)",
    "kamailio-fwd": "Kamailio 5.6, stateless forward",
}


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v, nd=1):
    if v is None:
        return "–"
    if nd == 0:
        return f"{v:.0f}"
    return f"{v:.{nd}f}"


def read_kv(path):
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            out = [line.rstrip("\n") for line in f if line.strip()]
    except OSError:
        pass
    return out


def latency_section(d, systems, md):
    """Latency under load (latency.csv): per system and step, medians over runs. Returns
    {system: worst median p99 over the steps at <= 80 % of saturation}."""
    path = os.path.join(d, "latency.csv")
    if not os.path.exists(path):
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    md.append("## Latency under load (mara-bench, open loop)\n")
    md.append("Each run's saturation (above) sets the offered rate of three steps: 25, 50 and 80 % "
              "of it. Latency of the answer that ends the call set-up: auth flows INVITE with "
              "Proxy-Authorization → 200 (the second MAR, the forward, the UAS), forward flows "
              "INVITE → 200. Medians over runs of each percentile, in ms (`latency.csv`).\n")
    md.append("| system | % of saturation | offered calls/s (per run) | failed | p50 ms | p90 ms | "
              "p99 ms | p99.9 ms |")
    md.append("|---|---|---|---|---|---|---|---|")
    worst = {}
    for s in systems:
        for pct in ("25", "50", "80"):
            rs = [r for r in rows if r["system"] == s and r["pct_of_sat"] == pct]
            if not rs:
                continue
            g = lambda k: med([num(r[k]) for r in rs])  # noqa: E731
            p99 = g("p99_ms")
            if p99 is not None:
                worst[s] = max(worst.get(s, 0.0), p99)
            md.append(f"| {s} | {pct} | {', '.join(r['rate'] for r in rs)} | {fmt(g('failed'), 0)} | "
                      f"{fmt(g('p50_ms'), 2)} | {fmt(g('p90_ms'), 2)} | {fmt(p99, 2)} | "
                      f"{fmt(g('p999_ms'), 2)} |")
    md.append("")
    return worst


def targets_section(md, ratios, best, lat_worst):
    """The issue-5 targets this benchmark measures, with this run's numbers: met or missed."""
    def verdict(ok):
        return "–" if ok is None else ("**met**" if ok else "**missed**")

    md.append("## Targets (issue 5), as measured by this run\n")
    md.append("Not timed assertions: what this run measured against each target. The others "
              "(mara-aaa ≥ 200,000 MAR/s, parser and codec ≥ 5× libosip2 / libfdproto, ≤ 2 KiB per "
              "pending call) are printed by `make bench-appsip`, `bench/micro/run.sh` and "
              "`bench/growth/run.py`; bench/README.md keeps them all, with what limits each.\n")
    md.append("| target | measured | verdict |")
    md.append("|---|---|---|")
    def x(r, k):
        v = "–" if r is None else f"{r:.2f}×"
        return v if k is None else f"{v} (kernel part alone: {k:.2f}×)"

    for load, r1, _r2, r3, k1, k3 in ratios:
        md.append(f"| auth CPU per call, mara-proxy ≤ 1/4 of Kamailio's, {load} calls/s | "
                  f"{x(r1, k1)} | {verdict(None if r1 is None else r1 <= 0.25)} |")
        md.append(f"| forward CPU per call ≤ 1/4 of Kamailio's, {load} calls/s | {x(r3, k3)} | "
                  f"{verdict(None if r3 is None else r3 <= 0.25)} |")
    sat = best.get("mara-auth")
    md.append(f"| ≥ 20,000 auth calls/s at ≤ 0.1 % failures, all on this machine | "
              f"{fmt(sat, 0)} calls/s | {verdict(None if sat is None else sat >= 20000)} |")
    p99 = lat_worst.get("mara-auth")
    md.append(f"| p99 INVITE(auth) → 200 < 1 ms at 25/50/80 % of that rate | worst median p99 "
              f"{fmt(p99, 2)} ms | {verdict(None if p99 is None else p99 < 1.0)} |")
    md.append("")


def main():
    d = sys.argv[1]
    with open(os.path.join(d, "runs.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    # a generator that could not be run at all (126/127: e.g. its binary being relinked by a
    # concurrent build) says nothing about the proxy: such runs are listed, not counted
    broken = [r for r in rows if r["rc"] in ("126", "127")]
    rows = [r for r in rows if r["rc"] not in ("126", "127")]
    if not rows:
        print("summarize.py: no runs", file=sys.stderr)
        return 1
    gen = rows[0]["generator"]
    loads = sorted({int(r["offered_cps"]) for r in rows})
    systems = [s for s in SYSTEMS if any(r["system"] == s for r in rows)]

    # medians per (system, load)
    pts = {}
    for s in systems:
        for load in loads:
            rs = [r for r in rows if r["system"] == s and int(r["offered_cps"]) == load]
            if not rs:
                continue
            g = lambda k: med([num(r[k]) for r in rs])  # noqa: E731
            offered = g("offered_calls")
            completed = g("completed")
            failed = g("failed")
            wall = g("wall_s")
            pcpu = g("proxy_cpu_s")
            pts[(s, load)] = {
                "runs": len(rs),
                "offered_calls": offered,
                "completed": completed,
                "failed": failed,
                "fail_pct": med([100.0 * num(r["failed"]) / num(r["offered_calls"]) for r in rs
                                 if num(r["offered_calls"])]),
                "retrans": g("retrans"),
                "achieved_cps": g("achieved_cps"),
                "proxy_us": g("proxy_us_per_call"),
                # the kernel's part of the proxy's CPU (stime), µs per call; older runs.csv: None
                "proxy_sys_us": med([1e6 * num(r["proxy_sys_s"]) / num(r["completed"]) for r in rs
                                     if num(r.get("proxy_sys_s")) is not None
                                     and num(r["completed"])]),
                "aaa_us": g("aaa_us_per_call"),
                "total_us": g("total_us_per_call"),
                "proxy_core_pct": med([100.0 * num(r["proxy_cpu_s"]) / num(r["wall_s"]) for r in rs
                                       if num(r["wall_s"])]),
                "wall": wall,
                "pcpu": pcpu,
                "per_run_total": [num(r["total_us_per_call"]) for r in rs],
            }

    with open(os.path.join(d, "medians.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["system", "offered_cps", "runs", "completed", "failed", "fail_pct", "retrans",
                    "achieved_cps", "proxy_us_per_call", "aaa_us_per_call", "total_us_per_call",
                    "proxy_pct_of_one_core"])
        for (s, load), p in pts.items():
            w.writerow([s, load, p["runs"], fmt(p["completed"], 0), fmt(p["failed"], 0),
                        fmt(p["fail_pct"], 3), fmt(p["retrans"], 0), fmt(p["achieved_cps"], 0),
                        fmt(p["proxy_us"], 2), fmt(p["aaa_us"], 2), fmt(p["total_us"], 2),
                        fmt(p["proxy_core_pct"], 1)])

    # plot.dat: one block per system (gnuplot index), columns: load, µs per call (total = proxy
    # + mara-aaa for mara-auth), proxy only
    with open(os.path.join(d, "plot.dat"), "w", encoding="utf-8") as f:
        for s in SYSTEMS:
            f.write(f"# {s}\n")
            for load in loads:
                p = pts.get((s, load))
                if p and p["total_us"] is not None:
                    f.write(f"{load} {p['total_us']:.3f} {p['proxy_us']:.3f}\n")
            if not any((s, load) in pts for load in loads):
                f.write("NaN NaN NaN\n")  # keeps the block numbering of plot.gp
            f.write("\n\n")

    def ratio(a, b):
        return a / b if a is not None and b else None

    md = []
    md.append("# mara vs Kamailio, side by side (bench/compare)\n")
    md.append("Produced by `bench/compare/run.sh` (`make bench`). Every number below is the **median of "
              f"{max(p['runs'] for p in pts.values())} run(s)** per point; the raw runs are in `runs.csv`. "
              "The machine is noisy (a small VM where the generator, the UAS and the proxy share the "
              "cores): compare medians, and treat differences under ~15 % as ties.\n")
    md.append("## Machine and versions\n")
    md.append("```")
    md.extend(read_kv(os.path.join(d, "machine.txt")))
    md.extend(read_kv(os.path.join(d, "versions.txt")))
    md.append("```")
    md.append("Parameters (`configs/params.txt`):\n")
    md.append("```")
    md.extend(read_kv(os.path.join(d, "configs", "params.txt")))
    md.append("```\n")
    md.append("## Systems\n")
    md.append("| system | what |")
    md.append("|---|---|")
    for s in systems:
        md.append(f"| {s} | {LABEL[s]} |")
    md.append("")
    uas = ("mara-bench's built-in UAS (`--uas`)" if gen == "mara-bench"
           else "a SIPp UAS (`uas_200.xml`)")
    md.append(f"Generator: **{gen}**; UAS: {uas}. Auth flow per call: INVITE → 407 → ACK → INVITE "
              "with Proxy-Authorization (alice, realm example.com, MD5, qop=auth) → 200 → ACK → BYE "
              "→ 200 (the proxy receives 9 SIP messages and sends 7 per call; mara adds 2 MAR/MAA "
              "to mara-aaa over TCP). Forward flow: INVITE → 200 → ACK → BYE → 200. Both proxies are "
              "stateless, Record-Route the INVITE and loose-route ACK/BYE, check the digest against a "
              "stored HA1 and track the nonce-count (mara-aaa's replay table; Kamailio "
              "`nonce_count=1`); UDP only, 127.0.0.1. Configs used: `configs/`.\n")

    md.append("## Medians per point\n")
    md.append("CPU per call = utime+stime (from `/proc/PID/stat`, all threads/processes of the "
              "daemon, sampled just before and after the generator run) ÷ completed calls, in µs. "
              "For mara-auth the proxy and mara-aaa are given apart and together (`total`); for the "
              "others total = proxy. Failures = offered − completed calls.\n")
    md.append("| system | offered calls/s | runs | completed | failed | failed % | retrans | "
              "achieved calls/s | proxy µs/call | of which kernel | mara-aaa µs/call | total µs/call | "
              "proxy % of one core |")
    md.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in systems:
        for load in loads:
            p = pts.get((s, load))
            if not p:
                continue
            md.append(f"| {s} | {load} | {p['runs']} | {fmt(p['completed'], 0)} | {fmt(p['failed'], 0)} | "
                      f"{fmt(p['fail_pct'], 2)} | {fmt(p['retrans'], 0)} | {fmt(p['achieved_cps'], 0)} | "
                      f"{fmt(p['proxy_us'])} | {fmt(p['proxy_sys_us'])} | {fmt(p['aaa_us'])} | "
                      f"{fmt(p['total_us'])} | "
                      f"{fmt(p['proxy_core_pct'])} |")
    md.append("")

    md.append("## Ratios mara / Kamailio, CPU per call at equal offered load\n")
    md.append("< 1 means mara spends less CPU per call. Auth: mara-proxy alone, and mara-proxy + "
              "mara-aaa (the whole of Figure 4's work: Kamailio does the digest in-process).\n")
    md.append("The last two columns bound what any user-space work could reach: mara-proxy's kernel "
              "time alone (stime: UDP/TCP send and receive, on loopback the receiver's protocol work "
              "and wake-up too, its own sleeps and wake-ups) over Kamailio's total. Even a proxy "
              "whose own code cost nothing would not go below it with the same messages (approximate: "
              "/proc splits user and system time by tick samples). The "
              "last column is Kamailio's own kernel part over its total: the same SIP messages "
              "through the same sockets, without mara's two Diameter round trips.\n")
    md.append("| offered calls/s | auth: mara-proxy / Kamailio | auth: (mara-proxy + mara-aaa) / Kamailio | "
              "forward: mara-proxy / Kamailio | auth: mara-proxy kernel only / Kamailio | "
              "forward: kernel only / Kamailio | auth: Kamailio's kernel part / its total |")
    md.append("|---|---|---|---|---|---|---|")
    ratios = []
    for load in loads:
        ma, ka = pts.get(("mara-auth", load)), pts.get(("kamailio-auth", load))
        mf, kf = pts.get(("mara-fwd", load)), pts.get(("kamailio-fwd", load))
        r1 = ratio(ma and ma["proxy_us"], ka and ka["total_us"])
        r2 = ratio(ma and ma["total_us"], ka and ka["total_us"])
        r3 = ratio(mf and mf["total_us"], kf and kf["total_us"])
        k1 = ratio(ma and ma["proxy_sys_us"], ka and ka["total_us"])
        k3 = ratio(mf and mf["proxy_sys_us"], kf and kf["total_us"])
        kk = ratio(ka and ka["proxy_sys_us"], ka and ka["total_us"])
        ratios.append((load, r1, r2, r3, k1, k3))
        md.append(f"| {load} | {fmt(r1, 2)} | {fmt(r2, 2)} | {fmt(r3, 2)} | {fmt(k1, 2)} | "
                  f"{fmt(k3, 2)} | {fmt(kk, 2)} |")
    md.append("")

    sat = os.path.join(d, "saturation.csv")
    if os.path.exists(sat):
        with open(sat, newline="", encoding="utf-8") as f:
            srows = list(csv.DictReader(f))
        md.append("## Saturation throughput (mara-bench, closed loop)\n")
        md.append("Highest completed calls/s with ≤ 0.1 % failed calls, over the concurrency steps, "
                  "median over runs (`saturation.csv`). On this machine the generator shares the "
                  "cores, so this is the throughput of the whole setup, not of the proxy alone.\n")
        md.append("≈ CPU per call there: the daemon's CPU over the step (1 s warm-up + the measured "
                  "part) ÷ (calls/s × that time), so approximate; mara-auth: mara-proxy + mara-aaa.\n")
        md.append("| system | saturation calls/s (≤ 0.1 % failures) | at concurrency (per run) | "
                  "≈ µs/call at saturation |")
        md.append("|---|---|---|---|")
        dur = None
        for line in read_kv(os.path.join(d, "configs", "params.txt")):
            if line.startswith("duration per run"):
                dur = num(line.split(":")[1].split()[0])
        best = {}
        for s in systems:
            per_run = []
            for run in sorted({r["run"] for r in srows if r["system"] == s}):
                ok = [r for r in srows if r["system"] == s and r["run"] == run]
                good = [r for r in ok if num(r["completed"]) and
                        num(r["failed"]) <= 0.001 * (num(r["completed"]) + num(r["failed"]))]
                if good:
                    b = max(good, key=lambda r: num(r["cps"]))
                    cpu = (num(b.get("proxy_cpu_s")) or 0) + (num(b.get("aaa_cpu_s")) or 0)
                    us = cpu * 1e6 / (num(b["cps"]) * (dur + 1)) if dur and num(b["cps"]) else None
                    per_run.append((num(b["cps"]), b["concurrency"], us))
                else:
                    per_run.append((0.0, "–", None))
            if per_run:
                best[s] = med([x[0] for x in per_run])
                md.append(f"| {s} | {fmt(best[s], 0)} | {', '.join(x[1] for x in per_run)} | "
                          f"{fmt(med([x[2] for x in per_run]), 0)} |")
        md.append("")
        if best.get("kamailio-auth") and best.get("mara-auth") is not None:
            md.append(f"Saturation ratio mara/Kamailio: auth {best['mara-auth'] / best['kamailio-auth']:.2f}"
                      + (f", forward {best['mara-fwd'] / best['kamailio-fwd']:.2f}"
                         if best.get("kamailio-fwd") and best.get("mara-fwd") is not None else "")
                      + "\n")
    else:
        md.append("## Saturation throughput\n")
        md.append(f"Not measured: generator `{gen}` (the saturation search needs build/mara-bench, "
                  "a closed-loop generator; SIPp on these 2 cores saturates itself around 3000–3500 "
                  "calls/s, see ../shared/peers/README.md).\n")

    lat_best = latency_section(d, systems, md)
    n0 = len(md)
    targets_section(md, ratios, best if os.path.exists(sat) else {}, lat_best)
    targets_md = [line for line in md[n0:] if line.startswith("| ") and "verdict" not in line]

    if broken:
        md.append("## Runs left out\n")
        md.append("The generator could not be started (exit 126/127), so these runs measured "
                  "nothing and are not in the medians: " +
                  ", ".join(f"{r['system']} {r['offered_cps']}/s run {r['run']}" for r in broken) +
                  ".\n")
    notes = read_kv(os.path.join(d, "notes.md"))
    if notes:
        md.append("## Notes on this run\n")
        md.extend(notes)
        md.append("")
    md.append("## Files\n")
    md.append("`runs.csv` (every run), `medians.csv`, `plot.dat`, `cpu_per_call.png` (CPU per call "
              "vs offered load, the four systems), `machine.txt`, `versions.txt`, `configs/` (the "
              "exact mara-proxy, mara-aaa and Kamailio configs, SIPp scenarios, parameters), `logs/` "
              "(daemon logs, SIPp screens).\n")
    md.append("## How to read it\n")
    md.append("* CPU comes from `/proc/PID/stat` in clock ticks (1/100 s): a 5 s run at 1000 calls/s "
              "resolves CPU per call to ~2 µs; higher loads resolve finer.\n"
              "* The generator, the UAS and the proxy share the same cores; at the higher "
              "loads the proxies get less CPU per scheduling turn, which can change batching and so the "
              "CPU per call. Retransmissions or failures mark points where the set-up, not "
              "necessarily the proxy, ran out of CPU.\n"
              "* mara-auth does two Diameter round trips per call (MAR/MAA over TCP to mara-aaa) "
              "that Kamailio does not have: the fair total is mara-proxy + mara-aaa.\n")

    with open(os.path.join(d, "summary.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(md))
    # one-line ratios on stdout for the caller
    for load, r1, r2, r3, _k1, _k3 in ratios:
        print(f"load {load}: auth proxy {fmt(r1, 2)}, auth proxy+aaa {fmt(r2, 2)}, fwd {fmt(r3, 2)}")
    print("targets (issue 5):")
    for line in targets_md:
        print("  " + " | ".join(c.strip().replace("**", "") for c in line.strip("|").split("|")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
