#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# bench/test_analyze.py: host-side tests of bench/analyze.py (and of
# bench/cluster_report.py, issue 15, and bench/perf_share.py) on synthetic
# guest results (no VM): per-workload figures, the targets of issues 14,
# 16, 17 and 19 (met, missed, not judged, not measured), the burst table, the
# mixed-Host workload's tables and cost of a move, the guests' instruction
# counts (bench/insn.py and their figures), and whole runs of main() on a
# results.jsonl, with and without mixed lines. Ends with "N passed, N failed",
# the line tests/check.sh counts.
#
#   python3 bench/test_analyze.py [-v]
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import analyze  # noqa: E402
import cluster_report  # noqa: E402
import insn  # noqa: E402
import insn_profile  # noqa: E402
import perf_share  # noqa: E402

BYTES = {"1k": 1024, "100k": 100 * 1024, "1m": 1024 * 1024, "10m": 10 * 1024 * 1024}


def sample(t, busy_ticks, tx=0, rtx=0):
    # /proc/stat's cpu line: user nice system idle iowait irq softirq steal
    return {"t": t, "cpu": [busy_ticks, 0, 0, 1000 + t * 100, 0, 0, 0, 0],
            "net": {"tx_bytes": tx, "tx_packets": tx // 1000},
            "tcp": {"RetransSegs": rtx, "OutSegs": 0}}


def raw(mode, conn, size, conc, requests, *, p99_ms=10.0, fe_ticks=10, be_ticks=50, rtx=0,
        timeouts=0, duration=5):
    """One workload line of bench/guest.sh: REQUESTS in DURATION seconds,
    FE_TICKS front-end and BE_TICKS back-end CPU ticks (10 ms) over it, RTX
    retransmitted segments (on the client)."""
    wrk = None
    if requests is not None:
        wrk = {"requests": requests, "duration_us": duration * 1000000, "bytes": requests * BYTES[size],
               "err_connect": 0, "err_read": 0, "err_write": 0, "err_status": 0, "err_timeout": timeouts,
               "lat_mean_us": 1000.0, "lat_p50_us": 1000, "lat_p90_us": 2000,
               "lat_p99_us": int(p99_ms * 1000), "lat_max_us": int(p99_ms * 2000)}
    return {"kind": "workload", "mode": mode, "conn": conn, "size": size, "bytes": BYTES[size],
            "conc": conc, "duration": duration, "wrk": wrk, "ttfb": [[0.001, 0.002, 0.003]],
            # An idle front-end (no busy tick in the idle window).
            "idle0": sample(0, 0), "idle1": sample(1, 0),
            "w0": sample(2, 0), "w1": sample(2 + duration, fe_ticks, tx=100 * (requests or 0)),
            "be": [[sample(2, 0), sample(2 + duration, be_ticks)], [sample(2, 0), sample(2 + duration, 0)]],
            "client_tcp": [{"RetransSegs": 0, "OutSegs": 0}, {"RetransSegs": rtx, "OutSegs": 0}]}


def raw_mixed(mode, kind, size, conc, requests, *, fe_ticks=10, be_ticks=50, moves=None, refused=0,
              failed=0, p50_ms=1.0, mean_ms=1.0, duration=5):
    """One line of the mixed-Host workload (KIND mixed or mixed-same): as
    raw(), with wrk's p50 and mean latency, and MOVES (None: no baton
    counters, as in the other modes) moved, REFUSED and FAILED moves
    between the front-end's two `batonctl -j stats`."""
    w = raw(mode, kind, size, conc, requests, fe_ticks=fe_ticks, be_ticks=be_ticks, duration=duration)
    if w["wrk"]:
        w["wrk"]["lat_p50_us"] = int(p50_ms * 1000)
        w["wrk"]["lat_mean_us"] = mean_ms * 1000
    w["hosts"] = "a.example b.example"
    w["pick"] = "thread" if kind == "mixed-same" else "random"
    if moves is not None:
        w["fe_baton"] = [{"moved": 100, "moves-refused": 5, "moves-failed": 1, "handoffs-ok": 7},
                         {"moved": 100 + moves, "moves-refused": 5 + refused, "moves-failed": 1 + failed,
                          "handoffs-ok": 40}]
    return w


def mixed_run(baton_req=2000, baton_fe=50, haproxy_req=1000, haproxy_fe=100, sizes=("100k", "1m"),
              concs=(1, 16)):
    """HAProxy, baton (a move every other request, one more ms at the p50)
    and baton with one Host per connection in every cell."""
    out = []
    for size in sizes:
        for conc in concs:
            out += [raw_mixed("haproxy", "mixed", size, conc, haproxy_req, fe_ticks=haproxy_fe),
                    raw_mixed("baton", "mixed", size, conc, baton_req, fe_ticks=baton_fe,
                              moves=baton_req // 2 if baton_req else 0, p50_ms=3.0, mean_ms=2.5),
                    raw_mixed("baton", "mixed-same", size, conc, baton_req, fe_ticks=40, moves=0,
                              p50_ms=2.0, mean_ms=2.0)]
    return out


def meta(**kw):
    m = {"kind": "meta", "modes": "direct,haproxy,ipvs-dr,baton", "sizes": "1k", "conc": "1,16,64",
         "conn": "close", "scale": "", "burst": "", "burst_duration": 10, "duration": 5}
    m.update(kw)
    return m


def targets_of(lines, scale=(), m=None):
    rows = [analyze.workload_row(w) for w in lines]
    return analyze.targets(rows, list(scale), m if m is not None else meta())


class Issue14(unittest.TestCase):
    def close_1k(self, baton_req, haproxy_req, baton_rtx=0, haproxy_rtx=0, baton_p99=10, haproxy_p99=10):
        out = []
        for conc in (1, 16, 64):
            out.append(raw("haproxy", "close", "1k", conc, haproxy_req, rtx=haproxy_rtx, p99_ms=haproxy_p99))
            out.append(raw("baton", "close", "1k", conc, baton_req, rtx=baton_rtx, p99_ms=baton_p99))
        return out

    def test_rps_met_at_1_5x(self):
        t = targets_of(self.close_1k(1500, 1000))
        for conc in (1, 16, 64):
            e = t[f"i14_rps_1k_close_c{conc}"]
            self.assertIs(e["met"], True)
            self.assertAlmostEqual(e["worst_ratio"], 1.5)
            self.assertEqual(e["issue"], 14)
            self.assertIn("#14", e["target"])

    def test_rps_missed_below(self):
        t = targets_of(self.close_1k(1400, 1000))
        self.assertIs(t["i14_rps_1k_close_c16"]["met"], False)

    def test_retransmissions_per_request(self):
        # 100 retransmissions in 1000 requests against 60 in 1000: 1.67x.
        t = targets_of(self.close_1k(1000, 1000, baton_rtx=100, haproxy_rtx=60))
        e = t["i14_rtx_1k_close_c1"]
        self.assertIs(e["met"], True)
        self.assertAlmostEqual(e["cells"][0]["baton"], 0.1)
        t = targets_of(self.close_1k(1000, 1000, baton_rtx=130, haproxy_rtx=60))
        self.assertIs(t["i14_rtx_1k_close_c1"]["met"], False)

    def test_retransmissions_zero_reference(self):
        # HAProxy without a retransmission: a real 0, baton must match it.
        t = targets_of(self.close_1k(1000, 1000, baton_rtx=0, haproxy_rtx=0))
        self.assertIs(t["i14_rtx_1k_close_c64"]["met"], True)
        t = targets_of(self.close_1k(1000, 1000, baton_rtx=1, haproxy_rtx=0))
        self.assertIs(t["i14_rtx_1k_close_c64"]["met"], False)

    def test_p99(self):
        t = targets_of(self.close_1k(1000, 1000, baton_p99=20, haproxy_p99=20))
        self.assertIs(t["i14_p99_1k_close_c1"]["met"], True)
        t = targets_of(self.close_1k(1000, 1000, baton_p99=21, haproxy_p99=20))
        self.assertIs(t["i14_p99_1k_close_c1"]["met"], False)

    def test_baton_without_requests_misses(self):
        lines = self.close_1k(1000, 1000)
        lines[1] = raw("baton", "close", "1k", 1, 0)
        t = targets_of(lines)
        for name in ("i14_rps_1k_close_c1", "i14_p99_1k_close_c1", "i14_rtx_1k_close_c1", "i14_cells"):
            self.assertIs(t[name]["met"], False, name)
        self.assertEqual(t["i14_cells"]["empty"], ["baton close 1k c1"])

    def test_cells_missing_from_the_plan(self):
        # The plan asked for 1, 16 and 64 connections; c64 never reported.
        lines = [x for x in self.close_1k(1000, 1000) if x["conc"] != 64]
        t = targets_of(lines, m=meta(modes="haproxy,baton"))
        e = t["i14_cells"]
        self.assertIs(e["met"], False)
        self.assertEqual(e["missing"], ["haproxy close 1k c64", "baton close 1k c64"])
        self.assertEqual(t["i14_rps_1k_close_c64"]["met"], None)
        self.assertEqual(t["i14_rps_1k_close_c64"]["measured"], "not measured in this run")

    def test_cells_all_there(self):
        t = targets_of(self.close_1k(1000, 1000), m=meta(modes="haproxy,baton"))
        self.assertIs(t["i14_cells"]["met"], True)

    def test_burst(self):
        lines = [raw("direct", "burst", "1k", 1000, 40000, timeouts=0, duration=10),
                 raw("baton", "burst", "1k", 1000, 32609, timeouts=102, duration=10)]
        t = targets_of(lines, m=meta(burst="1000"))
        e = t["i14_burst_1000"]
        self.assertIs(e["met"], False)
        self.assertEqual(e["baton"]["timeouts"], 102)
        self.assertEqual(e["direct"]["timeouts"], 0)
        self.assertAlmostEqual(e["baton"]["rps"], 3260.9)
        self.assertIn("102 timeouts", e["measured"])
        lines[1] = raw("baton", "burst", "1k", 1000, 32609, timeouts=0, duration=10)
        self.assertIs(targets_of(lines, m=meta(burst="1000"))["i14_burst_1000"]["met"], True)

    def test_burst_not_run(self):
        e = targets_of([], m=meta(burst=""))["i14_burst_1000"]
        self.assertIsNone(e["met"])
        self.assertEqual(e["measured"], "not measured in this run")

    def test_burst_baton_without_wrk_result(self):
        lines = [raw("direct", "burst", "1k", 1000, 40000, duration=10),
                 raw("baton", "burst", "1k", 1000, None, duration=10)]
        t = targets_of(lines, m=meta(burst="1000"))
        self.assertIs(t["i14_burst_1000"]["met"], False)
        self.assertIs(t["i14_cells"]["met"], False)


class Issue19(unittest.TestCase):
    def test_keepalive_rps_every_concurrency(self):
        lines = []
        for conc, b in ((1, 95), (16, 90), (64, 89)):
            lines += [raw("direct", "keepalive", "1m", conc, 100), raw("baton", "keepalive", "1m", conc, b)]
        e = targets_of(lines)["i19_rps_keepalive_1m"]
        self.assertIs(e["met"], False)
        self.assertEqual(e["worst"]["conc"], 64)
        self.assertAlmostEqual(e["worst_ratio"], 0.89)
        self.assertEqual(e["missed"], 1)

    def test_be_cpu_worst_over_sizes(self):
        lines = []
        for size, b in (("100k", 110), ("1m", 119), ("10m", 130)):
            lines += [raw("direct", "close", size, 1, 100, be_ticks=100),
                      raw("baton", "close", size, 1, 100, be_ticks=b)]
        e = targets_of(lines)["i19_be_cpu_close"]
        self.assertIs(e["met"], False)
        self.assertEqual(e["worst"]["size"], "10m")
        self.assertAlmostEqual(e["worst_ratio"], 1.3)
        # 1 KB is not part of it.
        lines = [raw("direct", "close", "1k", 1, 100, be_ticks=100),
                 raw("baton", "close", "1k", 1, 100, be_ticks=300)]
        self.assertIsNone(targets_of(lines)["i19_be_cpu_close"]["met"])

    def test_baton_without_requests_in_a_multi_cell_target(self):
        lines = [raw("direct", "keepalive", "1m", 1, 100), raw("baton", "keepalive", "1m", 1, 100),
                 raw("direct", "keepalive", "1m", 16, 100), raw("baton", "keepalive", "1m", 16, 0)]
        t = targets_of(lines)
        e = t["i19_rps_keepalive_1m"]
        self.assertIs(e["met"], False)
        self.assertEqual(e["worst"]["conc"], 16)
        self.assertAlmostEqual(e["worst_ratio"], 0.0)
        e = t["i19_be_cpu_keepalive"]
        self.assertIs(e["met"], False)
        self.assertIn("baton served no request", e["measured"])

    def test_fe_cpu_bounds_per_connection_mode(self):
        lines = [raw("ipvs-dr", "keepalive", "100k", 1, 100, fe_ticks=10),
                 raw("baton", "keepalive", "100k", 1, 100, fe_ticks=15),
                 raw("ipvs-dr", "close", "100k", 1, 100, fe_ticks=10),
                 raw("baton", "close", "100k", 1, 100, fe_ticks=20)]
        t = targets_of(lines)
        self.assertIs(t["i19_fe_cpu_keepalive_100k"]["met"], True)
        self.assertIs(t["i19_fe_cpu_close_100k"]["met"], True)
        lines[1] = raw("baton", "keepalive", "100k", 1, 100, fe_ticks=16)
        self.assertIs(targets_of(lines)["i19_fe_cpu_keepalive_100k"]["met"], False)

    def test_fe_cpu_reference_below_the_tick_not_judged(self):
        lines = [raw("ipvs-dr", "keepalive", "1k", 1, 1000, fe_ticks=0),
                 raw("baton", "keepalive", "1k", 1, 1000, fe_ticks=3),
                 raw("ipvs-dr", "keepalive", "1k", 16, 1000, fe_ticks=10),
                 raw("baton", "keepalive", "1k", 16, 1000, fe_ticks=12)]
        e = targets_of(lines)["i19_fe_cpu_keepalive_1k"]
        self.assertIs(e["met"], True)
        self.assertEqual(e["judged"], 1)
        self.assertIn("IPVS-DR 0, not judged", e["measured"])
        e = targets_of(lines[:2])["i19_fe_cpu_keepalive_1k"]
        self.assertIsNone(e["met"])

    def test_close_rps_against_haproxy(self):
        lines = [raw("haproxy", "close", "10m", 64, 50), raw("baton", "close", "10m", 64, 50),
                 raw("haproxy", "close", "10m", 1, 50), raw("baton", "close", "10m", 1, 49)]
        e = targets_of(lines)["i19_rps_close_10m"]
        self.assertIs(e["met"], False)
        self.assertEqual(e["worst"]["conc"], 1)

    def test_state_and_lookup(self):
        def sc(n, slab, ns):
            return {"n": n, "flows_idle": n, "slab_bytes_per_flow": slab, "fe_cpu_ns_per_packet": ns,
                    "fe_softirq_ns_per_packet": ns / 2}
        t = targets_of([], [sc(1000, 168, 1000), sc(10000, 128.0, 1100), sc(100000, 127.9, 1050)])
        self.assertIs(t["i19_state_per_conn"]["met"], True)
        self.assertEqual(t["i19_state_per_conn"]["n"], 100000)
        self.assertIs(t["i19_lookup_growth"]["met"], True)
        self.assertAlmostEqual(t["i19_lookup_growth"]["growth_cpu"], 1.05)
        t = targets_of([], [sc(1000, 168, 1000), sc(100000, 128.2, 1060)])
        self.assertIs(t["i19_state_per_conn"]["met"], False)
        self.assertIs(t["i19_lookup_growth"]["met"], False)
        # 1 000 to 10 000 only: reported, not judged.
        t = targets_of([], [sc(1000, 168, 1000), sc(10000, 128, 1000)])
        self.assertIsNone(t["i19_lookup_growth"]["met"])
        self.assertIn("not judged", t["i19_lookup_growth"]["measured"])


class Issue16(unittest.TestCase):
    """The mixed-Host workload: baton against HAProxy, and what a move costs."""

    M = {"modes": "haproxy,baton", "conn": "", "sizes": "", "mixed": "100k,1m", "mixed_conc": "1,16"}

    def test_row_figures(self):
        r = analyze.workload_row(raw_mixed("baton", "mixed", "1m", 16, 2000, moves=900, refused=3, failed=1,
                                           mean_ms=2.5))
        self.assertEqual((r["moves"], r["moves_refused"], r["moves_failed"]), (900, 3, 1))
        self.assertAlmostEqual(r["moves_per_req"], 0.45)
        self.assertAlmostEqual(r["lat_mean_ms"], 2.5)
        # HAProxy has no baton counters; the other kinds no new field.
        r = analyze.workload_row(raw_mixed("haproxy", "mixed", "1m", 16, 2000))
        self.assertNotIn("moves_per_req", r)
        self.assertNotIn("lat_mean_ms", analyze.workload_row(raw("baton", "keepalive", "1m", 16, 2000)))

    def test_targets_met(self):
        # 2x the requests/s at 1/4 of the front-end CPU per request: met, the bounds included.
        t = targets_of(mixed_run(), m=meta(**self.M))
        for size in ("100k", "1m"):
            for name in (f"i16_mixed_rps_{size}", f"i16_mixed_fe_cpu_{size}"):
                e = t[name]
                self.assertIs(e["met"], True, name)
                self.assertEqual((e["judged"], e["issue"]), (2, 16))
                self.assertIn("#16", e["target"])
        self.assertAlmostEqual(t["i16_mixed_rps_1m"]["worst_ratio"], 2.0)
        self.assertAlmostEqual(t["i16_mixed_fe_cpu_100k"]["worst_ratio"], 0.25)
        self.assertIs(t["i14_cells"]["met"], True)

    def test_targets_missed(self):
        # 1.9x the requests/s; 2000 requests on 60 ticks, 300 us against 1000: 0.3x.
        t = targets_of(mixed_run(baton_req=1900, baton_fe=57), m=meta(**self.M))
        e = t["i16_mixed_rps_100k"]
        self.assertIs(e["met"], False)
        self.assertAlmostEqual(e["worst_ratio"], 1.9)
        self.assertIn("worst 1.90x", e["measured"])
        e = t["i16_mixed_fe_cpu_1m"]
        self.assertIs(e["met"], False)
        self.assertAlmostEqual(e["worst_ratio"], 0.3)
        # One cell short is enough to miss.
        lines = mixed_run()
        lines[1] = raw_mixed("baton", "mixed", "100k", 1, 1999, fe_ticks=50, moves=999)
        e = targets_of(lines, m=meta(**self.M))["i16_mixed_rps_100k"]
        self.assertIs(e["met"], False)
        self.assertEqual((e["missed"], e["worst"]["conc"]), (1, 1))

    def test_baton_without_requests(self):
        lines = mixed_run()
        lines[4] = raw_mixed("baton", "mixed", "100k", 16, None)
        t = targets_of(lines, m=meta(**self.M))
        self.assertIs(t["i16_mixed_rps_100k"]["met"], False)
        self.assertIn("baton served no request", t["i16_mixed_fe_cpu_100k"]["measured"])
        self.assertEqual(t["i14_cells"]["empty"], ["baton mixed 100k c16"])

    def test_planned_but_not_run(self):
        # The plan's cells are expected (mixed-same in the baton mode only).
        t = targets_of([], m=meta(**{**self.M, "modes": "direct,haproxy,ipvs-dr,baton"}))
        self.assertIsNone(t["i16_mixed_rps_1m"]["met"])
        self.assertEqual(t["i16_mixed_rps_1m"]["measured"], "not measured in this run")
        missing = t["i14_cells"]["missing"]
        self.assertEqual(len(missing), 4 * (1 + 1 + 2))
        self.assertIn("baton mixed-same 1m c16", missing)
        self.assertNotIn("haproxy mixed-same 1m c16", missing)
        self.assertNotIn("ipvs-dr mixed 1m c16", missing)

    def test_move_cost(self):
        lines = mixed_run(sizes=("1m",), concs=(16,))
        lines.append(raw_mixed("direct", "mixed", "1m", 16, 2500))
        rows = [analyze.workload_row(w) for w in lines]
        mx = analyze.mixed_summary(rows)
        (c,) = mx["cells"]
        self.assertAlmostEqual(c["rps_ratio"], 2.0)
        self.assertAlmostEqual(c["fe_cpu_ratio"], 0.25)
        self.assertAlmostEqual(c["rps_vs_direct"], 0.8)
        self.assertAlmostEqual(c["moves_per_req"], 0.5)
        (e,) = mx["move_cost"]
        self.assertEqual((e["moves"], e["moves_refused"], e["moves_failed"]), (1000, 0, 0))
        self.assertEqual(e["same_moves_per_req"], 0)
        # p50 3 ms against 2, a move every other request: 2 ms per move; by
        # the mean (2.5 against 2), 1 ms.
        self.assertAlmostEqual(e["lat_p50_ms"]["per_move"], 2.0)
        self.assertAlmostEqual(e["lat_mean_ms"]["per_move"], 1.0)
        # Front-end 250 us a request against 200: 100 us per move.
        self.assertAlmostEqual(e["fe_cpu_us_per_req"]["added"], 50.0)
        self.assertAlmostEqual(e["fe_cpu_us_per_req"]["per_move"], 100.0)
        self.assertAlmostEqual(e["be_cpu_us_per_req"]["per_move"], 0.0)
        txt = analyze.move_cost_txt(e)
        self.assertIn("baton 1m c16: 0.50 moves/request (1000 moved, 0 refused, 0 failed", txt)
        self.assertIn("per move: p50 +2.00 ms (3.00 against 2.00", txt)
        self.assertIn("mean +1.00 ms (2.50 against 2.00), front-end CPU +100 us (250 against 200", txt)
        # No move at all: no cost per move, said as such.
        lines[1] = raw_mixed("baton", "mixed", "1m", 16, 2000, fe_ticks=50, moves=0)
        (e,) = analyze.mixed_summary([analyze.workload_row(w) for w in lines])["move_cost"]
        self.assertIsNone(e["lat_p50_ms"]["per_move"])
        self.assertIn("per move: p50 - ms", analyze.move_cost_txt(e))

    def test_no_mixed_rows(self):
        self.assertIsNone(analyze.mixed_summary([analyze.workload_row(raw("baton", "keepalive", "1m", 1, 9))]))
        t = targets_of([raw("baton", "keepalive", "1m", 1, 9)])
        self.assertFalse([k for k in t if k.startswith("i16")])

    def test_rounds(self):
        lines = [raw_mixed("baton", "mixed", "1m", 16, 2000, moves=m) for m in (800, 1000, 1100)]
        (r,) = analyze.merge_rounds([analyze.workload_row(w) for w in lines])
        self.assertEqual((r["rounds"], r["moves"]), (3, 1000))
        self.assertAlmostEqual(r["moves_per_req"], 0.5)


class Rounds(unittest.TestCase):
    def rows(self, lines):
        return analyze.merge_rounds([analyze.workload_row(w) for w in lines])

    def test_median_of_rounds(self):
        lines = [raw("haproxy", "close", "1k", 16, n) for n in (300, 330, 250)]
        lines += [raw("baton", "close", "1k", 16, n) for n in (600, 420, 500)]
        rows = self.rows(lines)
        self.assertEqual([(r["mode"], r["rounds"]) for r in rows], [("haproxy", 3), ("baton", 3)])
        self.assertAlmostEqual(rows[0]["rps"], 60.0)
        self.assertAlmostEqual(rows[1]["rps"], 100.0)
        self.assertEqual(rows[1]["rps_rounds"], [120.0, 84.0, 100.0])
        fe = rows[1]["fe_cpu_rounds"]
        self.assertEqual(len(fe), 3)
        self.assertAlmostEqual(rows[1]["fe_cpu_us_per_req"], sorted(fe)[1])
        m = meta(modes="haproxy,baton", conc="16")
        # 100 against 60 req/s: met on the medians, where round 2 alone (84
        # against 66) misses.
        self.assertIs(analyze.targets(rows, [], m)["i14_rps_1k_close_c16"]["met"], True)
        self.assertIs(targets_of([lines[1], lines[4]], m=m)["i14_rps_1k_close_c16"]["met"], False)

    def test_errors_summed_and_an_empty_round_counts(self):
        lines = [raw("baton", "close", "1k", 16, 500, timeouts=2), raw("baton", "close", "1k", 16, None),
                 raw("baton", "close", "1k", 16, 400, timeouts=3)]
        (r,) = self.rows(lines)
        self.assertIs(r["ok"], False)
        self.assertEqual(r["err_timeout"], 5)
        # The median of the rounds that had requests.
        self.assertAlmostEqual(r["rps"], 90.0)

    def test_one_round_unchanged(self):
        lines = [raw("baton", "close", "1k", 16, 500)]
        self.assertEqual(self.rows(lines), [analyze.workload_row(lines[0])])


class Issue17(unittest.TestCase):
    """baton over IPv6 against baton over IPv4, cell by cell."""

    def run_v6(self, v6_req, v6_fe=10, conns=("close", "keepalive")):
        lines = []
        for conn in conns:
            for size in ("1k", "1m"):
                for conc in (1, 16):
                    lines += [raw("baton", conn, size, conc, 1000, fe_ticks=10),
                              raw("baton6", conn, size, conc, v6_req(conn, size, conc), fe_ticks=v6_fe)]
        return targets_of(lines, m=meta(modes="baton,baton6", sizes="1k,1m", conc="1,16",
                                        conn=",".join(conns)))

    def test_rps_within_10_percent(self):
        t = self.run_v6(lambda *_: 920)
        for conn in ("close", "keepalive"):
            e = t[f"i17_rps_{conn}"]
            self.assertIs(e["met"], True)
            self.assertEqual(e["issue"], 17)
            self.assertEqual(e["judged"], 4)
            self.assertAlmostEqual(e["worst_ratio"], 0.92)

    def test_rps_one_cell_below(self):
        t = self.run_v6(lambda conn, size, conc: 880 if (conn, size, conc) == ("keepalive", "1m", 16) else 1000)
        self.assertIs(t["i17_rps_close"]["met"], True)
        e = t["i17_rps_keepalive"]
        self.assertIs(e["met"], False)
        self.assertEqual(e["missed"], 1)
        self.assertEqual((e["worst"]["size"], e["worst"]["conc"]), ("1m", 16))
        self.assertAlmostEqual(e["worst_ratio"], 0.88)

    def test_v6_without_requests_misses(self):
        e = self.run_v6(lambda conn, size, conc: 0 if conc == 1 else 1000)["i17_rps_close"]
        self.assertIs(e["met"], False)
        self.assertEqual([c["note"] for c in e["cells"] if "note" in c], ["baton6 served no request"] * 2)
        self.assertEqual(e["worst_ratio"], 0.0)

    def test_fe_cpu_bound(self):
        self.assertIs(self.run_v6(lambda *_: 1000, v6_fe=11)["i17_fe_cpu_us_per_req_close"]["met"], True)
        e = self.run_v6(lambda *_: 1000, v6_fe=12)["i17_fe_cpu_us_per_req_keepalive"]
        self.assertIs(e["met"], False)
        self.assertAlmostEqual(e["worst_ratio"], 1.2)

    def test_not_measured_when_planned_only(self):
        t = targets_of([raw("baton", "close", "1k", 1, 1000)], m=meta(modes="baton,baton6"))
        self.assertIsNone(t["i17_rps_close"]["met"])
        self.assertEqual(t["i17_rps_close"]["measured"], "not measured in this run")
        self.assertIn("baton6 close 1k c1 (no result)", t["i14_cells"]["measured"])

    def test_absent_from_runs_without_ipv6(self):
        t = targets_of([raw("baton", "close", "1k", 1, 1000)])
        self.assertFalse([k for k in t if k.startswith("i17")])

    def test_ratios_against_the_same_family(self):
        rows = [analyze.workload_row(w) for w in (
            raw("haproxy", "close", "1k", 1, 500), raw("haproxy6", "close", "1k", 1, 400),
            raw("baton", "close", "1k", 1, 1000), raw("baton6", "close", "1k", 1, 800))]
        rat = {e["mode"]: e for e in analyze.ratios(rows)}
        self.assertAlmostEqual(rat["baton6"]["rps_vs_haproxy"], 2.0)
        self.assertAlmostEqual(rat["baton6"]["rps_vs_v4"], 0.8)
        self.assertAlmostEqual(rat["haproxy6"]["rps_vs_v4"], 0.8)
        self.assertAlmostEqual(rat["baton"]["rps_vs_haproxy"], 2.0)
        self.assertNotIn("rps_vs_v4", rat["baton"])


class Output(unittest.TestCase):
    def test_every_target_once_in_the_table(self):
        t = targets_of([])
        txt = analyze.targets_rst(t)
        for e in t.values():
            self.assertEqual(sum(1 for line in txt.splitlines() if line.startswith(e["target"])), 1)
            self.assertRegex(e["target"], r"^#(14|19) ")
        # Issue 14: 3 x 3 per concurrency, cells, burst; issue 19: 3 + 2 + 8 + 3 + 2.
        self.assertEqual(len(t), 11 + 18)
        # Issue 16's, last, with the mixed workload only: 2 per size.
        t = targets_of([], m=meta(mixed="1m"))
        self.assertEqual(len(t), 11 + 18 + 4)
        self.assertEqual([e["row"] for k, e in t.items() if k.startswith("i16")], [30, 31, 32, 33])
        txt = analyze.targets_rst(t)
        for e in t.values():
            self.assertEqual(sum(1 for line in txt.splitlines() if line.startswith(e["target"])), 1)

    def test_main_on_results_jsonl(self):
        lines = [meta(modes="direct,baton", conn="keepalive", sizes="1m", conc="1", burst="1000")]
        lines += [raw("direct", "keepalive", "1m", 1, 100), raw("baton", "keepalive", "1m", 1, 95),
                  raw("direct", "burst", "1k", 1000, 40000, duration=10),
                  raw("baton", "burst", "1k", 1000, 32609, timeouts=102, duration=10)]
        out, res = self.run_main(lines)
        self.assertIn("#14 burst of 1000", out)
        # A run without the mixed workload: nothing of it anywhere.
        self.assertNotIn("#16", out)
        self.assertNotIn("move cost", out)
        for name, (j, rst) in res.items():
            tg = j["targets"]
            self.assertIs(tg["i14_burst_1000"]["met"], False, name)
            self.assertIs(tg["i19_rps_keepalive_1m"]["met"], True, name)
            self.assertIs(tg["i14_cells"]["met"], True, name)
            self.assertNotIn("mixed", j)
            self.assertIn("Burst (kept-alive connections opened at once", rst)
            self.assertIn("#19 requests/s, 1m kept-alive", rst)
            self.assertNotIn("Mixed Host", rst)
        self.assertEqual(res["t2"][0]["reanalysed_from"], "t.json")

    def test_main_with_ipv6(self):
        lines = [meta(modes="baton,baton6", conn="close,keepalive", sizes="1m", conc="1")]
        lines += [raw("baton", "close", "1m", 1, 100), raw("baton6", "close", "1m", 1, 95),
                  raw("baton", "keepalive", "1m", 1, 100), raw("baton6", "keepalive", "1m", 1, 85)]
        out, res = self.run_main(lines)
        self.assertIn("#17 requests/s, close", out)
        for name, (j, rst) in res.items():
            tg = j["targets"]
            self.assertIs(tg["i17_rps_close"]["met"], True, name)
            self.assertIs(tg["i17_rps_keepalive"]["met"], False, name)
            self.assertIs(tg["i14_cells"]["met"], True, name)
            self.assertIn("IPv6 beside IPv4", rst)
            row = [x for x in rst.splitlines() if x.startswith("baton ") and " keepalive " in x]
            self.assertEqual(len(row), 1, rst)
            self.assertIn(" 0.85 ", row[0])

    def run_main(self, lines):
        """main() on LINES, then on the JSON it wrote: (stdout, {name: (json, tables)})."""
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "results.jsonl")
            with open(src, "w") as f:
                for x in lines:
                    f.write(json.dumps(x) + "\n")
            argv = sys.argv
            try:
                with contextlib.redirect_stdout(io.StringIO()) as out:
                    sys.argv = ["analyze.py", "--results", src, "--out", d, "--name", "t"]
                    analyze.main()
                    sys.argv = ["analyze.py", "--from-json", os.path.join(d, "t.json"), "--out", d,
                                "--name", "t2"]
                    analyze.main()
            finally:
                sys.argv = argv
            res = {}
            for name in ("t", "t2"):
                with open(os.path.join(d, f"{name}.json")) as f, \
                        open(os.path.join(d, f"{name}-tables.rst")) as g:
                    res[name] = (json.load(f), g.read())
            return out.getvalue(), res

    def test_main_mixed_only(self):
        # The mixed workload alone (BENCH_CONN=), one cell meeting the
        # targets at 1 MB, one missing them at 100 KB.
        m = meta(modes="direct,haproxy,baton", conn="", sizes="", mixed="100k,1m", mixed_conc="16")
        lines = [m] + mixed_run(sizes=("1m",), concs=(16,)) + mixed_run(1500, 60, sizes=("100k",), concs=(16,))
        lines += [raw_mixed("direct", "mixed", s, 16, 2500) for s in ("100k", "1m")]
        out, res = self.run_main(lines)
        self.assertIn("#16 requests/s, 1m mixed Host kept-alive, every conc.: baton >= 2x HAProxy's", out)
        self.assertIn("analyze: move cost: baton 1m c16: 0.50 moves/request", out)
        self.assertIn("analyze: move cost: baton 100k c16: 0.50 moves/request", out)
        for name, (j, rst) in res.items():
            tg = j["targets"]
            self.assertIs(tg["i16_mixed_rps_1m"]["met"], True, name)
            self.assertIs(tg["i16_mixed_fe_cpu_1m"]["met"], True, name)
            self.assertIs(tg["i16_mixed_rps_100k"]["met"], False, name)
            self.assertIs(tg["i16_mixed_fe_cpu_100k"]["met"], False, name)
            self.assertIs(tg["i14_cells"]["met"], True, name)
            self.assertEqual([(c["size"], c["conc"]) for c in j["mixed"]["cells"]], [("100k", 16), ("1m", 16)])
            self.assertAlmostEqual(j["mixed"]["move_cost"][1]["fe_cpu_us_per_req"]["per_move"], 100.0)
            self.assertIn("Mixed Host, kept-alive", rst)
            self.assertIn("The cost of a move (baton, ``mixed`` against ``mixed-same``)", rst)
            self.assertIn("#16 front-end CPU/request, 100k mixed Host", rst)
            # Nothing of the close and keep-alive tables.
            self.assertNotIn("Connection mode", rst)


def repl(copies, rps, fe, backup=0.0):
    return {"part": "replication", "copies": copies, "round": 1, "secs": 5, "rps": rps,
            "handoffs": int(rps * 5), "fe_cpu_us": fe, "backup_cpu_us": backup, "guest_cpu_us": 4000.0}


def fail(copies, fe1, others, complete=200):
    t = {"active": 60, "common": 60, "memory": 40000, "common-memory": 16000}
    return {"part": "failover", "copies": copies, "conns": 200, "promoted": len(fe1), "relayed": 5,
            "tables": {"fe1": t, "fe2": t, "fe3": t}, "fe1": fe1, "others": others,
            "outcomes": {"complete": complete, "reset": 200 - complete}, "done_s": 20.0}


class Cluster(unittest.TestCase):
    """bench/cluster_report.py: issue 15's benchmark targets."""

    def test_replication_ratios(self):
        _, r = cluster_report.replication([repl("off", 500.0, 300.0), repl("1", 450.0, 380.0, 150.0)])
        self.assertAlmostEqual(r["rate_ratio"], 0.9)
        self.assertAlmostEqual(r["cpu_ratio"], 380 / 300)
        self.assertTrue(r["rate_met"] and r["cpu_met"])
        _, r = cluster_report.replication([repl("off", 500.0, 300.0), repl("1", 350.0, 450.0)])
        self.assertFalse(r["rate_met"] or r["cpu_met"])
        # One side not measured: nothing judged.
        self.assertIsNone(cluster_report.replication([repl("off", 500.0, 300.0)])[1])

    def test_median_of_rounds(self):
        rows, _ = cluster_report.replication(
            [repl("off", 400.0, 300.0), repl("off", 600.0, 500.0), repl("off", 500.0, 400.0)])
        self.assertEqual((rows["off"]["rps"], rows["off"]["fe_cpu_us"], rows["off"]["rounds"]),
                         (500.0, 400.0, 3))

    def test_failover_resume_is_net_of_the_pace(self):
        f = cluster_report.failover([fail("1", [200, 250, 1800], [200, 210, 230])])[0]
        self.assertEqual((f["resume_ms"], f["stall_max_ms"], f["pace_ms"]), (1590, 1800, 210))
        self.assertTrue(f["preserved_met"])
        self.assertFalse(f["resume_met"])
        f = cluster_report.failover([fail("all", [200, 260], [200, 210, 230], complete=199)])[0]
        self.assertTrue(f["resume_met"])
        self.assertFalse(f["preserved_met"])
        self.assertEqual(f["entries_per_conn"], 120 * 3 / 200)

    def test_tables(self):
        rep, rat = cluster_report.replication([repl("off", 500.0, 300.0), repl("1", 450.0, 380.0)])
        fo = cluster_report.failover([fail("1", [200, 1800], [200, 210])])
        rst = cluster_report.tables(rep, rat, fo)
        self.assertIn("0.90x the rate (target at least 0.8x: met)", rst)
        self.assertIn("copies 1: 200 of 200 preserved (target all: met)", rst)
        self.assertIn("(target 100 ms: missed)", rst)


# `perf script -F comm,ip,sym` of five samples: the idle loop, a worker in
# sendmsg, a worker asleep, a softirq in baton's hook, nginx.
PERF_SCRIPT = """swapper 
\tffffffff8145d6b6 pv_native_safe_halt
\tffffffff8145e189 default_idle

baton-utcp 
\tffffffff81400000 tcp_sendmsg_locked
\tffffffff81400100 tcp_sendmsg
\tffffffff81400200 sock_sendmsg
\tffffffffc0000000 _RNvNtCsffge7jqbCnZ_5baton5front5serve

baton-utcp 
\tffffffff81000000 finish_task_switch
\tffffffff81000100 __schedule
\tffffffff81000200 schedule_timeout

swapper 
\tffffffffc0000100 _RNvMs2_NtCsffge7jqbCnZ_5baton4connNtB5_5Conns9on_packet
\tffffffff81500000 nf_hook_slow
\tffffffff81500100 ip_rcv

nginx 
\t           1b7ad sendfile
""".splitlines(keepends=True)


def with_insn(w, fe, be1, be2, idle_fe=0, window_s=5.0):
    """W with the instructions bench/insn.py adds: FE, BE1 and BE2 in the
    CPU window of WINDOW_S seconds, IDLE_FE on the front-end in 1 s of
    idle window."""
    w["insn"] = {"client": 1, "fe": fe, "be1": be1, "be2": be2}
    w["insn_window_s"] = window_s
    w["insn_idle"] = {"client": 0, "fe": idle_fe, "be1": 0, "be2": 0}
    w["insn_idle_s"] = 1.0
    return w


class Insn(unittest.TestCase):
    @unittest.skipUnless(shutil.which("gcc"), "no gcc")
    def test_plugin_builds_and_exports_its_entry_points(self):
        here = os.path.dirname(os.path.abspath(__file__))
        with tempfile.TemporaryDirectory() as d:
            so = os.path.join(d, "insn.so")
            subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-fvisibility=hidden",
                            "-o", so, os.path.join(here, "insn.c"), "-lpthread"], check=True)
            syms = subprocess.run(["nm", "-D", "--defined-only", so], check=True, capture_output=True,
                                  text=True).stdout.split()
            self.assertIn("qemu_plugin_install", syms)
            self.assertIn("qemu_plugin_version", syms)
            # Everything else stays inside: QEMU looks symbols up by name.
            self.assertNotIn("on_exec", syms)

    def test_count_between_samples(self):
        s = ([10.0, 10.02, 10.04], [1000, 3000, 3000])
        self.assertEqual(insn.count_at(s, 10.0), 1000)
        self.assertAlmostEqual(insn.count_at(s, 10.01), 2000)
        self.assertAlmostEqual(insn.count_at(s, 10.03), 3000)
        self.assertIsNone(insn.count_at(s, 9.99))
        self.assertIsNone(insn.count_at(s, 10.05))
        self.assertIsNone(insn.count_at(([], []), 1.0))

    def test_samples_file(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "insn.1.tsv")
            with open(p, "w") as f:
                # A torn last line (QEMU killed while writing) is skipped.
                f.write("5.000000000 10 6 4\n5.020000000 30 16 14\n5.04000")
            self.assertEqual(insn.load_counts(p), ([5.0, 5.02], [10, 30]))

    def test_rows_get_each_guests_window(self):
        with tempfile.TemporaryDirectory() as d:
            # Four guests counting 1000 (client), 2000 (fe)... a second.
            for i in range(4):
                with open(os.path.join(d, f"insn.{i}.tsv"), "w") as f:
                    for k in range(0, 1001):
                        t = 100 + k * 0.02
                        f.write(f"{t:.9f} {round((i + 1) * 1000 * (t - 100))}\n")
            w = raw("baton", "close", "1k", 16, 500)
            w["round"] = 2
            other = raw("baton", "close", "1k", 1, 500)
            other["round"] = 2
            base = os.path.join(d, insn.mark_name(w))
            for suffix, t in ((".i0", 101.0), (".i1", 102.0), (".0", 102.5), (".1", 107.5)):
                open(base + suffix, "w").close()
                os.utime(base + suffix, ns=(int(t * 1e9), int(t * 1e9)))
            rows = [{"kind": "meta"}, w, other]
            counts = {role: insn.load_counts(os.path.join(d, f"insn.{i}.tsv"))
                      for i, role in enumerate(insn.ROLES)}
            self.assertEqual(insn.annotate(rows, d, counts), 1)
            self.assertEqual(w["insn"], {"client": 5000, "fe": 10000, "be1": 15000, "be2": 20000})
            self.assertAlmostEqual(w["insn_window_s"], 5.0)
            self.assertEqual(w["insn_idle"]["fe"], 2000)
            self.assertNotIn("insn", other)
            # main() rewrites results.jsonl with the same rows again.
            with open(os.path.join(d, "results.jsonl"), "w") as f:
                for r in rows:
                    f.write(json.dumps(r) + "\n")
            with contextlib.redirect_stdout(io.StringIO()):
                self.assertEqual(insn.main(["insn.py", d]), 0)
                self.assertEqual(insn.main(["insn.py", d]), 0)
            with open(os.path.join(d, "results.jsonl")) as f:
                again = [json.loads(x) for x in f]
            self.assertEqual(again[1]["insn"], w["insn"])
            self.assertNotIn("insn", again[2])

    def test_per_request_net_of_idle_and_ratios(self):
        # 500 requests in 5 s; the front-end idles at 1000 a second.
        lines = [with_insn(raw("baton", "close", "1k", 16, 500), 50_000_000 + 5000, 4e8, 2e8, idle_fe=1000),
                 with_insn(raw("baton6", "close", "1k", 16, 500), 55_000_000, 5e8, 1e8),
                 with_insn(raw("ipvs-dr", "close", "1k", 16, 500), 10_000_000, 2e8, 2e8),
                 raw("haproxy", "close", "1k", 16, 500)]
        rows = analyze.merge_rounds([analyze.workload_row(w) for w in lines])
        by = {r["mode"]: r for r in rows}
        self.assertAlmostEqual(by["baton"]["fe_kinsn_per_req"], 100.0)
        self.assertAlmostEqual(by["baton"]["be_kinsn_per_req"], 1200.0)
        self.assertNotIn("fe_kinsn_per_req", by["haproxy"])
        rk = {(e["mode"], e["conn"], e["size"], e["conc"]): e for e in analyze.ratios(rows)}
        self.assertAlmostEqual(rk[("baton6", "close", "1k", 16)]["fe_kinsn_vs_v4"], 1.1)
        self.assertAlmostEqual(rk[("baton", "close", "1k", 16)]["fe_kinsn_vs_ipvs-dr"], 5.0)
        table = analyze.insn_table(rows, rk)
        self.assertEqual([(x[0], x[1]) for x in table],
                         [("close", "ipvs-dr"), ("close", "baton"), ("close", "baton6")])
        self.assertIn("Guest instructions per request", analyze.tables(rows, analyze.ratios(rows), [], {}))

    def test_targets_on_instructions(self):
        lines = [with_insn(raw("baton", "close", "1k", 16, 500), 5e7, 4e8, 2e8),
                 with_insn(raw("baton6", "close", "1k", 16, 500), 5.25e7, 5e8, 1e8),
                 with_insn(raw("ipvs-dr", "close", "1k", 16, 500), 1e7, 2e8, 2e8),
                 with_insn(raw("direct", "close", "1m", 16, 50), 1e5, 2e8, 2e8),
                 with_insn(raw("baton", "close", "1m", 16, 50), 5e7, 2.2e8, 2.2e8)]
        rows = analyze.merge_rounds([analyze.workload_row(w) for w in lines])
        tg = analyze.targets(rows, [], meta(modes="direct,ipvs-dr,baton,baton6", conc="16"))
        # 100 against 20 kinsn a request: 5x, above 2x.
        self.assertIs(tg["i19_fe_insn_close"]["met"], False)
        self.assertIn("worst 5.00x", tg["i19_fe_insn_close"]["measured"])
        # Back-ends 8800 against 8000 kinsn a 1 MB request: 1.1x.
        self.assertIs(tg["i19_be_insn_close"]["met"], True)
        self.assertIs(tg["i17_fe_kinsn_per_req_close"]["met"], True)
        self.assertIsNone(tg["i19_fe_insn_keepalive"]["met"])
        # Without counts the rows are not there: earlier runs read as they did.
        plain = analyze.merge_rounds([analyze.workload_row(raw("baton", "close", "1k", 16, 500))])
        self.assertNotIn("i19_fe_insn_close", analyze.targets(plain, [], meta()))

    def test_rounds_keep_each_rounds_count(self):
        lines = [with_insn(raw("baton", "keepalive", "1k", 1, 500), n, 1e6, 1e6) for n in (4e7, 6e7, 5e7)]
        (r,) = analyze.merge_rounds([analyze.workload_row(w) for w in lines])
        self.assertEqual(r["fe_kinsn_rounds"], [80.0, 120.0, 100.0])
        self.assertAlmostEqual(r["fe_kinsn_per_req"], 100.0)


