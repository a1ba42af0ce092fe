#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""An HTTP/1.1 client that moves its bytes at a fixed pace, so that a
transfer is still under way when a scenario breaks something (curl's
--limit-rate lets a response that fits the socket buffers through at once).

  pace.py [--sum] [--hold FILE] [--until FILE] get ADDR PORT PATH OUT RATE
      GET PATH; reads the response body at RATE bytes a second into OUT.
  pace.py [--sum] [--hold FILE] [--until FILE] post ADDR PORT PATH FILE OUT RATE
      POST FILE as the body, sent at RATE bytes a second; the response
      body goes to OUT.
  --sum: OUT gets the body's sha256 in hex, not the body (many large
      transfers in a guest's memory).
  --hold FILE: the last HOLD_BYTES of the body (read for get, sent for
      post) wait until FILE exists, and OUT.held is created meanwhile: the
      connection stays open, whatever the guest's speed, until the
      scenario has checked what it must while the transfer lives. The wait
      is not a stall.
  --until FILE: the pace holds until FILE exists; then the rest of the
      body moves as fast as the connection takes it (once the scenario has
      checked what it must while the transfer lives, it need not wait for
      the pace to end).

Exits 0 once the whole body (Content-Length) arrived, 1 on any error (a
reset, a short body, a status other than 200), with the reason on stderr.
Each transfer gives up after 300 s. Prints "stall-ms N" on success: the
longest wait for the connection to move a byte (what a failover cost it).
"""
import hashlib
import os
import socket
import sys
import time

CHUNK = 8192
LIMIT_S = 300
HOLD_BYTES = 256 * 1024


def paced(rate, start, done, until=None):
    """Sleeps until `done` bytes are due at `rate` bytes/s since `start`,
    unless file `until` exists."""
    if until is not None and os.path.exists(until):
        return
    due = start + done / rate
    now = time.monotonic()
    if due > now:
        time.sleep(due - now)


def head(sock):
    buf = b""
    while b"\r\n\r\n" not in buf:
        got = sock.recv(4096)
        if not got:
            raise OSError("connection closed before the response head")
        buf += got
    h, rest = buf.split(b"\r\n\r\n", 1)
    lines = h.decode("latin-1").split("\r\n")
    status = lines[0].split()[1]
    length = None
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            length = int(v)
    if status != "200" or length is None:
        raise OSError(f"response {lines[0]!r}, content-length {length}")
    return length, rest


def hold_until(path, out, stalls, deadline):
    """Waits for `path` (a --hold file), marking `out`.held meanwhile."""
    open(out + ".held", "w").close()
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise OSError(f"{path} did not appear within {LIMIT_S} s")
        time.sleep(0.1)
    stalls.last = time.monotonic()


class Stalls:
    """The longest time between two moves of the connection."""

    def __init__(self):
        self.last = time.monotonic()
        self.longest = 0.0

    def moved(self):
        now = time.monotonic()
        self.longest = max(self.longest, now - self.last)
        self.last = now


def main():
    args = sys.argv[1:]
    digest, hold, until = False, None, None
    while args[0].startswith("--"):
        if args[0] == "--sum":
            digest, args = True, args[1:]
        elif args[0] == "--hold":
            hold, args = args[1], args[2:]
        elif args[0] == "--until":
            until, args = args[1], args[2:]
        else:
            raise OSError(f"unknown option {args[0]}")
    mode, addr, port, path = args[:4]
    if mode == "get":
        out, rate, body = args[4], int(args[5]), None
    else:
        body, out, rate = args[4], args[5], int(args[6])
    stalls = Stalls()
    sock = socket.create_connection((addr, int(port)), timeout=LIMIT_S)
    sock.settimeout(LIMIT_S)
    deadline = time.monotonic() + LIMIT_S
    if body is None:
        req = f"GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        sock.sendall(req.encode())
    else:
        with open(body, "rb") as f:
            data = f.read()
        req = (f"POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n"
               f"Content-Length: {len(data)}\r\n\r\n")
        sock.sendall(req.encode())
        start, sent = time.monotonic(), 0
        held = hold is None
        while sent < len(data):
            if not held and sent >= len(data) - HOLD_BYTES:
                hold_until(hold, out, stalls, deadline)
                held = True
                start = time.monotonic() - sent / rate
            paced(rate, start, sent, until)
            stalls.moved()
            sock.sendall(data[sent:sent + CHUNK])
            stalls.moved()
            sent += min(CHUNK, len(data) - sent)
    length, got = head(sock)
    start = time.monotonic()
    sha = hashlib.sha256()
    with open(out, "wb") as f:
        write = sha.update if digest else f.write
        write(got)
        n = len(got)
        held = hold is None or body is not None
        while n < length:
            if time.monotonic() > deadline:
                raise OSError(f"gave up after {LIMIT_S} s at {n} of {length} bytes")
            if not held and n >= length - HOLD_BYTES:
                hold_until(hold, out, stalls, deadline)
                held = True
                start = time.monotonic() - n / rate
            if body is None:
                paced(rate, start, n, until)
                stalls.moved()
            chunk = sock.recv(min(CHUNK, length - n))
            if not chunk:
                raise OSError(f"connection closed at {n} of {length} bytes")
            if body is None:
                stalls.moved()
            write(chunk)
            n += len(chunk)
        if digest:
            f.write(sha.hexdigest().encode())
    sock.close()
    print(f"stall-ms {int(stalls.longest * 1000)}")


if __name__ == "__main__":
    try:
        main()
    except OSError as e:
        print(f"pace.py: {e}", file=sys.stderr)
        sys.exit(1)
