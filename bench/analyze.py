#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# bench/analyze.py: turn the guests' results.jsonl (bench/guest.sh) into
# bench/results/<name>.json (per-workload figures, ratios against HAProxy
# and direct from the same run, scale figures, targets), <name>-tables.rst
# (the tables of Documentation/benchmarks.rst) and PNG plots.
#
#   analyze.py --results results.jsonl --host host.json --loadavg loadavg.jsonl
#              --out DIR --name NAME
import argparse
import json
import math
import os
import statistics

USER_HZ = 100  # /proc/stat ticks
MODES = ["direct", "haproxy", "ipvs-nat", "ipvs-dr", "baton"]
SIZES = ["1k", "100k", "1m", "10m"]


def busy(cpu):
    # user nice system idle iowait irq softirq steal ...: all but idle+iowait
    return sum(cpu[:8]) - cpu[3] - cpu[4]


def softirq(cpu):
    return cpu[6]


def rate(a, b, f):
    dt = b["t"] - a["t"]
    return (f(b) - f(a)) / dt if dt > 0 else 0.0


def fe_cpu_s(s):
    return busy(s["cpu"]) / USER_HZ


def fe_tx(s):
    return s["net"]["tx_bytes"]


def fe_txp(s):
    return s["net"]["tx_packets"]


def workload_row(w):
    r = {k: w[k] for k in ("mode", "conn", "size", "bytes", "conc", "duration")}
    wrk = w.get("wrk")
    if not wrk or not wrk.get("requests"):
        r["ok"] = False
        return r
    r["ok"] = True
    req = wrk["requests"]
    dur = wrk["duration_us"] / 1e6
    r["requests"] = req
    r["rps"] = req / dur
    r["goodput_mbit"] = wrk["bytes"] * 8 / dur / 1e6
    r["errors"] = sum(wrk[k] for k in ("err_connect", "err_read", "err_write", "err_status", "err_timeout"))
    r["lat_p50_ms"] = wrk["lat_p50_us"] / 1000
    r["lat_p99_ms"] = wrk["lat_p99_us"] / 1000
    t = [x for x in w.get("ttfb") or [] if len(x) == 3]
    r["ttfb_samples"] = len(t)
    if t:
        ttfb = [x[1] * 1000 for x in t]
        r["ttfb_p50_ms"] = statistics.median(ttfb)
        r["ttfb_max_ms"] = max(ttfb)
        r["connect_p50_ms"] = statistics.median(x[0] * 1000 for x in t)
    # Front-end: idle rate just before, then the run, net of it.
    i0, i1, w0, w1 = w["idle0"], w["idle1"], w["w0"], w["w1"]
    el = w1["t"] - w0["t"]
    idle_cpu = rate(i0, i1, fe_cpu_s)
    idle_tx = rate(i0, i1, fe_tx)
    cpu = fe_cpu_s(w1) - fe_cpu_s(w0)
    net_cpu = max(0.0, cpu - idle_cpu * el)
    r["fe_idle_cpu_pct"] = idle_cpu * 100
    r["fe_util_pct"] = cpu / el * 100 if el > 0 else 0
    r["fe_cpu_us_per_req"] = net_cpu / req * 1e6
    r["fe_cpu_us_per_req_raw"] = cpu / req * 1e6
    r["fe_softirq_us_per_req"] = (softirq(w1["cpu"]) - softirq(w0["cpu"])) / USER_HZ / req * 1e6
    tx = fe_tx(w1) - fe_tx(w0)
    net_tx = max(0.0, tx - idle_tx * el)
    r["fe_tx_bytes_per_req"] = net_tx / req
    r["fe_tx_pct_of_response"] = net_tx / req / w["bytes"] * 100
    r["fe_tx_packets_per_req"] = (fe_txp(w1) - fe_txp(w0)) / req
    # Back-ends (both, not net of idle) and retransmissions everywhere.
    be = [p for p in w.get("be") or [] if p and p[0] and p[1]]
    if be:
        r["be_cpu_us_per_req"] = sum(fe_cpu_s(b) - fe_cpu_s(a) for a, b in be) / req * 1e6
    def rtx_of(pairs):
        return sum(b["tcp"]["RetransSegs"] - a["tcp"]["RetransSegs"]
                   for a, b in pairs if "tcp" in a and "tcp" in b)
    r["retrans_fe"] = rtx_of([(w0, w1)])
    r["retrans_be"] = rtx_of(be)
    c = w.get("client_tcp")
    r["retrans_client"] = c[1]["RetransSegs"] - c[0]["RetransSegs"] if c and c[0] and c[1] else 0
    r["retrans_per_1k_req"] = (r["retrans_fe"] + r["retrans_be"] + r["retrans_client"]) / req * 1000
    return r