class InsnProfile(unittest.TestCase):
    def test_functions_modules_and_user_space(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "kallsyms.1"), "w") as f:
                f.write("ffffffff81000000 T tcp_v4_rcv\nffffffff81000400 t ip_rcv\n"
                        "ffffffffc0001000 t _RNvCs_conn_on_packet\t[baton]\n")
            with open(os.path.join(d, "insn.1.tsv.prof.3"), "w") as f:
                # Two translations of one block count together; a user
                # address is [user].
                f.write("ffffffff81000010 10 300\nffffffff81000010 10 100\nffffffff81000500 5 200\n"
                        "ffffffffc0001020 20 100\n55d0c0001000 4 250\n")
            with open(os.path.join(d, "insn.1.tsv.prof.1"), "w") as f:
                # The idle window: 1 s against the workload's 5, taken off
                # five times; ip_rcv, which the idle ran more of, is left out.
                f.write("ffffffff81000010 10 20\nffffffff81000900 10 100\n")
            for k, t in enumerate((100, 101, 102, 107)):
                open(os.path.join(d, f"insn-snap.{k}"), "w").close()
                os.utime(os.path.join(d, f"insn-snap.{k}"), ns=(t * 10**9, t * 10**9))
            with open(os.path.join(d, "results.jsonl"), "w") as f:
                f.write(json.dumps({"kind": "meta"}) + "\n")
                w = raw("baton", "close", "1k", 16, 2)
                w["round"] = 1
                f.write(json.dumps(w) + "\n")
            text, ok = insn_profile.report(d, "baton.close.1k.c16")
            self.assertTrue(ok)
            # tcp_v4_rcv 4000 - 1000, ip_rcv 1000 - 5000 (left out), the
            # module's 2000 and user space's 1000, over 2 requests.
            self.assertIn("front-end (guest 1): 3.0\n", text)
            self.assertIn("      1.50   50.0%  tcp_v4_rcv\n", text)
            self.assertIn("      1.00   33.3%  _RNvCs_conn_on_packet [baton]\n", text)
            self.assertIn("      0.50   16.7%  [user]\n", text)
            self.assertIn("by module: [kernel] 1.5, [baton] 1.0, [user] 0.5", text)
            self.assertNotIn("ip_rcv", text)
            self.assertNotIn("guest 0", text)
            text, ok = insn_profile.report(d, "baton.keepalive.1k.c16")
            self.assertFalse(ok)
            self.assertIn("no requests", text)


class PerfShare(unittest.TestCase):
    def test_threads_categories_and_own_code(self):
        samples = perf_share.parse(PERF_SCRIPT)
        self.assertEqual(len(samples), 5)
        r = perf_share.report(samples)
        self.assertEqual((r["samples"], r["busy"]), (5, 4))
        self.assertEqual(r["threads"]["baton-utcp"]["share"], 0.5)
        self.assertEqual(r["threads"]["baton-utcp"]["where"], {"sendmsg": 0.5, "sleep": 0.5})
        self.assertEqual(r["threads"]["swapper"]["where"], {"other": 1.0})
        self.assertEqual(r["own"], 0.25)
        self.assertEqual(perf_share.demangle(r["own_leaves"][0][0]), "conn::Conns::on_packet")
        self.assertEqual(perf_share.demangle("ip_rcv"), "ip_rcv")


if __name__ == "__main__":
    r = unittest.main(exit=False, verbosity=2 if "-v" in sys.argv else 1).result
    failed = len(r.failures) + len(r.errors)
    print(f"bench-analyze: {r.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
