#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/growth/run.py - how mara's cost grows (issue 5, "Cost growth"), in one go.

Experiments (each point: fresh mara-aaa + mara-proxy on loopback, build/mara-bench as UAC and UAS,
Figure 4 INVITE flow with digest auth over Diameter unless said otherwise):
  shards       closed loop (--concurrency 400): calls/s and CPU per call vs proxy threads
               1..nproc (--shards to go further on a bigger machine)
  concurrency  open loop at --rate R with --hold so that R x hold = 1e2 .. 1e5 calls are up at
               once: CPU per call, proxy RSS, p99 (the proxy is stateless past the MAA: flat)
  users        mara-aaa with 1e3 .. 1e7 users (--max-users): load time, RSS, MAR/s (mar flow)
  delay        a TCP relay adding D ms each way between proxy and mara-aaa (D = 0, 1, 5, 20):
               closed-loop calls/s and MARs in flight (the pipelining depth the pool keeps)
  batch        open loop at --rate R with batch_wait_us = 0 .. 500 (proxy and mara-aaa): CPU per
               call against latency, the trade-off of batched wake-ups
  memory       mara-aaa stopped (SIGSTOP) so N MARs stay pending: proxy RSS per pending call;
               SIGCONT: pending back to 0; then a soak of --soak-calls calls with RSS sampled
               every second (growth over the run)
Output: DIR (default bench/results/growth-<UTC>/): <experiment>.csv, summary.md, machine.txt,
growth.png (gnuplot), raw/ (mara-bench JSON). Every process is started here and stopped by PID;
every run is bounded in calls and time; ports are chosen free.

usage: bench/growth/run.py [--out DIR] [--only shards,concurrency,users,delay,memory,batch]
                           [--quick] [--shards "1 2"] [--max-users 1e7] [--soak-calls 1000000]