def key(r):
    return (r["conn"], r["size"], r["conc"])


def ratios(rows):
    by = {}
    for r in rows:
        if r["ok"]:
            by.setdefault(key(r), {})[r["mode"]] = r
    out = []
    for k, m in sorted(by.items(), key=lambda kv: (kv[0][0], SIZES.index(kv[0][1]) if kv[0][1] in SIZES else 9, kv[0][2])):
        for mode, r in m.items():
            e = {"mode": mode, "conn": k[0], "size": k[1], "conc": k[2]}
            for ref in ("haproxy", "direct", "ipvs-dr"):
                if ref in m and ref != mode:
                    q = m[ref]
                    e[f"rps_vs_{ref}"] = r["rps"] / q["rps"] if q["rps"] else None
                    if q.get("fe_cpu_us_per_req"):
                        e[f"fe_cpu_vs_{ref}"] = r["fe_cpu_us_per_req"] / q["fe_cpu_us_per_req"]
            out.append(e)
    return out


def agg_cpu(rows, mode, size, conn):
    """Net front-end CPU per request over all concurrencies of (mode, size, conn)."""
    sel = [r for r in rows if r["ok"] and r["mode"] == mode and r["size"] == size and r["conn"] == conn]
    req = sum(r["requests"] for r in sel)
    if not req:
        return None
    return sum(r["fe_cpu_us_per_req"] * r["requests"] for r in sel) / req


def scale_rows(lines):
    out = []
    for s in lines:
        r = {"n": s["n"], "open_ok": s.get("open_ok"), "open_errors": s.get("open_errors"),
             "open_s": s.get("open_s"), "active_requests": s.get("active_requests"),
             "active_errors": s.get("active_errors"), "active_s": s.get("active_s")}
        # `batonctl conn list | wc -l` on the front-end: lines (a header and
        # one per connection) and seconds.
        if s.get("list"):
            r["list_lines"] = s["list"]["lines"]
            r["list_s"] = s["list"]["s"]
        b, i, a = s.get("before"), s.get("idle"), s.get("after")
        if not (b and i and a and "baton" in b and "baton" in i and "baton" in a):
            out.append(r)
            continue
        flows = i["baton"]["active"] - b["baton"]["active"]
        r["flows_idle"] = i["baton"]["active"]
        r["handoffs_ok"] = i["baton"]["handoffs-ok"] - b["baton"]["handoffs-ok"]
        mb, mi = b["mem_kb"], i["mem_kb"]
        if flows > 0:
            r["slab_bytes_per_flow"] = (mi["Slab"] - mb["Slab"]) * 1024 / flows
            r["sunreclaim_bytes_per_flow"] = (mi["SUnreclaim"] - mb["SUnreclaim"]) * 1024 / flows
            r["memavail_bytes_per_flow"] = (mb["MemAvailable"] - mi["MemAvailable"]) * 1024 / flows
        r["slab_total_kb"] = mi["Slab"] - mb["Slab"]
        r["mem_total_kb"] = mb["MemAvailable"] - mi["MemAvailable"]
        # CPU windows from fork-free /stat samples: idle_a..idle_b (idle
        # rate), idle_b..active_end (active); packets from /baton around them.
        ia, ib, ae = s.get("idle_a"), s.get("idle_b"), s.get("active_end")
        if not (ia and ib and ae):
            ia, ib, ae = i, i, a
        idle_cpu = rate(ia, ib, fe_cpu_s) if ib is not ia else 0.0
        idle_sirq = rate(ia, ib, lambda x: softirq(x["cpu"]) / USER_HZ) if ib is not ia else 0.0
        fwd = a["baton"]["forwarded"] - i["baton"]["forwarded"]
        el = ae["t"] - ib["t"]
        cpu = fe_cpu_s(ae) - fe_cpu_s(ib)
        sirq = (softirq(ae["cpu"]) - softirq(ib["cpu"])) / USER_HZ
        r["forwarded"] = fwd
        r["fe_idle_cpu_pct"] = idle_cpu * 100
        r["active_fe_util_pct"] = cpu / el * 100 if el > 0 else 0
        if fwd:
            r["fe_cpu_ns_per_packet"] = max(0.0, cpu - idle_cpu * el) / fwd * 1e9
            r["fe_cpu_ns_per_packet_raw"] = cpu / fwd * 1e9
            r["fe_softirq_ns_per_packet"] = max(0.0, sirq - idle_sirq * el) / fwd * 1e9
        out.append(r)
    return out


