#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A live TCP handoff over IPv6, namespaces in one guest: the VIP, the
# back-ends and the client are IPv6 (the control channel runs over IPv4
# here; ctrl-channel and handoff-netns run it over IPv6). As handoff-netns
# proves it for IPv4:
#   - the bytes are exact (sha256 of 10 MB down and 10 MB up) and the
#     server that served them logged the client's real IPv6 address;
#   - the client opened one connection and saw no reset (its SNMP counters,
#     and a capture of SYN/RST segments on its interface);
#   - the front-end transmitted less than 1% of the response, the back-end
#     at least all of it, and kept no socket for the connection;
#   - round robin sends the next connection to the other back-end, with
#     TCP options (timestamps, SACK, window scaling) off at the client;
#   - a rule by path sends a request to the back-end it names;
#   - dual stack: an IPv4 service on the same front-end and back-ends, an
#     IPv4 and an IPv6 download at once, both byte-exact;
#   - no flow is left once the connections closed;
#   - per-request dispatch: a kept-alive connection moved between the
#     back-ends by its requests' Hosts, 1 MB after a move exact;
#   - rmmod resets a kept-alive IPv6 connection from the VIP (the server
#     aborted while the hooks still rewrite) and is clean.
#
# guests: 1
# memory: 768M
# timeout: 300
#
#                       switch ns "sw" (br0)     2001:db8:1::/64, 198.18.1.0/24
#        /             |                 |               \
#   cl ::1        fe ::2 (VIP ::100)   be1 ::3          be2 ::4
#   curl          baton node 1         node 2           node 3
#                                      http.server      http.server
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip curl python3 sha256sum tcpdump ss jq

readonly httpd="$BATON_REPO/tests/vm/tools/httpd.py"

readonly vip=2001:db8:1::100 port=80 be_port=8080
readonly size=$((10 * 1024 * 1024))
work=$(mktemp -d)
defer rm -rf "$work"

# addr6 I: the IPv6 address of host I on the LAN.
addr6() {
	echo "2001:db8:1::$1"
}

baton_load
lan_setup 1 sw cl fe be1 be2
i=1
for ns in cl fe be1 be2; do
	ns_exec "$ns" ip addr add "$(addr6 $i)/64" dev eth0 nodad
	i=$((i + 1))
done
ns_exec fe ip addr add "$vip/128" dev eth0 nodad
# The front-end forwards the client packets it rewrites to the back-ends.
ns_exec fe sysctl -qw net.ipv6.conf.all.forwarding=1

for i in 1 2; do
	mkdir -p "$work/be$i"
	head -c "$size" /dev/urandom >"$work/be$i/big"
	echo "be$i" >"$work/be$i/name"
	ns_exec "be$i" python3 "$httpd" "$(addr6 $((i + 2)))" "$be_port" "$work/be$i" \
		>"$work/be$i.log" 2>&1 &
	defer kill $!
	wait_listen "be$i" "$be_port"
done

baton_star fe 198.18.1.2 be1 198.18.1.3 be2 198.18.1.4
bctl fe service add "[$vip]:$port" scheduler rr
bctl fe backend add "[$vip]:$port" "[$(addr6 3)]:$be_port" peer 2
bctl fe backend add "[$vip]:$port" "[$(addr6 4)]:$be_port" peer 3
bctl fe service list
check_eq "service list (JSON) address" "$(bctl fe -j service list | jq -r '.[0].addr')" "$vip"
wait_listen fe "$port"

# download N: the client downloads /big through the VIP (lan_download's
# checks), and the server that served it logged the client's IPv6 address;
# prints that back-end (be1 or be2).
download() {
	local served
	served=$(lan_download "$1" "http://[$vip]:$port/big" "$(addr6 1)")
	grep -q "^$(addr6 1):[0-9]* GET /big .* 200 $size\$" "$work/$served.log" ||
		fail "fetch $1: $served did not log the client's address: $(cat "$work/$served.log")"
	echo "$served"
}