"""
import argparse
import datetime
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("MARA_SRC", os.path.abspath(os.path.join(HERE, "..", "..")))
BUILD = os.environ.get("MARA_BUILD", os.path.join(SRC, "build"))
TCK = os.sysconf("SC_CLK_TCK")
PROCS = []  # every process we started, stopped at exit


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        st = f.read().rsplit(")", 1)[1].split()
    return int(st[11]) + int(st[12])  # utime + stime of the whole thread group


def rss_kib(pid, key="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def start(argv, log, ready, timeout=60, env=None):
    t0 = time.monotonic()
    f = open(log, "ab")
    p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, env=env)
    PROCS.append(p)
    while time.monotonic() - t0 < timeout:
        if p.poll() is not None:
            raise RuntimeError(f"{argv[0]} exited {p.returncode}, see {log}")
        with open(log, "rb") as g:
            if ready.encode() in g.read():
                return p, time.monotonic() - t0
        time.sleep(0.02)
    raise RuntimeError(f"{argv[0]}: '{ready}' not seen in {timeout} s, see {log}")


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGCONT)
        p.terminate()
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in PROCS:
        PROCS.remove(p)


class Setup:
    """mara-aaa (+ optional delay relay) + mara-proxy, stopped by close()."""

    def __init__(self, w, threads=2, users=None, delay_ms=None, proxy_extra="", aaa_extra=""):
        self.w = w
        self.aaa_port, self.sip_port, self.uas_port = free_port(), free_port(), free_port()
        self.stats_port = free_port()
        secret = os.urandom(32).hex()
        users = users or os.path.join(SRC, "deploy", "demo", "users")
        with open(f"{w}/aaa.conf", "w") as f:
            f.write(f'''log = {{ level = "info"; }};
aaa = {{ listen = "127.0.0.1:{self.aaa_port}"; origin_host = "aaa.growth.test";
  origin_realm = "growth.test"; threads = {threads}; users = "{users}"; realm = "example.com";
  nonce_secret = "{secret}"; replay_entries = 2097152; stats_listen = ""; {aaa_extra} }};
''')
        self.aaa, self.aaa_load_s = start([f"{BUILD}/mara-aaa", "-c", f"{w}/aaa.conf"],
                                          f"{w}/aaa.log", "mara-aaa ready", timeout=600)
        self.relay = None
        peer_port = self.aaa_port
        if delay_ms is not None:
            peer_port = free_port()
            self.relay, _ = start([sys.executable, f"{HERE}/delay_relay.py", str(peer_port),
                                   str(self.aaa_port), str(delay_ms)], f"{w}/relay.log",
                                  "relay ready")
        with open(f"{w}/proxy.conf", "w") as f:
            f.write(f'''log = {{ level = "info"; }};
proxy = {{ listen = "127.0.0.1:{self.sip_port}"; threads = {threads}; realm = "example.com";
  auth_methods = [ "*" ]; record_route = true; tcp = false;
  routes = ( {{ domain = "*"; address = "127.0.0.1:{self.uas_port}"; transport = "udp"; }} );
  allow = [ "127.0.0.0/8" ]; origin_host = "proxy.growth.test"; origin_realm = "growth.test";
  destination_realm = "example.com";
  aaa_peers = ( {{ host = "aaa.growth.test"; address = "127.0.0.1:{peer_port}"; }} );
  stats_listen = "127.0.0.1:{self.stats_port}"; {proxy_extra} }};
''')
        self.proxy, _ = start([f"{BUILD}/mara-proxy", "-c", f"{w}/proxy.conf"],
                              f"{w}/proxy.log", "peer open")

    def metric(self, name):
        body = urllib.request.urlopen(f"http://127.0.0.1:{self.stats_port}/metrics",
                                      timeout=5).read().decode()
        total = 0.0
        for line in body.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def close(self):
        stop(self.proxy)
        if self.relay:
            stop(self.relay)
        stop(self.aaa)


def bench(s, raw, name, args, sampler=None):
    """Runs mara-bench against setup s; returns (json, proxy CPU µs/call, aaa CPU µs/call)."""
    argv = [f"{BUILD}/mara-bench", "--target", f"127.0.0.1:{s.sip_port}",
            "--uas", f"127.0.0.1:{s.uas_port}", "--json"] + args
    p0, a0 = cpu_ticks(s.proxy.pid), cpu_ticks(s.aaa.pid)
    b = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    PROCS.append(b)
    samples = []
    while b.poll() is None:
        if sampler:
            samples.append(sampler())
        time.sleep(0.5)
    out = b.stdout.read()
    PROCS.remove(b)
    p1, a1 = cpu_ticks(s.proxy.pid), cpu_ticks(s.aaa.pid)
    with open(f"{raw}/{name}.json", "wb") as f:
        f.write(out)
    j = json.loads(out)
    # CPU over the whole run (warm-up and tail included) per measured call: an upper bound
    calls = max(1, j["completed"])
    us = lambda d: d * 1e6 / TCK / calls
    j["_samples"] = samples
    return j, us(p1 - p0), us(a1 - a0)


def lat(j, k, p):
    return j.get("latency_ms", {}).get(k, {}).get(p, 0)


def write_csv(out, name, header, rows):
    with open(f"{out}/{name}.csv", "w") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(str(x) for x in r) + "\n")
    print(f"== {name}", flush=True)
    for r in [header] + rows:
        print("  " + "  ".join(f"{x:>12}" for x in r), flush=True)


def exp_shards(a, out, raw, w):
    rows = []
    for n in a.shards:
        s = Setup(tempfile.mkdtemp(dir=w), threads=n)
        try:
            j, pu, au = bench(s, raw, f"shards-{n}", ["--flow", "invite", "--concurrency", "400",
                                                      "--duration", str(a.duration), "--warmup",
                                                      "1", "--threads", "2"])
            rows.append([n, round(j["flows_per_s"]), round(pu, 1), round(au, 1),
                         j["failed"], lat(j, "auth", "p99")])
        finally:
            s.close()
    write_csv(out, "shards", ["shards", "calls_per_s", "proxy_us_per_call",
                              "aaa_us_per_call", "failed", "auth_p99_ms"], rows)


def exp_concurrency(a, out, raw, w):
    rows = []
    rate = a.rate
    for c in a.concurrency:
        hold = c / rate
        dur = hold + a.duration
        s = Setup(tempfile.mkdtemp(dir=w))
        try:
            table = int(rate / 4 * (hold + 12)) + 256
            j, pu, au = bench(s, raw, f"concurrency-{c}",
                              ["--flow", "invite", "--rate", str(rate), "--hold", f"{hold:.3f}",
                               "--duration", f"{dur:.1f}", "--warmup", "1", "--threads", "4",
                               "--table", str(table)],
                              sampler=lambda: rss_kib(s.proxy.pid))
            rss = max(j["_samples"] or [0])
            # flows_per_s would count the hold of the last calls as idle time: the rate is
            # the offered one, and every started call must complete
            rows.append([c, f"{hold:.3f}", rate, j["started"], j["completed"], round(pu, 1),
                         round(au, 1), rss, j["failed"], lat(j, "auth", "p99")])
        finally:
            s.close()
    write_csv(out, "concurrency", ["concurrent_calls", "hold_s", "offered_calls_per_s",
                                   "started", "completed", "proxy_us_per_call",
                                   "aaa_us_per_call", "proxy_rss_kib", "failed", "auth_p99_ms"],
              rows)


def users_file(path, n):
    demo = open(os.path.join(SRC, "deploy", "demo", "users")).read()
    with open(path, "w") as f:
        f.write(demo)
        # the other users' HA1s are random: nobody logs in as them, they only fill the store
        chunk = 100000
        for base in range(0, n, chunk):
            rnd = os.urandom(16 * min(chunk, n - base)).hex()
            f.write("".join(f"u{base + i}:example.com:{rnd[32 * i:32 * i + 32]}\n"
                            for i in range(min(chunk, n - base))))


def exp_users(a, out, raw, w):
    rows = []
    n = 1000
    while n <= a.max_users:
        path = f"{w}/users-{n}"
        users_file(path, n)
        s = Setup(tempfile.mkdtemp(dir=w), users=path)
        try:
            rss = rss_kib(s.aaa.pid)
            argv = [f"{BUILD}/mara-bench", "--flow", "mar", "--target",
                    f"127.0.0.1:{s.aaa_port}", "--concurrency", "200", "--duration",
                    str(a.duration), "--warmup", "1", "--json"]
            r = subprocess.run(argv, capture_output=True, timeout=120)
            with open(f"{raw}/users-{n}.json", "wb") as f:
                f.write(r.stdout)
            j = json.loads(r.stdout)
            rows.append([n, round(s.aaa_load_s, 3), rss, round(j["mar_per_s"]), j["failed"],
                         os.path.getsize(path)])
        finally:
            s.close()
            os.unlink(path)
        n *= 10
    write_csv(out, "users", ["users", "load_s", "aaa_rss_kib", "mar_per_s", "failed",
                             "file_bytes"], rows)


def exp_delay(a, out, raw, w):
    rows = []
    for d in a.delays:
        s = Setup(tempfile.mkdtemp(dir=w), delay_ms=d,
                  proxy_extra="diameter_timeout_ms = 5000;")
        try:
            j, pu, au = bench(s, raw, f"delay-{d}",
                              ["--flow", "invite", "--concurrency", "1000", "--duration",
                               str(a.duration), "--warmup", "1", "--threads", "2"],
                              sampler=lambda: s.metric("mara_diameter_mar_inflight"))
            depth = max(j["_samples"] or [0])
            rows.append([d, 2 * d, round(j["flows_per_s"]), round(pu, 1), int(depth),
                         j["failed"], lat(j, "auth", "p50"), lat(j, "auth", "p99")])
        finally:
            s.close()
    write_csv(out, "delay", ["delay_ms_each_way", "added_rtt_ms", "calls_per_s",
                             "proxy_us_per_call", "max_mars_in_flight", "failed",
                             "auth_p50_ms", "auth_p99_ms"], rows)


def exp_batch(a, out, raw, w):
    rows = []
    runs = {b: [] for b in a.batches}
    for r in range(a.runs):  # interleaved: run r of every setting, then run r + 1
        for b in a.batches:
            s = Setup(tempfile.mkdtemp(dir=w), proxy_extra=f"batch_wait_us = {b};",
                      aaa_extra=f"batch_wait_us = {b};")
            try:
                j, pu, au = bench(s, raw, f"batch-{b}-{r}",
                                  ["--flow", "invite", "--rate", str(a.rate), "--duration",
                                   str(a.duration), "--warmup", "1", "--threads", "2"])
                runs[b].append([j["completed"], round(pu, 1), round(au, 1), j["failed"],
                                lat(j, "auth", "p50"), lat(j, "auth", "p99")])
            finally:
                s.close()
    for b in a.batches:  # the median of each column over the runs
        cols = list(zip(*runs[b]))
        rows.append([b, a.rate] + [sorted(c)[len(c) // 2] for c in cols])
    write_csv(out, "batch", ["batch_wait_us", "offered_calls_per_s", "completed",
                             "proxy_us_per_call", "aaa_us_per_call", "failed", "auth_p50_ms",
                             "auth_p99_ms"], rows)


def exp_memory(a, out, raw, w):
    rows = []
    s = Setup(tempfile.mkdtemp(dir=w), proxy_extra="diameter_timeout_ms = 60000;")
    try:
        # warm the allocator and every code path, then idle
        bench(s, raw, "memory-warm", ["--flow", "invite", "--rate", "2000", "--calls", "4000",
                                      "--threads", "2"])
        time.sleep(1)
        base = rss_kib(s.proxy.pid)
        s.aaa.send_signal(signal.SIGSTOP)
        n = a.pending
        b = subprocess.Popen([f"{BUILD}/mara-bench", "--flow", "invite", "--target",
                              f"127.0.0.1:{s.sip_port}", "--uas", f"127.0.0.1:{s.uas_port}",
                              "--rate", str(n // 2), "--calls", str(n), "--threads", "2",
                              "--timeout", "8", "--json"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        PROCS.append(b)
        t0 = time.monotonic()
        pend = 0
        while time.monotonic() - t0 < 6:
            pend = s.metric("mara_sip_pending_requests")
            if pend >= n * 0.95:
                break
            time.sleep(0.2)
        time.sleep(0.5)
        pend = s.metric("mara_sip_pending_requests")
        held = rss_kib(s.proxy.pid)
        per = (held - base) * 1024 / max(pend, 1)
        s.aaa.send_signal(signal.SIGCONT)
        b.wait(60)
        PROCS.remove(b)
        time.sleep(1)
        after = s.metric("mara_sip_pending_requests")
        rows.append(["pending", int(pend), base, held, round(per), int(after)])
        # soak: RSS sampled every 0.5 s over soak_calls calls
        rate = a.soak_rate
        j, pu, au = bench(s, raw, "memory-soak",
                          ["--flow", "invite", "--rate", str(rate), "--calls",
                           str(a.soak_calls), "--threads", "2"],
                          sampler=lambda: rss_kib(s.proxy.pid))
        smp = j["_samples"]
        with open(f"{out}/memory_soak.csv", "w") as f:
            f.write("t_s,proxy_rss_kib\n")
            for i, v in enumerate(smp):
                f.write(f"{i * 0.5:.1f},{v}\n")
        q = max(1, len(smp) // 4)
        first, last = sum(smp[q:2 * q]) / q, sum(smp[-q:]) / q
        rows.append(["soak", j["completed"], round(first), round(last),
                     round((last - first) * 1024 / max(1, j["completed"]), 3),
                     int(s.metric("mara_sip_pending_requests"))])
    finally:
        s.close()
    write_csv(out, "memory", ["phase", "calls", "rss_before_kib", "rss_after_kib",
                              "bytes_per_call", "pending_after"], rows)


def machine(out):
    if os.path.exists(f"{out}/machine.txt"):  # a later --only run into the same DIR: append
        out_f = open(f"{out}/machine.txt", "a")
        out_f.write("--- a later run into this directory\n")
        out_f.close()
    cpu = ""
    with open("/proc/cpuinfo") as f:
        m = re.search(r"model name\s*:\s*(.*)", f.read())
        cpu = m.group(1) if m else "?"
    with open(f"{out}/machine.txt", "a") as f:
        f.write(f"date {datetime.datetime.utcnow().isoformat()}Z\nnproc {os.cpu_count()}\n"
                f"cpu {cpu}\nkernel {platform.release()}\nloadavg {open('/proc/loadavg').read()}")


PLOTS = [  # csv, x column, y columns (title), x label, log x
    ("shards", 1, [(2, "calls/s")], "proxy threads (shards)", False),
    ("concurrency", 1, [(6, "proxy CPU us/call"), ("($8/1024)", "proxy RSS MiB")],
     "calls up at once", True),
    ("users", 1, [("($3/1024)", "mara-aaa RSS MiB"), (4, "MAR/s")], "users in the store", True),
    ("delay", 2, [(3, "calls/s"), (5, "MARs in flight")], "added AAA round trip (ms)", False),
    ("batch", 1, [(4, "proxy CPU us/call"), (8, "auth p99 ms")], "batch_wait_us", False),
    ("memory_soak", 1, [("($2/1024)", "proxy RSS MiB")], "seconds into the soak", False),
]


def plot(out):
    """growth.png: one panel per experiment that ran (gnuplot, from Debian's gnuplot-nox)."""
    have = [p for p in PLOTS if os.path.exists(f"{out}/{p[0]}.csv")]
    if not have:
        return
    g = [f"set terminal pngcairo size 1200,{330 * len(have)} font ',9'",
         f"set output '{out}/growth.png'", f"set multiplot layout {len(have)},1",
         "set datafile separator ','", "set key outside right noenhanced", "set grid",
         "set ytics nomirror", "set y2tics", "set yrange [0:*]", "set y2range [0:*]"]
    for name, x, ys, xl, logx in have:
        g.append("set logscale x" if logx else "unset logscale x")
        g.append(f"set xlabel '{xl}' noenhanced; set title '{name}' noenhanced")
        # the second series, when there is one, on the right-hand axis (other unit)
        g.append("plot " + ", ".join(
            f"'{out}/{name}.csv' every ::1 using {x}:{y} axes x1y{1 + i} with linespoints "
            f"title '{t}{' (right axis)' if i else ''}'" for i, (y, t) in enumerate(ys)))
    g.append("unset multiplot")
    with open(f"{out}/growth.gp", "w") as f:
        f.write("\n".join(g) + "\n")
    subprocess.run(["gnuplot", f"{out}/growth.gp"], check=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out")
    ap.add_argument("--only", default="shards,concurrency,users,delay,memory,batch")
    ap.add_argument("--quick", action="store_true", help="small points, short runs (a smoke)")
    ap.add_argument("--shards", default=" ".join(str(i) for i in range(1, os.cpu_count() + 1)))
    ap.add_argument("--max-users", type=float, default=1e7)
    ap.add_argument("--soak-calls", type=int, default=1000000)
    ap.add_argument("--soak-rate", type=int, default=8000)
    ap.add_argument("--rate", type=int, default=3000)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3, help="runs per point of batch (median)")
    a = ap.parse_args()
    a.shards = [int(x) for x in a.shards.split()]
    a.concurrency = [100, 1000, 10000, 100000]
    a.delays = [0, 1, 5, 20]
    a.batches = [0, 50, 100, 200, 500]
    a.pending = 20000
    a.max_users = int(a.max_users)
    if a.quick:
        a.concurrency, a.delays, a.max_users = [100, 1000], [0, 5], 10000
        a.batches = [0, 200]
        a.pending, a.soak_calls, a.duration, a.runs = 2000, 4000, 2, 1
    out = a.out or os.path.join(SRC, "bench", "results", "growth-" +
                                datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ"))
    raw = os.path.join(out, "raw")
    os.makedirs(raw, exist_ok=True)
    machine(out)
    w = tempfile.mkdtemp(prefix="mara-growth.")
    exps = {"shards": exp_shards, "concurrency": exp_concurrency, "users": exp_users,
            "delay": exp_delay, "memory": exp_memory, "batch": exp_batch}
    try:
        for name in a.only.split(","):
            exps[name](a, out, raw, w)
    finally:
        for p in list(PROCS):
            stop(p)
        subprocess.run(["rm", "-rf", w])
    plot(out)
    print(f"results in {out}")


if __name__ == "__main__":
    main()
