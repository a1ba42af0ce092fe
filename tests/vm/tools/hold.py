#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Thousands of idle keep-alive connections, one process each side, for the
conn-dump scenario (non-blocking sockets and a selector: no thread per
connection).

  hold.py server ADDR PORT
      An HTTP/1.1 server: GET /gen/N answers httpd.py's N bytes, anything
      else "ok"; it keeps every connection open until the client closes it,
      unless the request says "Connection: close".

  hold.py client ADDR PORT N OUT STOP
      Opens N connections to ADDR:PORT, at most PARALLEL (environment,
      default 64) handshakes at a time, from the addresses in the
      environment variable SRC (space-separated, round robin; default:
      any). Each sends one request and reads its
      answer, then stays open and idle. When every connection was answered
      (or failed, each within 60 s) it writes OUT, the local ADDR:PORT of
      each held connection, one a line, prints "held N, failed F", and holds
      them until the file STOP exists; then it closes them all.
"""
import os
import random
import selectors
import socket
import sys
import time

RESPONSE_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"


def gen(n):
    return random.Random(n).randbytes(n)


def recv(s, n):
    """Up to n bytes from s; b"" at its end or on an error."""
    try:
        return s.recv(n)
    except OSError:
        return b""


def server(addr, port):
    sel = selectors.DefaultSelector()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(4096)
    ls.setblocking(False)
    sel.register(ls, selectors.EVENT_READ, None)
    bufs = {}
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if s is ls:
                try:
                    c, _ = ls.accept()
                except OSError:
                    continue
                c.setblocking(False)
                bufs[c] = b""
                sel.register(c, selectors.EVENT_READ, None)
                continue
            data = recv(s, 65536)
            if not data:
                sel.unregister(s)
                bufs.pop(s, None)
                s.close()
                continue
            buf = bufs[s] + data
            close = False
            while b"\r\n\r\n" in buf:
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.split(b"\r\n")
                path = lines[0].split(b" ")[1] if len(lines[0].split(b" ")) > 1 else b"/"
                close = any(line.lower() == b"connection: close" for line in lines[1:])
                if path.startswith(b"/gen/"):
                    body = gen(int(path[5:]))
                    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
                else:
                    answer = RESPONSE_OK
                # Small answers: the socket buffer takes them whole.
                s.setblocking(True)
                s.sendall(answer)
                s.setblocking(False)
            bufs[s] = buf
            if close:
                sel.unregister(s)
                bufs.pop(s, None)
                s.close()


def client(addr, port, n, out, stop):
    srcs = os.environ.get("SRC", "").split() or [""]
    parallel = int(os.environ.get("PARALLEL", "64"))
    sel = selectors.DefaultSelector()
    req = f"GET /hold HTTP/1.1\r\nHost: {addr}\r\n\r\n".encode()
    conns = {}  # socket -> [state, received, started]
    held, failed = [], 0
    opened = 0
    deadline = time.monotonic() + 600

    def open_one(i):
        s = socket.socket()
        if srcs[i % len(srcs)]:
            s.bind((srcs[i % len(srcs)], 0))
        s.setblocking(False)
        s.connect_ex((addr, port))
        conns[s] = ["connecting", b"", time.monotonic()]
        sel.register(s, selectors.EVENT_WRITE, None)

    def drop(s):
        nonlocal failed
        sel.unregister(s)
        conns.pop(s, None)
        s.close()
        failed += 1

    while len(held) + failed < n and time.monotonic() < deadline:
        while opened < n and len(conns) < parallel:
            open_one(opened)
            opened += 1
        now = time.monotonic()
        for key, _ in sel.select(1):
            s = key.fileobj
            st = conns[s]
            if st[0] == "connecting":
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    drop(s)
                    continue
                s.send(req)
                st[0] = "sent"
                sel.modify(s, selectors.EVENT_READ, None)
                continue
            data = recv(s, 4096)
            if not data:
                drop(s)
                continue
            st[1] += data
            if st[1].endswith(b"\r\n\r\nok\n"):
                sel.unregister(s)
                del conns[s]
                held.append(s)
        for s, st in list(conns.items()):
            if now - st[2] > 60:
                drop(s)
    for s in list(conns):
        drop(s)
    with open(out + ".tmp", "w") as f:
        for s in held:
            a, p = s.getsockname()
            f.write(f"{a}:{p}\n")
    os.rename(out + ".tmp", out)
    print(f"held {len(held)}, failed {failed}", flush=True)
    while not os.path.exists(stop):
        time.sleep(0.2)
    for s in held:
        s.close()


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "server":
        server(a[1], int(a[2]))
    elif a[0] == "client":
        client(a[1], int(a[2]), int(a[3]), a[4], a[5])
    else:
        sys.exit(f"unknown command {a[0]}")
