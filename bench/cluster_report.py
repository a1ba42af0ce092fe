#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# bench/cluster_report.py: turn the front-end group part's cluster.jsonl
# (bench/cluster.sh) into bench/results/<name>-cluster.json (the lines and
# the figures judged against issue 15's targets), <name>-cluster-tables.rst
# (the tables of Documentation/benchmarks.rst, "Front-end groups") and
# <name>-cluster.png.
#
#   cluster_report.py --results cluster.jsonl --out DIR --name NAME
#
# Targets (issue 15, "Benchmark"): failover preserves every connection;
# resumes within the upstream's convergence plus 100 ms (the upstream
# converges at once here: the crashed front-end's nexthop goes with it).
# The client reads at a set pace, so a read gap of some 200 ms is the pace
# itself: the time to resume is the longest stall of the crashed
# front-end's connections less the median longest stall of the others;
# replication costs at most 1.3x the front-end's CPU per handoff and keeps
# at least 0.8x the handoff rate.
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from analyze import fmt, rst_table  # noqa: E402

RESUME_MS = 100
CPU_RATIO = 1.3
RATE_RATIO = 0.8


def median(xs):
    return statistics.median(xs) if xs else None


def replication(lines):
    """Medians over rounds, copies off and on, and their ratios."""
    rows = {}
    for c in ("off", "1"):
        ls = [x for x in lines if x["part"] == "replication" and x["copies"] == c]
        if ls:
            rows[c] = {k: median([x[k] for x in ls])
                       for k in ("rps", "fe_cpu_us", "backup_cpu_us", "guest_cpu_us")}
            rows[c]["rounds"] = len(ls)
            # fe1's control frames per socket write (queued ones go together); absent
            # from the lines of a module without the counter.
            per = [x["frames_out"] / x["writes_out"] for x in ls if x.get("writes_out")]
            rows[c]["frames_per_write"] = median(per)
    if "off" not in rows or "1" not in rows:
        return rows, None
    off, on = rows["off"], rows["1"]
    rate = on["rps"] / off["rps"] if off["rps"] else None
    cpu = on["fe_cpu_us"] / off["fe_cpu_us"] if off["fe_cpu_us"] else None
    # Each round runs copies off, then on, seconds apart: the ratio within
    # a round is blind to the host's drift from one round to the next.
    by_round = {}
    for x in lines:
        if x["part"] == "replication" and x["fe_cpu_us"]:
            by_round.setdefault(x["round"], {})[x["copies"]] = x["fe_cpu_us"]
    paired = [r["1"] / r["off"] for r in by_round.values() if "off" in r and "1" in r]
    return rows, {"rate_ratio": rate, "cpu_ratio": cpu,
                  "cpu_ratio_paired": median(paired), "cpu_ratio_rounds": paired,
                  "rate_met": rate is not None and rate >= RATE_RATIO,
                  "cpu_met": cpu is not None and cpu <= CPU_RATIO}


def failover(lines):
    out = []
    for x in lines:
        if x["part"] != "failover":
            continue
        tab = x["tables"]
        entries = sum(t["active"] + t["common"] for t in tab.values())
        memory = sum(t["memory"] + t["common-memory"] for t in tab.values())
        per_node = {fe: (t["memory"] + t["common-memory"]) / max(1, t["active"] + t["common"])
                    for fe, t in tab.items()}
        fe1 = sorted(x["fe1"])
        base = median(x["others"]) or 0
        resume = max(fe1) - base if fe1 else None
        out.append({
            "copies": x["copies"], "conns": x["conns"],
            "complete": x["outcomes"].get("complete", 0),
            "reset": x["outcomes"].get("reset", 0),
            "moved": len(fe1), "resume_ms": resume, "stall_max_ms": max(fe1) if fe1 else None,
            "resume_p50_ms": median(fe1), "pace_ms": base,
            "others_max_ms": max(x["others"]) if x["others"] else None,
            "promoted": x["promoted"], "relayed": x["relayed"],
            "entries_per_conn": entries / x["conns"],
            "bytes_per_conn": memory / x["conns"],
            "bytes_per_entry": per_node,
            "preserved_met": x["outcomes"].get("complete", 0) == x["conns"],
            "resume_met": resume is not None and resume <= RESUME_MS,
        })
    return out


