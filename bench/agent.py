#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# bench/agent.py ADDR PORT: the counter agent of the front-end and back-end guests for `make
# bench`. GET /stat answers one JSON object read in-process (no fork):
# monotonic time, the "cpu" line of /proc/stat (USER_HZ ticks), eth0's
# counters and /proc/meminfo's slab and memory fields. GET /baton adds
# `batonctl -j stats` (one fork, only in baton mode). GET /conns adds
# "conns": the lines of `batonctl conn list | wc -l` and the seconds the
# pipeline took. Idle, it blocks in accept() and costs no CPU, so the
# front-end's idle rate stays its own.
import json
import os
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

BATONCTL = os.environ.get("BATONCTL", "batonctl")


def sample():
    s = {"t": time.monotonic()}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu "):
                s["cpu"] = [int(x) for x in line.split()[1:]]
                break
    net = {}
    for c in ("tx_bytes", "tx_packets", "rx_bytes", "rx_packets"):
        with open(f"/sys/class/net/eth0/statistics/{c}") as f:
            net[c] = int(f.read())
    s["net"] = net
    mem = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            if k in ("MemFree", "MemAvailable", "Slab", "SUnreclaim", "SReclaimable"):
                mem[k] = int(v.split()[0])
    s["mem_kb"] = mem
    with open("/proc/net/snmp") as f:
        tcp = [line.split() for line in f if line.startswith("Tcp:")]
    if len(tcp) == 2:
        t = dict(zip(tcp[0][1:], tcp[1][1:]))
        s["tcp"] = {k: int(t[k]) for k in ("InSegs", "OutSegs", "RetransSegs", "ActiveOpens", "PassiveOpens")}
    with open("/proc/softirqs") as f:
        for line in f:
            if line.split(":")[0].strip() == "NET_RX":
                s["net_rx_softirqs"] = sum(int(x) for x in line.split(":")[1].split())
    return s


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        s = sample()
        if self.path == "/conns":
            try:
                t0 = time.monotonic()
                out = subprocess.run(["sh", "-c", '"$0" conn list | wc -l', BATONCTL],
                                     capture_output=True, timeout=300, check=True).stdout
                s["conns"] = {"lines": int(out), "s": time.monotonic() - t0}
            except (OSError, subprocess.SubprocessError, ValueError) as e:
                s["conns_error"] = str(e)
        if self.path == "/baton":
            try:
                out = subprocess.run([BATONCTL, "-j", "stats"], capture_output=True,
                                     timeout=10, check=True).stdout
                s["baton"] = json.loads(out)
            except (OSError, subprocess.SubprocessError, ValueError) as e:
                s["baton_error"] = str(e)
        body = json.dumps(s).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    HTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
