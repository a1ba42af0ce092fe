#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A client that sends one POST in two steps, for the lossy-network scenario.

usage: splitreq.py ADDR PORT SYNCDIR MODE SIZE

MODE head: the first segment is an incomplete request head; the end of the
           head and the body follow.
MODE body: the first segment is the complete head (Content-Length SIZE);
           the body follows.

After the first segment the client creates SYNCDIR/sent1 and waits (at most
60 s) for SYNCDIR/go, so that the scenario can cut the link first; then it
sends the rest in segments of 1000 bytes (TCP_NODELAY, one send each),
creates SYNCDIR/sent2 and reads the response (at most 60 s). It prints
"SENT_SHA256 SERVER_ANSWER" (the server, httpd.py, answers the sha256 of the
body it read) and exits 0 if the status was 200.
"""
import hashlib
import os
import socket
import sys
import time


def wait_file(path, secs):
    end = time.monotonic() + secs
    while not os.path.exists(path):
        if time.monotonic() > end:
            sys.exit(f"splitreq: {path} did not appear in {secs} s")
        time.sleep(0.005)


def main():
    addr, port, sync, mode, size = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
    body = os.urandom(size)
    head = (f"POST /upload HTTP/1.1\r\nHost: split.example\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n").encode()
    if mode == "head":
        first, rest = head[:30], head[30:] + body
    elif mode == "body":
        first, rest = head, body
    else:
        sys.exit(f"splitreq: unknown mode {mode}")
    s = socket.create_connection((addr, port), timeout=60)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(first)
    open(os.path.join(sync, "sent1"), "w").close()
    wait_file(os.path.join(sync, "go"), 60)
    for i in range(0, len(rest), 1000):
        s.sendall(rest[i:i + 1000])
        time.sleep(0.01)
    open(os.path.join(sync, "sent2"), "w").close()
    resp = b""
    want = None
    while want is None or len(resp) < want:
        chunk = s.recv(4096)
        if not chunk:
            break
        resp += chunk
        if want is None and b"\r\n\r\n" in resp:
            hdr = resp.split(b"\r\n\r\n", 1)[0]
            length = 0
            for line in hdr.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
            want = len(hdr) + 4 + length
    s.close()
    status = resp.split(b"\r\n", 1)[0]
    answer = resp.split(b"\r\n\r\n", 1)[-1].decode(errors="replace").strip()
    print(hashlib.sha256(body).hexdigest(), answer)
    sys.exit(0 if b" 200 " in status else 1)


if __name__ == "__main__":
    main()