def targets(rows, scale, meta):
    t = {}
    # 1. FE CPU per request at 1 MB: <= 1/4 HAProxy, <= 2x IPVS-DR.
    for conn in ("close", "keepalive"):
        b = agg_cpu(rows, "baton", "1m", conn)
        h = agg_cpu(rows, "haproxy", "1m", conn)
        d = agg_cpu(rows, "ipvs-dr", "1m", conn)
        if b is None:
            continue
        e = {"baton_us": b, "haproxy_us": h, "ipvs_dr_us": d}
        if h:
            e["vs_haproxy"] = b / h
            e["met_quarter_of_haproxy"] = b <= h / 4
        if d:
            e["vs_ipvs_dr"] = b / d
            e["met_within_2x_ipvs_dr"] = b <= 2 * d
        t[f"fe_cpu_1m_{conn}"] = e
    # 2. FE bytes per request <= 2% of the response (per size, baton).
    for size in SIZES:
        sel = [r for r in rows if r["ok"] and r["mode"] == "baton" and r["size"] == size]
        if sel:
            worst = max(r["fe_tx_pct_of_response"] for r in sel)
            t[f"fe_tx_{size}"] = {"worst_pct": worst, "met_2pct": worst <= 2.0}
    # 3. Throughput at 100 KB-1 MB >= 2x HAProxy when the FE is the bottleneck.
    rs = []
    for r in rows:
        if r["ok"] and r["mode"] == "haproxy" and r["size"] in ("100k", "1m"):
            b = [x for x in rows if x["ok"] and x["mode"] == "baton" and key(x) == key(r)]
            if b:
                rs.append({"conn": r["conn"], "size": r["size"], "conc": r["conc"],
                           "haproxy_fe_util_pct": r["fe_util_pct"],
                           "fe_bottleneck": r["fe_util_pct"] >= 90,
                           "baton_vs_haproxy": b[0]["rps"] / r["rps"]})
    bott = [x for x in rs if x["fe_bottleneck"]]
    t["throughput_100k_1m"] = {"cases": rs, "fe_bottleneck_cases": len(bott),
                               "met_2x_when_fe_bottleneck": all(x["baton_vs_haproxy"] >= 2 for x in bott) if bott else None}
    # 4. <= 128 bytes of FE state per handed-off connection.
    sc = [s for s in scale if s.get("slab_bytes_per_flow") is not None]
    if sc:
        big = max(sc, key=lambda s: s["flows_idle"])
        t["state_per_conn"] = {"n": big["n"], "slab_bytes_per_flow": big["slab_bytes_per_flow"],
                               "met_128": big["slab_bytes_per_flow"] <= 128}
    # 5. Lookup cost growth <= 1.2x from the smallest to the largest size.
    sc = [s for s in scale if s.get("fe_cpu_ns_per_packet")]
    if len(sc) >= 2:
        lo = min(sc, key=lambda s: s["n"])
        hi = max(sc, key=lambda s: s["n"])
        g = hi["fe_cpu_ns_per_packet"] / lo["fe_cpu_ns_per_packet"]
        e = {"from": lo["n"], "to": hi["n"], "growth_cpu": g, "met_1_2x": g <= 1.2}
        if lo.get("fe_softirq_ns_per_packet") and hi.get("fe_softirq_ns_per_packet"):
            e["growth_softirq"] = hi["fe_softirq_ns_per_packet"] / lo["fe_softirq_ns_per_packet"]
        t["lookup_growth"] = e
    return t


