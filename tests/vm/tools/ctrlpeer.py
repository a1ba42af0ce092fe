#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A control-channel peer for tests: speaks baton's control protocol
(Documentation/control.rst) from userspace, correctly or not, against a
node's control port, and reports what the node did.

    ctrlpeer.py ADDR PORT NODE_ID [--key HEX] ATTACK

Attacks (each prints one line "ATTACK: RESULT" and exits 0 when the node
behaved as it must, 1 otherwise):

  handshake     full handshake, then 3 s of heartbeats: the channel holds
  forge         HELLO without the key's capability, then a HANDOFF_REQ and a
                CONN_END: the node closes before any of them counts
  wrong-key     HELLO with the capability, AUTH tagged with --key (a wrong
                one), then a CONN_END: the node closes
  replay        handshake, a heartbeat, the same frame again: closed
  cross-replay  a heartbeat of one channel replayed on a new one: closed
  reorder       handshake, then seq n+1 before seq n: closed
  truncated     handshake, half a frame, silence: the node keeps waiting
                (no crash), the peer's channel ends when we close
  oversized     handshake, a header announcing 1 MiB: closed
  version       a HELLO with version 2: closed
  garbage       random bytes: closed
  replica       full handshake, a REPLICA of a connection (client
                198.18.9.9:40000, VIP 198.18.9.100:80, back-end node 3),
                3 s of heartbeats, its REPLICA_END, 1 s more: the channel
                holds (whether the node kept the copy is the scenario's to
                check meanwhile, in its stats)
  takeover      full handshake, a TAKEOVER and a REPLICA_END of connections
                the node does not have: the channel holds (the TAKEOVER
                is answered with a CONN_END)
  move          full handshake, a MOVE_REQ for a connection the node does
                not serve, an unsolicited MOVE_ACK (with data) and
                MOVE_NACK: the MOVE_REQ is answered MOVE_NACK INVALID, the
                rest ignored, the channel holds
  replica-short full handshake, a REPLICA one byte short: closed
  view-unsorted full handshake, a VIEW whose members are not in order:
                closed
  flood N       N connections, silent, at once: all closed by the node
                within the handshake timeout (count printed)
  overload N ADDR PORT
                full handshake, then N HANDOFF_REQs at once for back-end
                ADDR:PORT (a server of the node whose SYNs go unanswered):
                the node refuses those beyond its replay queue at once
                (NACK OVERLOAD, within 2 s), and its heartbeats keep
                coming every second (no gap over 2 s) for 8 s while the
                others are replayed. With BATON_SLOW > 1 in the environment
                (a debug kernel) the first NACK may take that many times
                longer and a gap may reach 3 s, the default heartbeat
                timeout: late, but the channel would stay up