# upload N: 10 MB up through the VIP, its sha256 answered by the server.
upload() {
	local sum want
	head -c "$size" /dev/urandom >"$work/up"
	want=$(sha256sum <"$work/up" | cut -d' ' -f1)
	sum=$(ns_exec cl timeout 70 curl -gsS --max-time 60 --data-binary "@$work/up" \
		-H 'Content-Type: application/octet-stream' "http://[$vip]:$port/upload") ||
		fail "upload $1: curl failed"
	check_eq "upload $1: 10 MB sha256 at the server" "$sum" "$want"
}

first=$(download 1)
# TCP options off at the client (these settings are IPv4's and IPv6's).
ns_exec cl sysctl -qw net.ipv4.tcp_timestamps=0 net.ipv4.tcp_sack=0 net.ipv4.tcp_window_scaling=0
second=$(download 2)
ns_exec cl sysctl -qw net.ipv4.tcp_timestamps=1 net.ipv4.tcp_sack=1 net.ipv4.tcp_window_scaling=1
[ "$first" != "$second" ] || fail "round robin sent both connections to $first"
upload 1
ns_exec cl sysctl -qw net.ipv4.tcp_timestamps=0 net.ipv4.tcp_sack=0 net.ipv4.tcp_window_scaling=0
upload 2
ns_exec cl sysctl -qw net.ipv4.tcp_timestamps=1 net.ipv4.tcp_sack=1 net.ipv4.tcp_window_scaling=1

# A rule by path names a back-end; the other requests keep alternating.
bctl fe rule add "[$vip]:$port" path /name to "[$(addr6 4)]:$be_port"
for n in 1 2 3; do
	got=$(ns_exec cl timeout 30 curl -gsS --max-time 20 "http://[$vip]:$port/name") ||
		fail "rule fetch $n: curl failed"
	check_eq "rule fetch $n: served by the rule's back-end" "$got" be2
done

# Dual stack: an IPv4 service beside the IPv6 one, the same back-ends
# (their IPv4 servers); one download of each family at once.
vip4=198.18.1.100
baton_frontend fe "$vip4"
for i in 1 2; do
	ns_exec "be$i" python3 "$httpd" "198.18.1.$((i + 2))" "$be_port" "$work/be$i" \
		>"$work/be$i.v4.log" 2>&1 &
	defer kill $!
done
bctl fe service add "$vip4:$port" scheduler rr
bctl fe backend add "$vip4:$port" "198.18.1.3:$be_port" peer 2
bctl fe backend add "$vip4:$port" "198.18.1.4:$be_port" peer 3
listens_v4() {
	ns_exec "$1" ss -Hltn "sport = :$be_port" | grep -q "$2:$be_port"
}
wait_for -t 20 listens_v4 be1 198.18.1.3 || fail "be1's IPv4 server does not listen"
wait_for -t 20 listens_v4 be2 198.18.1.4 || fail "be2's IPv4 server does not listen"
ns_exec cl timeout 70 curl -sS --max-time 60 -o "$work/dual4" "http://$vip4:$port/big" &
pid4=$!
ns_exec cl timeout 70 curl -gsS --max-time 60 -o "$work/dual6" "http://[$vip]:$port/big" &
pid6=$!
wait "$pid4" || fail "dual stack: the IPv4 download failed"
wait "$pid6" || fail "dual stack: the IPv6 download failed"
sums="$(sha256sum <"$work/be1/big" | cut -d' ' -f1) $(sha256sum <"$work/be2/big" | cut -d' ' -f1)"
for f in dual4 dual6; do
	sum=$(sha256sum <"$work/$f" | cut -d' ' -f1)
	[[ " $sums " == *" $sum "* ]] || fail "dual stack: $f is neither back-end's file"
done
log "dual stack: IPv4 and IPv6 downloads at once, both exact"

