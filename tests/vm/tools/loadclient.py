#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Many slow HTTP downloads at once, for the fault scenarios (rmmod, peer
failure): one process, non-blocking sockets, every connection bounded in
time; prints how each one ended.

usage: loadclient.py ADDR PORT PATH INITIAL NEW_PER_S DURATION RATE DEADLINE OUT [STOP]

Opens INITIAL connections at once (paced by the kernel's accept), then NEW_PER_S
new ones per second for DURATION seconds or until the file STOP exists. Each sends "GET PATH" and reads
the answer at most RATE bytes per second (so a large answer stays in
transfer). A connection that has not ended DEADLINE seconds after it
opened, or after the last connection opened, whichever is later, ends as
"hung", or "unanswered" if it is still connecting (SYNs dropped). Writes OUT (JSON) when all ended:
    {"outcomes": {"complete": n, "reset": n, "refused": n, "eof": n,
                  "hung": n, "unanswered": n, "error": n},
     "ended": [[start, end, outcome, bytes, local_port, last_read, stall], ...]}
and also OUT.progress every second while running: {"open": n, "bytes": n}
(time.time() seconds). "eof": the stream ended before the whole answer.
"stall": the longest time (seconds) between two reads that returned data,
from the first byte on (paced reads are 0.2 s apart at most).
"""
import errno
import json
import os
import selectors
import socket
import sys
import time


class Conn:
    def __init__(self, sel, addr, port, path, now):
        self.start = now
        self.last_rx = 0.0
        self.stall = 0.0
        self.lport = 0
        self.got = 0
        self.want = None
        self.head = b""
        self.req = f"GET {path} HTTP/1.1\r\nHost: load\r\nConnection: close\r\n\r\n".encode()
        self.sent = False
        self.s = socket.socket()
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
        self.s.setblocking(False)
        err = self.s.connect_ex((addr, port))
        if err not in (0, errno.EINPROGRESS):
            raise OSError(err, os.strerror(err))
        self.sel = sel
        sel.register(self.s, selectors.EVENT_WRITE, self)


def main():
    (addr, port, path, initial, per_s, duration, rate, deadline, out) = sys.argv[1:10]
    stop = sys.argv[10] if len(sys.argv) > 10 else None
    port, initial, per_s = int(port), int(initial), float(per_s)
    duration, rate, deadline = float(duration), float(rate), float(deadline)
    sel = selectors.DefaultSelector()
    outcomes = {k: 0 for k in ("complete", "reset", "refused", "eof", "hung", "unanswered", "error")}
    ended = []
    live = set()
    parked = {}
    t0 = time.time()
    opened = 0
    last_open = t0
    last_progress = 0
    stopped = False
    total = 0

    def finish(c, outcome, now):
        try:
            sel.unregister(c.s)
        except (KeyError, ValueError):
            pass
        c.s.close()
        live.discard(c)
        parked.pop(c, None)
        outcomes[outcome] += 1
        ended.append([c.start, now, outcome, c.got, c.lport, c.last_rx, c.stall])

    def open_one(now):
        nonlocal opened, last_open
        try:
            live.add(Conn(sel, addr, port, path, now))
        except OSError:
            outcomes["error"] += 1
            ended.append([now, now, "error", 0, 0, 0.0, 0.0])
        opened += 1
        last_open = now

    while True:
        now = time.time()
        # Openings: INITIAL at once, then NEW_PER_S per second.
        if stop and not stopped and os.path.exists(stop):
            stopped = True
            duration = min(duration, now - t0)
        due = initial + int(min(duration, max(0.0, now - t0)) * per_s)
        while opened < due:
            open_one(now)
        if not live and opened >= due and (stopped or now - t0 >= duration):
            break
        for key, ev in sel.select(timeout=0.05):
            c = key.data
            try:
                if not c.sent:
                    err = c.s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise OSError(err, os.strerror(err))
                    c.s.send(c.req)
                    c.sent = True
                    c.lport = c.s.getsockname()[1]
                    sel.modify(c.s, selectors.EVENT_READ, c)
                    continue
                # Rate limit: read only what the budget allows.
                allowed = int((now - c.start + 1) * rate) - c.got
                if allowed <= 0:
                    sel.unregister(c.s)
                    parked[c] = now + 0.2
                    continue
                data = c.s.recv(min(allowed, 65536))
                if data and c.last_rx:
                    c.stall = max(c.stall, now - c.last_rx)
                c.last_rx = now
                if not data:
                    finish(c, "complete" if c.want is not None and c.got >= c.want else "eof", now)
                    continue
                if c.want is None:
                    c.head += data
                    if b"\r\n\r\n" in c.head:
                        h, body = c.head.split(b"\r\n\r\n", 1)
                        for line in h.split(b"\r\n")[1:]:
                            k, _, v = line.partition(b":")
                            if k.strip().lower() == b"content-length":
                                c.want = int(v)
                        c.want = c.want or 0
                        c.got = len(body)
                        c.head = b""
                else:
                    c.got += len(data)
                total += len(data)
                if c.want is not None and c.got >= c.want:
                    finish(c, "complete", now)
            except BlockingIOError:
                pass
            except ConnectionResetError:
                finish(c, "reset", now)
            except ConnectionRefusedError:
                finish(c, "refused", now)
            except OSError:
                finish(c, "error", now)
        # Throttled connections wait outside the selector for a while.
        for c, t in list(parked.items()):
            if now >= t:
                del parked[c]
                sel.register(c.s, selectors.EVENT_READ, c)
        for c in list(live):
            if now - max(c.start, last_open) > deadline:
                # Still connecting: its SYNs were dropped (a listener's
                # full accept queue), the kernel retries them with backoff.
                finish(c, "hung" if c.sent else "unanswered", now)
        if now - last_progress >= 1:
            last_progress = now
            with open(out + ".progress.tmp", "w") as f:
                json.dump({"open": len(live), "bytes": total, "opened": opened, "outcomes": outcomes}, f)
            os.replace(out + ".progress.tmp", out + ".progress")
    with open(out + ".tmp", "w") as f:
        json.dump({"outcomes": outcomes, "ended": ended}, f)
    os.replace(out + ".tmp", out)
    print(json.dumps(outcomes))


if __name__ == "__main__":
    main()
