#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Misbehaving clients (and a router) for the limits, bad-packets and
path-mtu scenarios.

  clients.py slowloris ADDR PORT N SECS
      Opens N connections to ADDR:PORT from the addresses given in the
      environment variable SRC (space-separated; round robin), sends every
      other one a partial request head (never finished), holds them all
      SECS seconds, then closes them. Prints "opened N, open at end M".

  clients.py synflood SRC_NET DST PORT N
      Sends N SYNs with spoofed source addresses in SRC_NET (a /24 given
      as a.b.c) to DST:PORT through a raw socket, and prints "sent N in Xs".

  clients.py junkacks SRC DST PORT N SEED [GAP_MS]
      Sends N bare ACKs from SRC, each from another source port drawn
      (with SEED) from 1024-39999, with random sequence numbers, to
      DST:PORT through a raw socket: packets of connections nobody has;
      GAP_MS milliseconds apart if given. Prints "sent N".

  clients.py keepalive ADDR PORT N PORTFILE GOFILE
      One keep-alive connection: GET /gen/N, checks the body (httpd.py's
      bytes for N), writes its local port to PORTFILE, waits until GOFILE
      exists, then GET /gen/N again on the same connection and checks it.
      Prints "2 responses exact on one connection".

  clients.py requests ADDR PORT HOST/PATH...
      One kept-alive connection to ADDR:PORT (IPv4 or IPv6), one request
      after the other: GET /PATH with "Host: HOST" for each argument, each
      response read whole (Content-Length) before the next request. Prints
      one line per response: the connection's local port, then the body
      (stripped) if it is short text, or for /gen/N "exact" or "differs"
      (httpd.py's bytes for N). An argument wait=FILE instead waits (at
      most 600 s) until FILE exists, the connection kept open; +HOST/PATH
      sends its request at once and reads its response after the next
      request's (pipelined).

  clients.py kept ADDR PORT N SIZE STEP...
      N kept-alive connections to ADDR:PORT (IPv4 or IPv6) at once, then
      for each STEP: wait=FILE waits (at most 600 s) until FILE exists,
      get sends GET /gen/SIZE on every connection and checks each body
      (httpd.py's bytes for SIZE), out=FILE writes FILE (the number of
      answers so far). Prints "N connections, M answers exact"; exits 1
      on any error (a reset, a short or wrong answer).

  clients.py mixed ADDR PORT N SECS MAX HOST=NAME...
      N kept-alive connections at once, each looping requests GET /name
      with a Host drawn at random from the HOST=NAME pairs, for SECS
      seconds, at most MAX requests in all; each answer must be NAME (the
      server the rules send HOST to; NAME1|NAME2... for any of them) and
      each connection stays the one it opened. Prints JSON {"ok": n, "wrong": n, "errors": n, "conns": n}
      and exits 1 unless every request was answered right.

  clients.py churn ADDR PORT N SIZE SECS MAX OUT [STOP]
      N threads open connections to ADDR:PORT without pause, each one
      request GET /gen/SIZE with "Connection: close", its body checked
      against httpd.py's bytes, for SECS seconds or until the file STOP
      exists, at most MAX connections in all. A connection times out
      after CHURN_TIMEOUT seconds (environment, default 20) connecting,
      or without a byte of its answer, counted from STOP's appearance
      when given (a server the load saturates answers late, not never).
      Writes OUT (JSON): how the connections ended,
          {"exact": n, "corrupt": n, "reset": n, "refused": n, "eof": n,
           "timeout": n, "slowest-ms": n, "hung": [...]}
      ("eof": closed before the whole answer; "corrupt": an answer whose
      bytes are not the server's; "slowest-ms": the longest an exact
      answer took, from the connect; "hung": the first 20 timed-out
      connections, their local port, whether connecting or reading, the
      bytes read and when).

  clients.py fetch ADDR PORT SIZE LPORT
      One connection of churn from local port LPORT, read until the server
      closes (so that the server's side closes first); prints how it ended,
      exits 1 unless the answer was exact.

  clients.py badpackets SRC SPORT DST DPORT
      Sends, as SRC:SPORT to DST:DPORT, one of each: a TCP header with data
      offset 4, one with a malformed option (length 1), the first fragment
      of a segment, a segment with IP options, a zero window, data far out
      of window, an RST with a wrong sequence number, a SYN. Sequence
      numbers are arbitrary: these are packets of a stranger or a broken
      middlebox for an existing connection. Prints the kinds sent.

  clients.py badicmp SRC VIP VPORT CLIENT CPORT
      Sends, as SRC (a router) to VIP, ICMP errors about a segment
      VIP:VPORT -> CLIENT:CPORT with an arbitrary sequence number: three
      broken ones (the quoted TCP header cut after its ports, a quoted
      header that is not IPv4, an ICMP header cut short), a "fragmentation
      needed" (MTU 600) about another port of the client, which no
      connection has, and one about the connection itself. Prints the
      kinds sent.

  clients.py fragneeded SRC VIP VPORT CLIENT:CPORT...
      Sends, as SRC (a router) to VIP, one "fragmentation needed" (MTU
      1400) for each CLIENT:CPORT, about a segment VIP:VPORT -> CLIENT:CPORT
      with an arbitrary sequence number (which the server's stack finds
      out of window and ignores); with IPv6 addresses (CLIENT as
      [ADDR]:CPORT) an ICMPv6 "packet too big" (MTU 1280). Prints "sent N".
"""
import json
import os
import random
import select
import socket
import struct
import sys
import threading
import time


def connect_batch(addr, port, srcs, first, count):
    """Connects count sockets at once (non-blocking), within 30 s."""
    socks = []
    for i in range(first, first + count):
        s = socket.socket()
        src = srcs[i % len(srcs)]
        if src:
            s.bind((src, 0))
        s.setblocking(False)
        s.connect_ex((addr, port))
        socks.append(s)
    poll = select.poll()
    for s in socks:
        poll.register(s, select.POLLOUT)
    left = {s.fileno(): s for s in socks}
    end = time.monotonic() + 30
    while left and time.monotonic() < end:
        for fd, _ in poll.poll(1000):
            poll.unregister(fd)
            s = left.pop(fd)
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, f"connect: {os.strerror(err)}")
    if left:
        raise TimeoutError(f"{len(left)} connections not established in 30 s")
    for s in socks:
        s.settimeout(5)
    return socks


def slowloris(addr, port, n, secs):
    srcs = os.environ.get("SRC", "").split() or [None]
    socks = []
    t0 = time.monotonic()
    # In batches of 64 handshakes at once: within the listener's backlog
    # (128), and not one round trip per connection (a slow guest took a
    # minute for 500, longer than the request timeout).
    for first in range(0, n, 64):
        batch = connect_batch(addr, port, srcs, first, min(64, n - first))
        for i, s in enumerate(batch, first):
            if i % 2:
                s.sendall(b"GET /slow HTTP/1.1\r\nHost: slow.example\r\nX-a: ")
        socks += batch
    print(f"opened {n} in {time.monotonic() - t0:.1f}s", flush=True)
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
    start = time.monotonic()
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
    print(f"sent {n} in {time.monotonic() - start:.1f}s")


def junkacks(src_a, dst_a, dport, n, seed, gap_ms=0):
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    src, dst = socket.inet_aton(src_a), socket.inet_aton(dst_a)
    rnd = random.Random(seed)
    for sport in rnd.sample(range(1024, 40000), n):
        seg = tcp_segment(src, dst, sport, dport, rnd.getrandbits(32), rnd.getrandbits(32), 0x10)
        raw.sendto(ip_packet(src, dst, seg), (dst_a, 0))
        if gap_ms:
            time.sleep(gap_ms / 1000)
    print(f"sent {n}")


def gen(n):
    return random.Random(n).randbytes(n)


def http_get(sock, n):
    sock.sendall(f"GET /gen/{n} HTTP/1.1\r\nHost: bad.example\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            raise SystemExit("connection closed in the response head")
        head += chunk
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            raise SystemExit(f"connection closed after {len(body)} of {length} bytes")
        body += chunk
    if body != gen(n):
        raise SystemExit("response body differs from the server's bytes")


def http_response(f):
    """The body of the HTTP/1.1 response at the start of file f (its
    Content-Length bytes)."""
    status = f.readline()
    if not status.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"status line {status!r}")
    length = None
    while (line := f.readline()) not in (b"\r\n", b""):
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    if length is None:
        raise SystemExit("response without Content-Length")
    body = f.read(length)
    if len(body) != length:
        raise SystemExit(f"connection closed after {len(body)} of {length} bytes")
    return body


def requests(addr, port, targets):
    s = socket.create_connection((addr, port), timeout=60)
    f = s.makefile("rb")
    lport = s.getsockname()[1]
    pending = []
    for t in targets:
        if t.startswith("wait="):
            until = time.time() + 600
            while not os.path.exists(t[5:]) and time.time() < until:
                time.sleep(0.1)
            continue
        host, _, path = t.lstrip("+").partition("/")
        s.sendall(f"GET /{path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        pending.append(path)
        if t.startswith("+"):
            continue
        for path in pending:
            body = http_response(f)
            if path.startswith("gen/"):
                out = "exact" if body == gen(int(path[4:])) else "differs"
            else:
                out = body.decode(errors="replace").strip()
            print(lport, out, flush=True)
        pending = []
    s.close()


def mixed(addr, port, n, secs, most, pairs):
    hosts = [(h, set(n.split("|"))) for h, n in (p.split("=", 1) for p in pairs)]
    deadline = time.time() + secs
    lock = threading.Lock()
    counts = {"ok": 0, "wrong": 0, "errors": 0, "conns": 0}
    left = [most]

    def one(seed):
        rnd = random.Random(seed)
        try:
            s = socket.create_connection((addr, port), timeout=30)
            f = s.makefile("rb")
            with lock:
                counts["conns"] += 1
            while time.time() < deadline:
                with lock:
                    if left[0] <= 0:
                        break
                    left[0] -= 1
                host, want = rnd.choice(hosts)
                s.sendall(f"GET /name HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                got = http_response(f).decode(errors="replace").strip()
                with lock:
                    counts["ok" if got in want else "wrong"] += 1
            s.close()
        except (OSError, SystemExit) as e:
            with lock:
                counts["errors"] += 1
            print(f"connection {seed}: {e}", file=sys.stderr)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps(counts))
    if counts["wrong"] or counts["errors"] or counts["conns"] != n:
        sys.exit(1)


# A slower kernel (debug: KASAN, lockdep) gives its connections longer.
CHURN_TIMEOUT = float(os.environ.get("CHURN_TIMEOUT", "20"))


def churn_one(addr, port, size, want, lport=0, hung=None, stop=None):
    """One connection of churn (from local port lport, 0: any): how it
    ended. A connection that timed out is described in `hung` (a list),
    when given: its local port, whether it hung connecting or reading,
    and the bytes it had read, for the scenario to look up.

    A read times out after CHURN_TIMEOUT seconds without a byte, counted
    from the later of its last byte and the moment the file `stop` (when
    given) appeared: while the load runs, a saturated server answers a
    connection queued behind the others late, and only one still silent
    that long after the load ended is hung."""
    data = b""
    try:
        s = socket.create_connection((addr, port), timeout=CHURN_TIMEOUT,
                                     source_address=("", lport))
    except ConnectionRefusedError:
        return "refused"
    except socket.timeout:
        if hung is not None:
            hung.append(f"connect at {time.strftime('%H:%M:%S')}")
        return "timeout"
    except OSError:
        return "reset"
    mine = s.getsockname()[1]
    try:
        s.sendall(f"GET /gen/{size} HTTP/1.1\r\nHost: churn\r\nConnection: close\r\n\r\n".encode())
        s.settimeout(min(1.0, CHURN_TIMEOUT))
        quiet = time.monotonic()
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                now = time.monotonic()
                if stop is not None and not os.path.exists(stop):
                    quiet = now
                elif now - quiet >= CHURN_TIMEOUT:
                    raise
                continue
            if not chunk:
                break
            quiet = time.monotonic()
            data += chunk
    except socket.timeout:
        if hung is not None:
            hung.append(f"port {mine} read {len(data)} bytes, timed out at {time.strftime('%H:%M:%S')}")
        return "timeout"
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    finally:
        s.close()
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep or not head.startswith(b"HTTP/1.1 200"):
        return "eof" if not data or len(data) < 12 else "corrupt"
    if len(body) < len(want):
        return "eof" if want.startswith(body) else "corrupt"
    return "exact" if body == want else "corrupt"


def churn(addr, port, n, size, secs, most, out, stop=None):
    want = gen(size)
    counts = {k: 0 for k in ("exact", "corrupt", "reset", "refused", "eof", "timeout")}
    hung = []
    slowest = [0]
    lock = threading.Lock()
    started = [0]
    end = time.monotonic() + secs

    def run():
        while time.monotonic() < end and not (stop and os.path.exists(stop)):
            with lock:
                if started[0] >= most:
                    return
                started[0] += 1
            t0 = time.monotonic()
            how = churn_one(addr, port, size, want, hung=hung, stop=stop)
            ms = int((time.monotonic() - t0) * 1000)
            with lock:
                counts[how] += 1
                if how == "exact":
                    slowest[0] = max(slowest[0], ms)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(out, "w") as f:
        json.dump({**counts, "slowest-ms": slowest[0], "hung": hung[:20]}, f)
    print("churn: " + " ".join(f"{k} {v}" for k, v in counts.items()))


def fetch(addr, port, size, lport):
    how = churn_one(addr, port, size, gen(size), lport)
    print(f"fetch from port {lport}: {how}")
    if how != "exact":
        sys.exit(1)


def keepalive(addr, port, n, portfile, gofile):
    s = socket.create_connection((addr, port), timeout=30)
    http_get(s, n)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(s.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    end = time.monotonic() + 120
    while not os.path.exists(gofile):
        if time.monotonic() > end:
            raise SystemExit("no go")
        time.sleep(0.1)
    http_get(s, n)
    s.close()
    print("2 responses exact on one connection")


def kept(addr, port, n, size, steps):
    socks = [socket.create_connection((addr, port), timeout=60) for _ in range(n)]
    files = [s.makefile("rb") for s in socks]
    answers = 0
    for step in steps:
        kind, _, arg = step.partition("=")
        if kind == "wait":
            end = time.monotonic() + 600
            while not os.path.exists(arg):
                if time.monotonic() > end:
                    raise SystemExit(f"no {arg}")
                time.sleep(0.1)
        elif kind == "get":
            for s in socks:
                s.sendall(f"GET /gen/{size} HTTP/1.1\r\nHost: kept\r\n\r\n".encode())
            for i, f in enumerate(files):
                if http_response(f) != gen(size):
                    raise SystemExit(f"connection {i}: the answer differs")
                answers += 1
        elif kind == "out":
            with open(arg + ".tmp", "w") as f:
                f.write(str(answers))
            os.rename(arg + ".tmp", arg)
        else:
            raise SystemExit(f"unknown step {step}")
    for s in socks:
        s.close()
    print(f"{n} connections, {answers} answers exact")


def idle(addr, port, n, secs, out):
    """One response on a kept-alive connection, which then stays idle for
    up to secs: writes to out how it ended (reset, closed or open)."""
    s = socket.create_connection((addr, port), timeout=30)
    http_get(s, n)
    s.settimeout(secs)
    try:
        how = "closed" if s.recv(1) == b"" else "data"
    except ConnectionResetError:
        how = "reset"
    except socket.timeout:
        how = "open"
    with open(out + ".tmp", "w") as f:
        f.write(how)
    os.rename(out + ".tmp", out)


def tcp_segment(src, dst, sport, dport, seq, ack, flags, window=65535, opts=b"", doff=None, data=b""):
    doff = doff if doff is not None else (20 + len(opts)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, window, 0, 0) + opts + data
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    return tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]


def ip_packet(src, dst, payload, frag=0, ip_opts=b""):
    ihl = 5 + len(ip_opts) // 4
    ip = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(payload), 7, frag, 64, 6, 0, src, dst) + ip_opts
    return ip[:10] + struct.pack("!H", csum(ip)) + ip[12:] + payload


def badpackets(src_a, sport, dst_a, dport):
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    src, dst = socket.inet_aton(src_a), socket.inet_aton(dst_a)
    rnd = random.Random(11)
    seq = lambda: rnd.getrandbits(32)  # noqa: E731
    ACK, RST, SYN, PSH = 0x10, 0x04, 0x02, 0x08
    sent = []

    def send(kind, pkt):
        raw.sendto(pkt, (dst_a, 0))
        sent.append(kind)
        time.sleep(0.05)

    t = lambda **kw: tcp_segment(src, dst, sport, dport, **kw)  # noqa: E731
    send("bad-doff", ip_packet(src, dst, t(seq=seq(), ack=seq(), flags=ACK, doff=4)))
    send("bad-option", ip_packet(src, dst, t(seq=seq(), ack=seq(), flags=ACK, opts=bytes([8, 1, 0, 0]))))
    whole = t(seq=seq(), ack=seq(), flags=ACK | PSH, data=bytes(64))
    send("first-fragment", ip_packet(src, dst, whole[:40], frag=0x2000))
    send("ip-options", ip_packet(src, dst, t(seq=seq(), ack=seq(), flags=ACK), ip_opts=bytes([1, 1, 1, 0])))
    send("zero-window", ip_packet(src, dst, t(seq=seq(), ack=seq(), flags=ACK, window=0)))
    send("out-of-window", ip_packet(src, dst, t(seq=seq(), ack=seq(), flags=ACK | PSH, data=b"x" * 100)))
    send("rst-wrong-seq", ip_packet(src, dst, t(seq=seq(), ack=0, flags=RST)))
    send("syn", ip_packet(src, dst, t(seq=seq(), ack=0, flags=SYN)))
    print("sent " + " ".join(sent))


def ip6_packet(src, dst, nh, payload):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nh, 64, src, dst) + payload


def options6(nh):
    """An 8-byte hop-by-hop or destination options header: PadN alone."""
    return struct.pack("!BB", nh, 0) + bytes([1, 4, 0, 0, 0, 0])


def badpackets6(src_a, sport, dst_a, dport, only=None):
    """badpackets over IPv6, with extension headers: a chain the flow
    parses, a first fragment and a chain longer than it takes; with `only`,
    that kind alone, else every other one."""
    raw = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
    src, dst = (socket.inet_pton(socket.AF_INET6, a) for a in (src_a, dst_a))
    rnd = random.Random(11)
    seq = lambda: rnd.getrandbits(32)  # noqa: E731
    ACK, RST, SYN, PSH = 0x10, 0x04, 0x02, 0x08
    HOP, FRAG, DEST, TCP = 0, 44, 60, 6
    sent = []

    def send(kind, pkt):
        if (kind == only) != (only is not None) or (only is None and kind in excluded):
            return
        raw.sendto(pkt, (dst_a, 0))
        sent.append(kind)
        time.sleep(0.05)

    excluded = {"ext-headers"} if only is None else set()
    # The TCP checksum's pseudo-header sums the same for 16-byte addresses.
    t = lambda **kw: tcp_segment(src, dst, sport, dport, **kw)  # noqa: E731
    send("bad-doff", ip6_packet(src, dst, TCP, t(seq=seq(), ack=seq(), flags=ACK, doff=4)))
    send("bad-option", ip6_packet(src, dst, TCP, t(seq=seq(), ack=seq(), flags=ACK, opts=bytes([8, 1, 0, 0]))))
    whole = t(seq=seq(), ack=seq(), flags=ACK | PSH, data=bytes(64))
    frag = struct.pack("!BBHI", TCP, 0, 1, 7)  # offset 0, more fragments
    send("first-fragment", ip6_packet(src, dst, FRAG, frag + whole[:40]))
    send("ext-headers", ip6_packet(src, dst, HOP, options6(DEST) + options6(TCP)
                                   + t(seq=seq(), ack=seq(), flags=ACK, window=0)))
    chain = b"".join(options6(DEST) for _ in range(8)) + options6(TCP)
    send("chain-too-long", ip6_packet(src, dst, DEST, chain + t(seq=seq(), ack=seq(), flags=ACK)))
    send("out-of-window", ip6_packet(src, dst, TCP, t(seq=seq(), ack=seq(), flags=ACK | PSH, data=b"x" * 100)))
    send("rst-wrong-seq", ip6_packet(src, dst, TCP, t(seq=seq(), ack=0, flags=RST)))
    send("syn", ip6_packet(src, dst, TCP, t(seq=seq(), ack=0, flags=SYN)))
    print("sent " + " ".join(sent))


def icmp_error(src, dst, kind, code, rest, quoted):
    icmp = struct.pack("!BBHI", kind, code, 0, rest) + quoted
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 7, 0, 64, 1, 0, src, dst)
    return ip[:10] + struct.pack("!H", csum(ip)) + ip[12:] + icmp


def badicmp(src_a, vip_a, vport, client_a, cport):
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    src, vip, client = (socket.inet_aton(a) for a in (src_a, vip_a, client_a))
    ACK, PSH = 0x10, 0x08
    sent = []

    def send(kind, pkt):
        raw.sendto(pkt, (vip_a, 0))
        sent.append(kind)
        time.sleep(0.05)

    def quoted(dport):
        seg = tcp_segment(vip, client, vport, dport, seq=0x5EED5EED, ack=1, flags=ACK | PSH,
                          data=bytes(1000))
        return ip_packet(vip, client, seg)

    frag_needed = lambda q: icmp_error(src, vip, 3, 4, 600, q)  # noqa: E731
    q = quoted(cport)
    send("tcp-cut", frag_needed(q[:24]))
    send("not-ipv4", frag_needed(b"\x65" + q[1:60]))
    # The raw socket sets the IPv4 total length and checksum.
    send("icmp-cut", icmp_error(src, vip, 3, 4, 600, b"")[:24])
    send("no-connection", frag_needed(quoted(cport ^ 1)[:548]))
    send("connection", frag_needed(q[:548]))
    print("sent " + " ".join(sent))


def fragneeded(src_a, vip_a, vport, conns):
    v6 = ":" in vip_a
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    raw = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_RAW)
    src, vip = socket.inet_pton(fam, src_a), socket.inet_pton(fam, vip_a)
    for c in conns:
        client_a, cport = c.rsplit(":", 1)
        client = socket.inet_pton(fam, client_a.strip("[]"))
        seg = tcp_segment(vip, client, vport, int(cport), seq=random.getrandbits(32), ack=1,
                          flags=0x18, data=bytes(1400))
        if v6:
            quoted = ip6_packet(vip, client, 6, seg)[:600]
            icmp = struct.pack("!BBHI", 2, 0, 0, 1280) + quoted
            pseudo = src + vip + struct.pack("!I3xB", len(icmp), 58)
            icmp = icmp[:2] + struct.pack("!H", csum(pseudo + icmp)) + icmp[4:]
            raw.sendto(ip6_packet(src, vip, 58, icmp), (vip_a, 0))
        else:
            quoted = ip_packet(vip, client, seg)[:548]
            raw.sendto(icmp_error(src, vip, 3, 4, 1400, quoted), (vip_a, 0))
    print(f"sent {len(conns)}")


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "slowloris":
        slowloris(a[1], int(a[2]), int(a[3]), float(a[4]))
    elif a[0] == "synflood":
        synflood(a[1], a[2], int(a[3]), int(a[4]))
    elif a[0] == "junkacks":
        junkacks(a[1], a[2], int(a[3]), int(a[4]), int(a[5]), float(a[6]) if len(a) > 6 else 0)
    elif a[0] == "keepalive":
        keepalive(a[1], int(a[2]), int(a[3]), a[4], a[5])
    elif a[0] == "requests":
        requests(a[1], int(a[2]), a[3:])
    elif a[0] == "mixed":
        mixed(a[1], int(a[2]), int(a[3]), float(a[4]), int(a[5]), a[6:])
    elif a[0] == "kept":
        kept(a[1], int(a[2]), int(a[3]), int(a[4]), a[5:])
    elif a[0] == "idle":
        idle(a[1], int(a[2]), int(a[3]), float(a[4]), a[5])
    elif a[0] == "churn":
        churn(a[1], int(a[2]), int(a[3]), int(a[4]), float(a[5]), int(a[6]), a[7],
              a[8] if len(a) > 8 else None)
    elif a[0] == "fetch":
        fetch(a[1], int(a[2]), int(a[3]), int(a[4]))
    elif a[0] == "badpackets":
        badpackets(a[1], int(a[2]), a[3], int(a[4]))
    elif a[0] == "badpackets6":
        badpackets6(a[1], int(a[2]), a[3], int(a[4]), a[5] if len(a) > 5 else None)
    elif a[0] == "badicmp":
        badicmp(a[1], a[2], int(a[3]), a[4], int(a[5]))
    elif a[0] == "fragneeded":
        fragneeded(a[1], a[2], int(a[3]), a[4:])
    else:
        sys.exit(f"unknown command {a[0]}")