"Closed" means the node ended the TCP connection (EOF or reset) within
5 s without answering the offending frame.
"""

import errno
import hashlib
import hmac
import os
import resource
import socket
import struct
import sys
import time

MAGIC = b"BATN"
VERSION = 1
HEADER = 16
MAC_LEN = 32
FLAG_MAC = 1
CAP_AUTH = 1
FROM_INITIATOR, FROM_ACCEPTOR = 1, 2
HELLO, HEARTBEAT, HANDOFF_REQ, HANDOFF_ACK, HANDOFF_NACK, CONN_END, AUTH = range(1, 8)
VIEW, REPLICA, REPLICA_END, TAKEOVER, SYNCED, HANDOFF_COPY, COPY_ACK = range(8, 15)
MOVE_REQ, MOVE_ACK, MOVE_NACK = 20, 22, 23
REASON_INVALID = 4
LABEL = b"baton-ctrl-v1"


class Closed(Exception):
    """The node ended the connection."""


class Channel:
    def __init__(self, addr, port, node_id, key=None, timeout=5.0):
        self.sock = socket.create_connection((addr, port), timeout=timeout)
        self.node_id = node_id
        self.key = key
        self.session = None
        self.tx_seq = 0
        self.rx_seq = 0
        self.sent = []

    def frame(self, mtype, payload, seq=None, tag_with=None, version=VERSION):
        seq = self.tx_seq if seq is None else seq
        session = self.session if tag_with is None else tag_with
        flags = FLAG_MAC if session else 0
        body = MAGIC + bytes([version, mtype]) + struct.pack(">HII", flags, len(payload), seq) + payload
        if session:
            body += hmac.new(session, bytes([FROM_INITIATOR]) + body, hashlib.sha256).digest()
        return body

    def send(self, mtype, payload=b"", **kw):
        f = self.frame(mtype, payload, **kw)
        self.sock.sendall(f)
        self.tx_seq += 1
        self.sent.append(f)
        return f

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            try:
                chunk = self.sock.recv(n - len(buf))
            except ConnectionResetError:
                raise Closed()
            if not chunk:
                raise Closed()
            buf += chunk
        return buf

    def recv(self):
        hdr = self.recv_exact(HEADER)
        if hdr[:4] != MAGIC:
            raise ValueError("bad magic from the node")
        mtype = hdr[5]
        flags, length, seq = struct.unpack(">HII", hdr[6:16])
        payload = self.recv_exact(length)
        if flags & FLAG_MAC:
            tag = self.recv_exact(MAC_LEN)
            if not self.session:
                raise ValueError("tag on a channel without a key")
            want = hmac.new(self.session, bytes([FROM_ACCEPTOR]) + hdr + payload, hashlib.sha256).digest()
            if not hmac.compare_digest(tag, want):
                raise ValueError("bad tag from the node")
        elif self.session:
            raise ValueError("untagged frame from the node")
        if seq != self.rx_seq:
            raise ValueError(f"node seq {seq}, want {self.rx_seq}")
        self.rx_seq += 1
        return mtype, payload

    def hello(self, caps=None, **kw):
        if caps is None:
            caps = CAP_AUTH if self.key else 0
        self.nonce = os.urandom(16)
        self.send(HELLO, struct.pack(">II", self.node_id, caps) + self.nonce, **kw)

    def handshake(self, auth_key=None):
        """HELLO both ways, then AUTH both ways (tagged with auth_key, by
        default the key)."""
        self.hello()
        mtype, payload = self.recv()
        if mtype != HELLO:
            raise ValueError(f"first frame type {mtype}")
        their_id, caps = struct.unpack(">II", payload[:8])
        their_nonce = payload[8:24]
        key = auth_key or self.key
        if key:
            info = LABEL + self.nonce + their_nonce + struct.pack(">II", self.node_id, their_id)
            self.session = hmac.new(key, info, hashlib.sha256).digest()
        self.send(AUTH)
        mtype, _ = self.recv()
        if mtype != AUTH:
            raise ValueError(f"second frame type {mtype}")

    def heartbeat(self):
        return self.send(HEARTBEAT, struct.pack(">Q", int(time.monotonic() * 1000)))

    def closed_within(self, secs=5.0):
        """Whether the node ends the connection within secs (frames it
        sends meanwhile, e.g. heartbeats, are read and ignored)."""
        self.sock.settimeout(0.2)
        end = time.monotonic() + secs
        while time.monotonic() < end:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not data:
                return True
        return False


def handoff_req_payload():
    ep = lambda a, p: socket.inet_aton(a) + struct.pack(">H", p)  # noqa: E731
    fixed = (struct.pack(">Q", 77) + ep("198.18.9.9", 40000) + ep("198.18.9.100", 80)
             + ep("198.18.9.2", 8080) + struct.pack(">IIIIHHBBB", 1, 2, 0, 0, 65535, 1460, 7, 7, 7)
             + bytes(7) + struct.pack(">I", 0))
    return fixed


def handoff_copy_payload(options=7, backend_node=3):
    """A HANDOFF_COPY of handoff_req_payload's request (id 77, for back-end
    node backend_node)."""
    p = bytearray(handoff_req_payload())
    p[48] = options
    p[52:56] = struct.pack(">I", backend_node)
    return bytes(p)


def handoff_req(hid, client_port, backend, port):
    """A HANDOFF_REQ payload without data, options or window scaling, from
    a client on the back-end's /24 (address .250: the replayed SYN has a
    route back)."""
    ep = lambda a, p: socket.inet_aton(a) + struct.pack(">H", p)  # noqa: E731
    client = ".".join(backend.split(".")[:3] + ["250"])
    return (struct.pack(">Q", hid) + ep(client, client_port) + ep("198.18.9.100", 80)
            + ep(backend, port) + struct.pack(">IIIIHHBBB", 1000, 2000, 0, 0, 65535, 1460, 0, 0, 0)
            + bytes(7) + struct.pack(">I", 0))


def overload(ch, n, backend, port):
    """The overload attack on an established channel: (ok, detail)."""
    start = time.monotonic()
    for i in range(n):
        ch.send(HANDOFF_REQ, handoff_req(1000 + i, 20000 + i, backend, port))
    ch.sock.settimeout(0.2)
    end = start + 8
    beats, nacks, acks = [], {}, 0
    first_overload = None
    last_beat = time.monotonic()
    while time.monotonic() < end:
        if time.monotonic() - last_beat >= 1:
            ch.heartbeat()
            last_beat = time.monotonic()
        try:
            mtype, payload = ch.recv()
        except socket.timeout:
            continue
        now = time.monotonic()
        if mtype == HEARTBEAT:
            beats.append(now)
        elif mtype == HANDOFF_NACK:
            why = payload[8]
            nacks[why] = nacks.get(why, 0) + 1
            if why == 3 and first_overload is None:
                first_overload = now - start
        elif mtype == HANDOFF_ACK:
            acks += 1
    gaps = [b - a for a, b in zip(beats, beats[1:])]
    gap = max(gaps, default=99.0)
    overloaded = nacks.get(3, 0)
    detail = (f"{n} sent, NACK by reason {nacks}, {acks} ACK, first OVERLOAD after "
              f"{first_overload if first_overload is None else round(first_overload, 2)} s, "
              f"{len(beats)} heartbeats, longest gap {gap:.2f} s")
    slow = int(os.environ.get("BATON_SLOW", "1"))
    max_gap = 2 if slow <= 1 else 3
    ok = (overloaded > 0 and first_overload is not None and first_overload < 2 * slow
          and len(beats) >= 8 // max_gap + 2 and gap < max_gap and acks == 0)
    return ok, detail


def ep(a, p):
    return socket.inet_aton(a) + struct.pack(">H", p)


CLIENT, VIP, BACKEND = ("198.18.9.9", 40000), ("198.18.9.100", 80), ("198.18.9.2", 8080)


def replica_payload(hid):
    return (struct.pack(">Q", hid) + ep(*CLIENT) + ep(*VIP) + ep(*BACKEND)
            + struct.pack(">IIIBBB3x", 3, 1000, 0, 7, 7, 0))


def replica_end_payload(hid):
    return struct.pack(">Q", hid) + ep(*CLIENT) + ep(*VIP) + struct.pack(">B3x", 5)


def main():
    args = sys.argv[1:]
    key = None
    if "--key" in args:
        i = args.index("--key")
        key = bytes.fromhex(args[i + 1])
        del args[i:i + 2]
    addr, port, node_id, attack = args[0], int(args[1]), int(args[2]), args[3]
    ok = False
    detail = ""
    if attack == "handshake":
        ch = Channel(addr, port, node_id, key)
        ch.handshake()
        for _ in range(3):
            ch.heartbeat()
            time.sleep(1)
        ok = not ch.closed_within(0.5)
    elif attack == "forge":
        ch = Channel(addr, port, node_id, None)
        try:
            ch.hello(caps=0)
            ch.send(HANDOFF_REQ, handoff_req_payload())
            ch.send(CONN_END, struct.pack(">QB3x", 77, 5))
        except (BrokenPipeError, ConnectionResetError):
            pass
        ok = ch.closed_within()
    elif attack == "wrong-key":
        ch = Channel(addr, port, node_id, key)
        try:
            ch.handshake()
            detail = "handshake completed"
        except (Closed, ValueError) as e:
            detail = type(e).__name__
        try:
            ch.send(CONN_END, struct.pack(">QB3x", 77, 5))
        except (BrokenPipeError, ConnectionResetError):
            pass
        ok = detail != "handshake completed" and ch.closed_within()
    elif attack in ("replay", "reorder", "oversized", "truncated"):
        ch = Channel(addr, port, node_id, key)
        ch.handshake()
        if attack == "replay":
            f = ch.heartbeat()
            ch.sock.sendall(f)
        elif attack == "reorder":
            ch.send(HEARTBEAT, struct.pack(">Q", 1), seq=ch.tx_seq + 1)
            ch.send(HEARTBEAT, struct.pack(">Q", 2), seq=ch.tx_seq - 1)
        elif attack == "oversized":
            hdr = MAGIC + bytes([VERSION, HEARTBEAT]) + struct.pack(">HII", 0, 1 << 20, ch.tx_seq)
            ch.sock.sendall(hdr)
        else:
            f = ch.frame(HEARTBEAT, struct.pack(">Q", 3))
            ch.sock.sendall(f[: len(f) // 2])
        if attack == "truncated":
            # The node waits for the rest; it must not close before its
            # heartbeat timeout, and must survive our close.
            ok = not ch.closed_within(1.0)
            ch.sock.close()
        else:
            ok = ch.closed_within()
    elif attack == "cross-replay":
        first = Channel(addr, port, node_id, key)
        first.handshake()
        beat = first.heartbeat()
        first.sock.close()
        time.sleep(0.5)
        second = Channel(addr, port, node_id, key)
        second.handshake()
        # seq 2 is the next one expected on the new channel as well: only
        # the tag (another session key) can tell the frames apart.
        second.sock.sendall(beat)
        ok = second.closed_within()
    elif attack == "replica":
        ch = Channel(addr, port, node_id, key)
        ch.handshake()
        ch.send(REPLICA, replica_payload(99))
        for _ in range(3):
            ch.heartbeat()
            time.sleep(1)
        ch.send(REPLICA_END, replica_end_payload(99))
        ok = not ch.closed_within(1.0)
    elif attack == "copy":
        # A copy of a handoff: confirmed (COPY_ACK) by a node whose group
        # has this one as a member, ignored by another (args[4]: yes or
        # no); then dropped by its REPLICA_END.
        want = args[4] == "yes"
        ch = Channel(addr, port, node_id, key)
        ch.handshake()
        ch.send(HANDOFF_COPY, handoff_copy_payload())
        ch.sock.settimeout(0.5)
        acked = False
        end = time.monotonic() + 3
        while time.monotonic() < end:
            ch.heartbeat()
            try:
                mtype, payload = ch.recv()
            except socket.timeout:
                continue
            acked |= mtype == COPY_ACK and payload == struct.pack(">Q", 77)
        ch.send(REPLICA_END, replica_end_payload(77))
        detail = f"COPY_ACK {'received' if acked else 'not received'}"
        ok = acked == want and not ch.closed_within(1.0)
    elif attack == "copy-resume":
        # A copy never resumes.
        ch = Channel(addr, port, node_id, key)
        ch.handshake()
        ch.send(HANDOFF_COPY, handoff_copy_payload(options=7 | 16))
        ok = ch.closed_within()
    elif attack == "takeover":
        ch = Channel(addr, port, node_id, key)
        ch.handshake()
        ch.send(TAKEOVER, struct.pack(">QQ", 99, 100) + ep(*CLIENT) + ep(*BACKEND) + bytes(4))
        ch.send(REPLICA_END, replica_end_payload(12345))
        ok = not ch.closed_within(1.0)
    elif attack == "move":
        ch = Channel(addr, port, node_id, key)
        ch.handshake()
        ch.send(MOVE_REQ, struct.pack(">Q", 99) + ep(*CLIENT) + ep(*BACKEND) + struct.pack(">II", 1000, 2000))
        ch.send(MOVE_ACK, struct.pack(">QHBBI", 12345, 1460, 7, 7, 5) + b"GET /")
        ch.send(MOVE_NACK, struct.pack(">QB3x", 12346, 7))
        ch.sock.settimeout(0.5)
        nack = None
        end = time.monotonic() + 3
        while time.monotonic() < end and nack is None:
            ch.heartbeat()
            try:
                mtype, payload = ch.recv()
            except socket.timeout:
                continue
            if mtype == MOVE_NACK:
                nack = payload
        detail = f"MOVE_NACK {nack.hex() if nack else 'not received'}"
        ok = nack == struct.pack(">QB3x", 99, REASON_INVALID) and not ch.closed_within(1.0)
    elif attack in ("replica-short", "view-unsorted"):
        ch = Channel(addr, port, node_id, key)
        ch.handshake()
        if attack == "replica-short":
            ch.send(REPLICA, replica_payload(99)[:-1])
        else:
            ch.send(VIEW, struct.pack(">QIII", 1, 0, 0, 2) + struct.pack(">II", 2, 1))
        ok = ch.closed_within()
    elif attack == "version":
        ch = Channel(addr, port, node_id, key)
        ch.hello(version=2)
        ok = ch.closed_within()
    elif attack == "garbage":
        ch = Channel(addr, port, node_id, key)
        ch.sock.sendall(os.urandom(64))
        ok = ch.closed_within()
    elif attack == "overload":
        ch = Channel(addr, port, node_id, key)
        ch.handshake()
        ok, detail = overload(ch, int(args[4]), args[5], int(args[6]))
        ok = ok and not ch.closed_within(0.5)
    elif attack == "flood":
        n = int(args[4])
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 64)), hard))
        socks = []
        errors = {}
        for _ in range(n):
            try:
                s = socket.create_connection((addr, port), timeout=5)
                s.settimeout(0)
                socks.append(s)
            except OSError as e:
                name = errno.errorcode.get(e.errno, type(e).__name__)
                errors[name] = errors.get(name, 0) + 1
        # A node may refuse some connections at once (RST, no accept) or
        # close them after its handshake timeout: all must be closed.
        end = time.monotonic() + 60
        open_ = set(range(len(socks)))
        while open_ and time.monotonic() < end:
            for i in list(open_):
                try:
                    d = socks[i].recv(4096)
                    if not d:
                        open_.discard(i)
                except BlockingIOError:
                    pass
                except OSError:
                    open_.discard(i)
            time.sleep(0.1)
        # A connection the node closes at once may already be reset when
        # connect() reads its status: closed by the node as well.
        reset = errors.pop("ECONNRESET", 0)
        detail = (f"{len(socks) + reset} connected, {len(socks) - len(open_)} closed by the node"
                  f" after accepting, {reset} at once")
        if errors:
            detail += f", connect errors {errors}"
        ok = len(socks) + reset == n and not open_ and not errors
    else:
        print(f"unknown attack {attack}", file=sys.stderr)
        sys.exit(2)
    print(f"{attack}: {'ok' if ok else 'FAILED'} {detail}".rstrip())
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