active_is() {
	[ "$(baton_stat "$1" active)" = "$2" ]
}
for ns in fe be1 be2; do
	wait_for -t 15 active_is "$ns" 0 || fail "$ns still has $(baton_stat "$ns" active) connections"
done
check_eq "front-end handoffs ok" "$(baton_stat fe handoffs-ok)" 9
check_eq "front-end handoffs refused+failed" \
	$(($(baton_stat fe handoffs-refused) + $(baton_stat fe handoffs-failed))) 0
check_eq "connections taken by the back-ends" $(($(baton_stat be1 taken) + $(baton_stat be2 taken))) 9
bctl fe stats
dmesg | grep "baton:" | tail -20

# Per-request dispatch over IPv6 (issue 16): one kept-alive connection
# whose requests name a Host moves between the back-ends (MOVE_REQ6), a
# 1 MB response after a move exact.
bctl fe rule del "[$vip]:$port" 0
bctl fe rule add "[$vip]:$port" host a.example to "[$(addr6 3)]:$be_port"
bctl fe rule add "[$vip]:$port" host b.example to "[$(addr6 4)]:$be_port"
moved0=$(baton_stat fe moved)
out=$(ns_exec cl timeout 60 python3 "$BATON_REPO/tests/vm/tools/clients.py" requests "$vip" "$port" \
	a.example/name b.example/name a.example/gen/1000000 b.example/name) || fail "IPv6 moves failed: $out"
check_eq "IPv6 moves: answers" "$(cut -d' ' -f2 <<<"$out" | tr '\n' ' ')" "be1 be2 exact be2 "
check_eq "IPv6 moves: one connection" "$(cut -d' ' -f1 <<<"$out" | sort -u | wc -l)" 1
check_eq "IPv6 moves: moved" $(($(baton_stat fe moved) - moved0)) 3
check_eq "IPv6 moves: refused or failed" $(($(baton_stat fe moves-refused) + $(baton_stat fe moves-failed))) 0
for ns in fe be1 be2; do
	wait_for -t 15 active_is "$ns" 0 || fail "$ns still has $(baton_stat "$ns" active) connections after the moves"
done

# Unloading the module ends a kept-alive IPv6 connection as an IPv4 one:
# the back-end's server is aborted while the hooks still rewrite, so its
# RST reaches the client from the VIP.
cat >"$work/held.py" <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
s.sendall(b"GET /name HTTP/1.1\r\nHost: x\r\n\r\n")
f = s.makefile("rb")
assert f.readline().startswith(b"HTTP/1.1 200"), "status"
print("answered", flush=True)
try:
    while f.read1(4096):
        pass
    print("closed")
except ConnectionResetError:
    print("reset")
PY
ns_exec cl timeout 120 python3 "$work/held.py" "$vip" "$port" >"$work/held" 2>&1 &
held_pid=$!
answered() {
	grep -q answered "$work/held"
}
wait_for -t 30 answered || fail "held IPv6 connection: no answer: $(cat "$work/held")"
wait_for -t 15 active_is fe 1 || fail "held IPv6 connection: not forwarding"
# conn list of an IPv6 connection, and filters by IPv6 address (a dump).
bctl fe conn list
check_eq "conn list: the IPv6 connection" \
	"$(bctl fe -j conn list | jq -c '.conns[] | [.role, .state, .vip]')" \
	"[\"front\",\"forwarding\",\"[$vip]:$port\"]"
check_eq "conn list service [VIP]:80" "$(bctl fe -j conn list service "[$vip]:$port" | jq '.conns | length')" 1
check_eq "conn list client (IPv6)" "$(bctl fe -j conn list client "$(addr6 1)" | jq '.conns | length')" 1
check_eq "conn list service of the IPv4 VIP" \
	"$(bctl fe -j conn list service "$vip4:$port" | jq '.conns | length')" 0
baton_unload
wait "$held_pid" || fail "held IPv6 connection: $(cat "$work/held")"
check_eq "held IPv6 connection after rmmod" "$(tail -n 1 "$work/held")" reset
log "all checks passed"
