#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Adds each guest's instructions to the benchmark's workload rows
(BENCH_INSN=1).

  bench/insn.py OUTDIR/guest

Every guest's QEMU wrote its running instruction count with the host's
time (insn.<guest>.tsv, bench/insn.c); the client created
insn-mark.<workload>.0 and .1 on the shared directory at the edges of each
workload's CPU window (and .i0, .i1 around its idle window before), so
their modification times are the host's clock too. Each row of
results.jsonl that has both marks gets
``insn: {"client": N, "fe": N, "be1": N, "be2": N}``, the instructions each
guest executed in the window, with ``insn_window_s``, and ``insn_idle``
and ``insn_idle_s`` likewise for the idle window (a count read between two
samples is interpolated: they are 20 ms apart). results.jsonl is rewritten in place;
run again, it gives the same rows.
"""

import bisect
import json
import os
import sys

ROLES = ("client", "fe", "be1", "be2")


def load_counts(path):
    """(times, totals) of one guest's samples, in time order; a line
    written half when QEMU stopped is skipped."""
    ts, ns = [], []
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) < 2:
                continue
            try:
                t, n = float(p[0]), int(p[1])
            except ValueError:
                continue
            if ts and t < ts[-1]:
                continue
            ts.append(t)
            ns.append(n)
    return ts, ns


def count_at(samples, t):
    """The guest's total at time t, linear between the samples around it;
    None outside them."""
    ts, ns = samples
    if not ts or t < ts[0] or t > ts[-1]:
        return None
    i = bisect.bisect_left(ts, t)
    if ts[i] == t:
        return float(ns[i])
    t0, t1, n0, n1 = ts[i - 1], ts[i], ns[i - 1], ns[i]
    return n0 + (n1 - n0) * (t - t0) / (t1 - t0)


def between(counts, t0, t1):
    """Each guest's instructions from t0 to t1 (None: not covered)."""
    got = {}
    for role, samples in counts.items():
        a, b = count_at(samples, t0), count_at(samples, t1)
        got[role] = round(b - a) if a is not None and b is not None else None
    return got


def mark_name(w):
    return f"insn-mark.r{w['round']}.{w['mode']}.{w['conn']}.{w['size']}.c{w['conc']}"


def annotate(rows, guest_dir, counts):
    """rows with ``insn`` set where both marks and every guest's samples
    cover the window; how many got it."""
    n = 0
    for w in rows:
        if w.get("kind") != "workload":
            continue
        base = os.path.join(guest_dir, mark_name(w))
        try:
            t0 = os.stat(base + ".0").st_mtime_ns / 1e9
            t1 = os.stat(base + ".1").st_mtime_ns / 1e9
        except FileNotFoundError:
            w.pop("insn", None)
            continue
        w["insn"] = between(counts, t0, t1)
        w["insn_window_s"] = t1 - t0
        try:
            i0 = os.stat(base + ".i0").st_mtime_ns / 1e9
            i1 = os.stat(base + ".i1").st_mtime_ns / 1e9
            w["insn_idle"] = between(counts, i0, i1)
            w["insn_idle_s"] = i1 - i0
        except FileNotFoundError:
            w.pop("insn_idle", None)
        n += 1
    return n


def main(argv):
    if len(argv) != 2:
        print("usage: bench/insn.py OUTDIR/guest", file=sys.stderr)
        return 2
    d = argv[1]
    counts = {}
    for i, role in enumerate(ROLES):
        p = os.path.join(d, f"insn.{i}.tsv")
        if os.path.exists(p):
            counts[role] = load_counts(p)
    if not counts:
        print(f"insn.py: no insn.<guest>.tsv in {d}", file=sys.stderr)
        return 1
    res = os.path.join(d, "results.jsonl")
    with open(res) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    n = annotate(rows, d, counts)
    tmp = res + ".tmp"
    with open(tmp, "w") as f:
        for w in rows:
            f.write(json.dumps(w, separators=(",", ":")) + "\n")
    os.replace(tmp, res)
    total = sum(1 for w in rows if w.get("kind") == "workload")
    print(f"insn.py: instructions for {n} of {total} workloads")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