# --- output -------------------------------------------------------------------


def fmt(v, nd=1):
    if v is None:
        return "-"
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        if abs(v) >= 100:
            return f"{v:.0f}"
        return f"{v:.{nd}f}"
    return str(v)


def rst_table(header, rows):
    cols = [header] + [[fmt(c) if not isinstance(c, str) else c for c in r] for r in rows]
    w = [max(len(r[i]) for r in cols) for i in range(len(header))]
    line = " ".join("=" * x for x in w)
    out = [line, " ".join(h.ljust(w[i]) for i, h in enumerate(header)), line]
    for r in cols[1:]:
        out.append(" ".join(c.ljust(w[i]) for i, c in enumerate(r)))
    out.append(line)
    return "\n".join(out) + "\n"


def tables(rows, rat, scale, tg):
    out = []
    rk = {(e["mode"], e["conn"], e["size"], e["conc"]): e for e in rat}
    for conn in ("close", "keepalive"):
        sel = [r for r in rows if r["conn"] == conn]
        if not sel:
            continue
        out.append(f"Connection mode ``{conn}``\n\n")
        hdr = ["mode", "size", "conc", "req/s", "p50 ms", "p99 ms", "TTFB ms",
               "FE us/req", "FE B/req", "FE util %", "BE us/req", "rtx/1k", "vs HAProxy", "vs direct", "err"]
        body = []
        for size in SIZES:
            for conc in sorted({r["conc"] for r in sel}):
                for mode in MODES:
                    r = [x for x in sel if x["mode"] == mode and x["size"] == size and x["conc"] == conc]
                    if not r:
                        continue
                    r = r[0]
                    if not r["ok"]:
                        body.append([mode, size, str(conc)] + ["-"] * 12)
                        continue
                    e = rk.get((mode, conn, size, conc), {})
                    body.append([mode, size, str(conc), r["rps"], r["lat_p50_ms"], r["lat_p99_ms"],
                                 r.get("ttfb_p50_ms"), r["fe_cpu_us_per_req"], r["fe_tx_bytes_per_req"],
                                 r["fe_util_pct"], r.get("be_cpu_us_per_req"), r.get("retrans_per_1k_req"),
                                 e.get("rps_vs_haproxy"), e.get("rps_vs_direct"),
                                 str(r["errors"])])
        out.append(rst_table(hdr, body))
        out.append("\n")
    if scale:
        out.append("Scale (baton, handed-off connections idle then active)\n\n")
        hdr = ["connections", "opened", "open s", "flows", "listed", "list s", "slab B/flow",
               "mem KB", "packets", "FE ns/packet", "softirq ns/packet", "FE util %"]
        body = [[str(s["n"]), str(s.get("open_ok")), s.get("open_s"), str(s.get("flows_idle", "-")),
                 str(s["list_lines"] - 1) if "list_lines" in s else "-", s.get("list_s"),
                 s.get("slab_bytes_per_flow"), s.get("mem_total_kb"), str(s.get("forwarded", "-")),
                 s.get("fe_cpu_ns_per_packet"), s.get("fe_softirq_ns_per_packet"),
                 s.get("active_fe_util_pct")] for s in scale]
        out.append(rst_table(hdr, body))
        out.append("\n")
    return "".join(out)


