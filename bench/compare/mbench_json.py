#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# mbench_json.py - reads one `mara-bench --json` result for bench/compare/run.sh.
#   mbench_json.py counts FILE -> "completed failed retransmissions"
#   mbench_json.py sat FILE    -> "completed failed retransmissions completed_per_s"
#   mbench_json.py lat FILE    -> "completed failed p50 p90 p99 p99.9" of the latency of the
#                                 call's answer in ms (auth: INVITE with credentials -> 200;
#                                 noauth: INVITE -> 200), - where the run has none
# Keys of mara-bench 0.1.0's --json object: completed, failed, retransmissions, flows_per_s,
# elapsed_s (top level); a few aliases are accepted so that a renamed key degrades to a visible 0
# rather than a crash. An unreadable
# file prints zeros (the run then shows up as failed calls in the summary).
import json
import sys

ALIASES = {
    "completed": ("completed", "ok", "successful", "calls_ok"),
    "failed": ("failed", "failures_total", "calls_failed", "errors"),
    "retrans": ("retransmissions", "retrans", "retransmits"),
    "cps": ("flows_per_s", "completed_per_s", "cps", "throughput_cps", "throughput", "achieved_cps", "rate_achieved"),
    "seconds": ("elapsed_s", "duration_s", "seconds", "elapsed"),
}


def find(doc, names):
    """First numeric value under one of @names, searched breadth-first through nested objects."""
    queue = [doc]
    while queue:
        d = queue.pop(0)
        if not isinstance(d, dict):
            continue
        for n in names:
            v = d.get(n)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return v
        queue.extend(v for v in d.values() if isinstance(v, dict))
    return None


def main():
    what, path = sys.argv[1], sys.argv[2]
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read().strip()
    except OSError:
        text = ""
    try:
        doc = json.loads(text)
    except ValueError:
        # several lines printed: the last one that parses is the result
        doc = {}
        for line in reversed(text.splitlines()):
            try:
                doc = json.loads(line)
                break
            except ValueError:
                continue
    ok = find(doc, ALIASES["completed"]) or 0
    ko = find(doc, ALIASES["failed"]) or 0
    rt = find(doc, ALIASES["retrans"]) or 0
    if what == "counts":
        print(int(ok), int(ko), int(rt))
        return
    if what == "lat":
        lat = doc.get("latency_ms") if isinstance(doc, dict) else None
        lat = lat if isinstance(lat, dict) else {}
        # auth flows: INVITE(auth) -> 200; noauth flows have no "auth" step: the whole flow's
        h = lat.get("auth") if (lat.get("auth") or {}).get("count") else lat.get("flow")
        h = h if isinstance(h, dict) else {}
        q = [h.get(k) for k in ("p50", "p90", "p99", "p99.9")]
        print(int(ok), int(ko), *("-" if v is None else v for v in q))
        return
    cps = find(doc, ALIASES["cps"])
    if cps is None:
        secs = find(doc, ALIASES["seconds"])
        cps = ok / secs if secs else 0
    print(int(ok), int(ko), int(rt), round(cps))


if __name__ == "__main__":
    main()