def tables(rep, ratios, fo):
    out = []
    if rep:
        rows = [[c, fmt(r["rps"]), fmt(r["fe_cpu_us"]), fmt(r["backup_cpu_us"]),
                 fmt(r["guest_cpu_us"]), fmt(r["frames_per_write"], 2), str(r["rounds"])]
                for c, r in rep.items()]
        out.append("Handoffs with and without copies (new connection per request, /1k, 16 at a time):\n\n")
        out.append(rst_table(["copies", "handoffs/s", "fe1 us/handoff", "fe2 us/handoff",
                              "guest us/handoff", "fe1 frames/write", "rounds"], rows))
        if ratios:
            out.append(f"\nWith copies: {fmt(ratios['rate_ratio'], 2)}x the rate (target at least "
                       f"{RATE_RATIO}x: {'met' if ratios['rate_met'] else 'missed'}), "
                       f"{fmt(ratios['cpu_ratio'], 2)}x fe1's CPU per handoff (target at most "
                       f"{CPU_RATIO}x: {'met' if ratios['cpu_met'] else 'missed'}); "
                       f"round by round {', '.join(fmt(r, 2) for r in ratios['cpu_ratio_rounds'])}"
                       f"x, median {fmt(ratios['cpu_ratio_paired'], 2)}x.\n\n")
    if fo:
        rows = [[f["copies"], f"{f['complete']}/{f['conns']}", str(f["reset"]), str(f["moved"]),
                 fmt(f["resume_p50_ms"]), fmt(f["stall_max_ms"]), fmt(f["pace_ms"]),
                 fmt(f["resume_ms"]), str(f["promoted"]), str(f["relayed"]),
                 fmt(f["entries_per_conn"], 2), fmt(f["bytes_per_conn"])] for f in fo]
        out.append("Front-end 1 of 3 crashes under forwarding connections (resilient nexthop group):\n\n")
        out.append(rst_table(["copies", "complete", "reset", "on fe1", "fe1 stall p50 ms",
                              "fe1 stall max ms", "others p50 ms", "resume ms", "promoted",
                              "relayed", "entries/conn", "bytes/conn"], rows))
        for f in fo:
            out.append(f"\ncopies {f['copies']}: {f['complete']} of {f['conns']} preserved (target all: "
                       f"{'met' if f['preserved_met'] else 'missed'}), resumed in {fmt(f['resume_ms'])} ms "
                       f"(target {RESUME_MS} ms: {'met' if f['resume_met'] else 'missed'}).\n")
    return "".join(out)


def plot(rep, fo, out, name):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("cluster_report: no matplotlib, no plot")
        return None
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    cs = list(rep)
    axes[0].bar(cs, [rep[c]["rps"] for c in cs], color="tab:blue")
    axes[0].set_title("handoffs/s")
    axes[0].set_xlabel("copies")
    axes[1].bar(cs, [rep[c]["fe_cpu_us"] for c in cs], color="tab:orange", label="fe1")
    axes[1].bar(cs, [rep[c]["backup_cpu_us"] for c in cs], bottom=[rep[c]["fe_cpu_us"] for c in cs],
                color="tab:green", label="fe2 (backup)")
    axes[1].set_title("threads' CPU us / handoff")
    axes[1].set_xlabel("copies")
    axes[1].legend(fontsize=7)
    for i, f in enumerate(fo):
        xs = sorted(f.get("stalls", []))
        color = f"C{i}"
        axes[2].plot(range(len(xs)), xs, marker=".", color=color, label=f"copies {f['copies']}")
        axes[2].axhline((f["pace_ms"] or 0) + RESUME_MS, color=color, linestyle=":", linewidth=1,
                        label=f"copies {f['copies']}: target (pace + {RESUME_MS} ms)")
    axes[2].set_title("fe1's connections: longest stall (ms)")
    axes[2].set_xlabel("connection (sorted)")
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    path = os.path.join(out, f"{name}-cluster.png")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--results", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--icount", default="",
                   help="the guest ran under QEMU's -icount shift=N (its clock counts instructions)")
    a = p.parse_args()
    with open(a.results) as f:
        lines = [json.loads(x) for x in f if x.strip()]
    rep, ratios = replication(lines)
    fo = failover(lines)
    for f, x in zip(fo, [x for x in lines if x["part"] == "failover"]):
        f["stalls"] = sorted(x["fe1"])
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, f"{a.name}-cluster.json"), "w") as f:
        json.dump({"lines": lines, "replication": rep, "ratios": ratios, "failover": fo,
                   "icount": a.icount or None}, f, indent=1)
    text = tables(rep, ratios, fo)
    if a.icount:
        text = (f"Guest clock: QEMU -icount shift={a.icount} ({2 ** int(a.icount)} ns an "
                "instruction): times are instructions, whatever the host's load.\n\n" + text)
    with open(os.path.join(a.out, f"{a.name}-cluster-tables.rst"), "w") as f:
        f.write(text)
    plot(rep, fo, a.out, a.name)
    print(text)


if __name__ == "__main__":
    main()