def targets_rst(tg):
    def yn(v):
        return "-" if v is None else ("met" if v else "missed")
    body = []
    for conn in ("close", "keepalive"):
        e = tg.get(f"fe_cpu_1m_{conn}")
        if e:
            body.append([f"FE CPU/request at 1 MB ({conn}) <= 1/4 HAProxy",
                         f"{fmt(e['baton_us'])} us vs {fmt(e['haproxy_us'])} us ({fmt(e.get('vs_haproxy'), 3)}x)",
                         yn(e.get("met_quarter_of_haproxy"))])
            body.append([f"FE CPU/request at 1 MB ({conn}) <= 2x IPVS-DR",
                         f"{fmt(e['baton_us'])} us vs {fmt(e['ipvs_dr_us'])} us ({fmt(e.get('vs_ipvs_dr'), 2)}x)",
                         yn(e.get("met_within_2x_ipvs_dr"))])
    for size in SIZES:
        e = tg.get(f"fe_tx_{size}")
        if e:
            body.append([f"FE bytes/request <= 2% of {size}", f"worst {fmt(e['worst_pct'], 2)}%", yn(e["met_2pct"])])
    e = tg.get("throughput_100k_1m")
    if e:
        cases = e["cases"]
        lo = min((c["baton_vs_haproxy"] for c in cases), default=None)
        hi = max((c["baton_vs_haproxy"] for c in cases), default=None)
        body.append(["throughput 100 KB-1 MB >= 2x HAProxy (FE bottleneck)",
                     f"{e['fe_bottleneck_cases']} FE-bound cases; all cases {fmt(lo, 2)}x-{fmt(hi, 2)}x",
                     yn(e["met_2x_when_fe_bottleneck"])])
    e = tg.get("state_per_conn")
    if e:
        body.append(["<= 128 B FE state per connection",
                     f"{fmt(e['slab_bytes_per_flow'])} B (slab growth, {e['n']} flows)", yn(e["met_128"])])
    e = tg.get("lookup_growth")
    if e:
        body.append([f"lookup growth <= 1.2x ({e['from']} -> {e['to']})",
                     f"CPU {fmt(e['growth_cpu'], 2)}x, softirq {fmt(e.get('growth_softirq'), 2)}x",
                     yn(e["met_1_2x"])])
    return rst_table(["target", "measured", "result"], body)


