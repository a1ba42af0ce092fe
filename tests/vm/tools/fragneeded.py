#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""ICMP "fragmentation needed" errors about a server's segments, as a
router on the client's path sends them.

  fragneeded.py VIP PORT MTU CLIENT:CPORT...
      For each CLIENT:CPORT, sends one ICMP destination unreachable,
      fragmentation needed (next-hop MTU MTU) to VIP, quoting the IPv4
      header and the first 8 bytes of a 1500-byte TCP segment from
      VIP:PORT to CLIENT:CPORT (DF set, a random sequence number). Raw
      socket: root, in the router's namespace; the kernel fills in the
      outer header (source: the router's address toward VIP). Prints
      "sent N".
"""
import random
import socket
import struct
import sys


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def message(vip, port, mtu, client, cport):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 1500, random.getrandbits(16), 0x4000, 63,
                     socket.IPPROTO_TCP, 0, socket.inet_aton(vip), socket.inet_aton(client))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    tcp = struct.pack("!HHI", port, cport, random.getrandbits(32))
    icmp = struct.pack("!BBHHH", 3, 4, 0, 0, mtu) + ip + tcp
    return icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    vip, port, mtu = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    n = 0
    for c in sys.argv[4:]:
        client, cport = c.rsplit(":", 1)
        s.sendto(message(vip, port, mtu, client, int(cport)), (vip, 0))
        n += 1
    print(f"sent {n}")


if __name__ == "__main__":
    main()
