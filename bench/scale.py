#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# bench/scale.py: the scale part of `make bench`, run on the client guest.
# For each N: open N keep-alive connections to the VIP from several source
# addresses (each sends one request, so each is handed off), leave them
# idle, list them on the front-end (`batonctl conn list | wc -l`, timed),
# then make them active again (ROUNDS requests on every connection, about
# the same number of packets for every N), and read the front-end's
# counters (bench/agent.py) around each phase. Prints one JSON line per N.
# Every phase is bounded in count and time.
import argparse
import asyncio
import json
import sys
import time
import urllib.request


def agent(url, timeout=30):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


async def request(reader, writer, path):
    writer.write(f"GET {path} HTTP/1.1\r\nHost: scale.example\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":")[1])
    if n:
        await reader.readexactly(n)
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head.split(b"\r\n")[0].decode(errors="replace"))


async def run(a, n):
    conns = []
    errors = 0
    sem = asyncio.Semaphore(a.parallel)
    srcs = a.src.split(",")

    async def open_one(i):
        nonlocal errors
        async with sem:
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection(
                    a.vip, a.port, local_addr=(srcs[i % len(srcs)], 0)), 30)
                await asyncio.wait_for(request(r, w, a.path), 30)
                conns.append((r, w))
            except (OSError, asyncio.TimeoutError, RuntimeError, asyncio.IncompleteReadError):
                errors += 1

    res = {"n": n, "rounds": a.rounds}
    res["before"] = agent(a.agent + "/baton")
    t0 = time.monotonic()
    await asyncio.gather(*(open_one(i) for i in range(n)))
    res["open_s"] = time.monotonic() - t0
    res["open_errors"] = errors
    res["open_ok"] = len(conns)
    await asyncio.sleep(a.idle)
    res["idle"] = agent(a.agent + "/baton")
    # The front-end's idle rate with the flows in place, netted out of the
    # active phase. /stat forks nothing on the front-end (/baton runs
    # batonctl), so no window below holds a fork of the agent.
    res["idle_a"] = agent(a.agent + "/stat")
    await asyncio.sleep(a.idle)
    res["idle_b"] = agent(a.agent + "/stat")
    # All the connections listed on the front-end, timed there: after the
    # idle window, before the active one.
    res["list"] = agent(a.agent + "/conns", timeout=330).get("conns")
    errors = 0

    async def active(c):
        nonlocal errors
        async with sem:
            try:
                await asyncio.wait_for(request(c[0], c[1], a.path), 30)
            except (OSError, asyncio.TimeoutError, RuntimeError, asyncio.IncompleteReadError):
                errors += 1

    t0 = time.monotonic()
    deadline = t0 + a.max_active
    done_rounds = 0
    for _ in range(a.rounds):
        if time.monotonic() > deadline:
            break
        await asyncio.gather(*(active(c) for c in conns))
        done_rounds += 1
    res["active_s"] = time.monotonic() - t0
    res["active_rounds"] = done_rounds
    res["active_requests"] = done_rounds * len(conns)
    res["active_errors"] = errors
    res["active_end"] = agent(a.agent + "/stat")
    res["after"] = agent(a.agent + "/baton")
    for _, w in conns:
        w.close()
    return res


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--vip", required=True)
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--src", required=True, help="comma-separated source addresses")
    p.add_argument("--agent", required=True, help="http://addr:port of bench/agent.py")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--requests", type=int, default=30000,
                   help="active-phase requests in all (rounds = requests / n, at least 2)")
    p.add_argument("--path", default="/1k")
    p.add_argument("--idle", type=float, default=3.0)
    p.add_argument("--parallel", type=int, default=256)
    p.add_argument("--max-active", type=float, default=120.0)
    a = p.parse_args()
    a.rounds = max(2, -(-a.requests // a.n))
    res = asyncio.run(run(a, a.n))
    print(json.dumps(res))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