def plots(rows, scale, out, name):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("analyze: no matplotlib, no plots")
        return []
    files = []
    concs = sorted({r["conc"] for r in rows})
    conns = [c for c in ("close", "keepalive") if any(r["conn"] == c for r in rows)]
    sizes = [s for s in SIZES if any(r["size"] == s for r in rows)]
    for metric, label, fname, logy in (
            ("rps", "requests/s (cluster)", "throughput", True),
            ("fe_cpu_us_per_req", "front-end CPU us / request (net of idle)", "fe-cpu", True)):
        fig, axes = plt.subplots(len(conns), len(concs), figsize=(3.2 * len(concs), 2.8 * len(conns)),
                                 squeeze=False, sharey=True)
        for i, conn in enumerate(conns):
            for j, conc in enumerate(concs):
                ax = axes[i][j]
                for mode in MODES:
                    xs, ys = [], []
                    for k, size in enumerate(sizes):
                        r = [x for x in rows if x["ok"] and x["mode"] == mode and x["conn"] == conn
                             and x["size"] == size and x["conc"] == conc]
                        if r and r[0][metric] > 0:
                            xs.append(k)
                            ys.append(r[0][metric])
                    # One colour per mode in every panel, whatever is missing.
                    ax.plot(xs, ys, marker="o", label=mode, color=f"C{MODES.index(mode)}")
                ax.set_xticks(range(len(sizes)))
                ax.set_xticklabels(sizes)
                # A panel whose values are all 0 (e.g. front-end CPU below
                # the tick resolution) cannot be drawn on a log scale.
                if logy and any(y and y > 0 for line in ax.get_lines() for y in line.get_ydata()):
                    ax.set_yscale("log")
                ax.set_title(f"{conn}, {conc} conn.", fontsize=9)
                ax.grid(True, which="both", alpha=0.3)
                if j == 0:
                    ax.set_ylabel(label, fontsize=8)
        axes[0][0].legend(fontsize=7)
        fig.suptitle(f"{label} vs response size ({name})", fontsize=10)
        fig.tight_layout()
        path = os.path.join(out, f"{name}-{fname}.png")
        fig.savefig(path, dpi=72)
        plt.close(fig)
        files.append(path)
    sc = [s for s in scale if s.get("fe_cpu_ns_per_packet")]
    if sc:
        fig, ax = plt.subplots(1, 2, figsize=(7, 2.8))
        ns = [s["n"] for s in sc]
        ax[0].plot(ns, [s["fe_cpu_ns_per_packet"] for s in sc], marker="o", label="all CPU")
        ax[0].plot(ns, [s["fe_softirq_ns_per_packet"] for s in sc], marker="o", label="softirq")
        ax[0].set_xscale("log")
        ax[0].set_ylim(bottom=0)
        ax[0].set_title("front-end ns / forwarded packet", fontsize=9)
        ax[0].legend(fontsize=7)
        ax[1].plot(ns, [s.get("slab_bytes_per_flow", 0) for s in sc], marker="o")
        ax[1].set_xscale("log")
        ax[1].set_ylim(bottom=0)
        ax[1].set_title("front-end slab bytes / flow", fontsize=9)
        for a in ax:
            a.grid(True, alpha=0.3)
            a.set_xlabel("handed-off connections", fontsize=8)
        fig.tight_layout()
        path = os.path.join(out, f"{name}-scale.png")
        fig.savefig(path, dpi=72)
        plt.close(fig)
        files.append(path)
    return files


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--results", required=True)
    p.add_argument("--host")
    p.add_argument("--loadavg")
    p.add_argument("--out", required=True)
    p.add_argument("--name", required=True)
    a = p.parse_args()
    meta, work, scale = {}, [], []
    with open(a.results) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            d = json.loads(line)
            if d["kind"] == "meta":
                meta = d
            elif d["kind"] == "workload":
                work.append(d)
            elif d["kind"] == "scale":
                scale.append(d)
    rows = [workload_row(w) for w in work]
    rat = ratios(rows)
    sc = scale_rows(scale)
    tg = targets(rows, sc, meta)
    res = {"meta": meta, "rows": rows, "ratios": rat, "scale": sc, "targets": tg}
    if a.host and os.path.exists(a.host):
        with open(a.host) as f:
            res["host"] = json.load(f)
    if a.loadavg and os.path.exists(a.loadavg):
        with open(a.loadavg) as f:
            la = [json.loads(x) for x in f if x.strip()]
        if la:
            res["host_loadavg"] = {"start": la[0]["loadavg"], "end": la[-1]["loadavg"],
                                   "max_1min": max(x["loadavg"][0] for x in la),
                                   "samples": [[x["t"] - la[0]["t"], x["loadavg"][0]] for x in la]}
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, f"{a.name}.json")
    with open(path, "w") as f:
        json.dump(res, f, indent=1, sort_keys=True, default=lambda o: round(o, 3))
        f.write("\n")
    # Rounded floats keep the file small.
    with open(path) as f:
        txt = json.load(f, parse_float=lambda s: round(float(s), 3))
    with open(path, "w") as f:
        json.dump(txt, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(a.out, f"{a.name}-tables.rst"), "w") as f:
        f.write("Targets\n\n" + targets_rst(tg) + "\n")
        f.write(tables(rows, rat, sc, tg))
    files = plots(rows, sc, a.out, a.name)
    print(f"analyze: {len(rows)} workloads, {len(sc)} scale sizes -> {path}")
    for fn in files:
        print(f"analyze: plot {fn}")
    print("analyze: targets:")
    print(json.dumps(tg, indent=1, default=lambda o: round(o, 3)))


if __name__ == "__main__":
    main()
