#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A live TCP handoff, namespaces in one guest: a client fetches through the
# VIP on the front-end, the front-end hands the connection to a back-end
# (scheduler rr over two peers), and the back-end's ordinary HTTP server
# (python3 http.server, which knows nothing of baton) answers straight to
# the client. Proven as the design brief asks:
#   - the bytes are exact (sha256 of 10 MB) and the server that served them
#     logged the client's real address;
#   - the client opened one connection and saw no reset (its SNMP counters,
#     and a capture of SYN/RST segments on its interface);
#   - the front-end transmitted less than 1% of the response, the back-end
#     at least all of it;
#   - the front-end has no TCP socket left for the connection;
#   - round robin sends the next connection to the other back-end (one
#     back-end's control channel runs over IPv6, the other's over IPv4);
#   - batonctl conn list shows the connection on both ends while it runs,
#     stats count the handoffs, and no state is left once it closed;
#   - drain: with a back-end's weight set to 0 (backend set), new
#     connections go to the other back-end, also those a rule names it
#     for, while a kept-alive connection it serves goes on there (its
#     next request answered by it);
#   - rmmod afterwards leaves the kernel clean.
#
# guests: 1
# memory: 768M
# timeout: 300
#
#                       switch ns "sw" (br0)            198.18.1.0/24
#        /             |                 |               \
#   cl .1         fe .2 (VIP .100)     be1 .3           be2 .4
#   curl          baton node 1         node 2           node 3
#                                      http.server      http.server
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip curl python3 sha256sum tcpdump ss jq socat

readonly vip=198.18.1.100 port=80 be_port=8080
readonly size=$((10 * 1024 * 1024))
work=$(mktemp -d)
defer rm -rf "$work"

baton_load
lan_setup 1 sw cl fe be1 be2
baton_frontend fe "$vip"

# Back-ends: an HTTP server each, with its own 10 MB file.
for i in 1 2; do
	mkdir -p "$work/be$i"
	head -c "$size" /dev/urandom >"$work/be$i/big"
	echo "be$i" >"$work/be$i/name"
	ns_exec "be$i" python3 -m http.server "$be_port" --bind "$(lan_addr 1 $((i + 2)))" \
		--protocol HTTP/1.1 --directory "$work/be$i" >"$work/be$i.log" 2>&1 &
	defer kill $!
	wait_listen "be$i" "$be_port"
done

# baton: the front-end is node 1, back-ends nodes 2 and 3; the control
# channel to node 3 runs over IPv6 (peers by IPv6 address).
ns_exec fe ip addr add 2001:db8:1::2/64 dev eth0 nodad
ns_exec be2 ip addr add 2001:db8:1::4/64 dev eth0 nodad
baton_star fe 198.18.1.2 be1 198.18.1.3
bctl be2 config set node-id 3 key "$BATON_TEST_KEY"
bctl fe peer add 3 "[2001:db8:1::4]"
bctl be2 peer add 1 2001:db8:1::2
wait_for -t 60 baton_peers_up fe || fail "control channels of fe not all up"
bctl fe peer list
check_eq "peer 3's address" "$(bctl fe -j peer list | jq -r '.[] | select(."node-id" == 3) | .addr')" 2001:db8:1::4
check_eq "control channels over IPv6" \
	"$(ns_exec fe ss -Htn state established '( dport = :7300 )' | grep -c '\[2001:db8:1::4\]:7300')" 1
bctl fe service add "$vip:$port" scheduler rr
bctl fe backend add "$vip:$port" "198.18.1.3:$be_port" peer 2
bctl fe backend add "$vip:$port" "198.18.1.4:$be_port" peer 3
bctl fe service list
wait_listen fe "$port"

# download N: the client downloads /big through the VIP (lan_download's
# checks), and the server that served it logged the client's address;
# prints that back-end (be1 or be2).
download() {
	local served
	served=$(lan_download "$1" "http://$vip:$port/big" 198.18.1.1)
	grep -q "^198\.18\.1\.1 .*\"GET /big HTTP/1\.1\" 200" "$work/$served.log" ||
		fail "fetch $1: $served did not log the client's address: $(cat "$work/$served.log")"
	echo "$served"
}

first=$(download 1)
second=$(download 2)
[ "$first" != "$second" ] || fail "round robin sent both connections to $first"

# stats N: field N of `batonctl -j stats` in namespace NS.
stat() {
	bctl "$1" -j stats | jq -er ".\"$2\""
}

active_is() {
	[ "$(stat "$1" active)" = "$2" ]
}

# Closed connections leave no state, on any node.
for ns in fe be1 be2; do
	wait_for -t 15 active_is "$ns" 0 || fail "$ns still has $(stat "$ns" active) connections"
done
# While a connection is open, both ends list it: the client asks, gets
# its answer and keeps its side open until the checks below are done
# (each batonctl takes seconds on a busy host or the debug kernel): socat
# keeps the connection for -t seconds after the server's FIN, and closes
# it once its input ends too.
(
	printf 'GET /name HTTP/1.0\r\nHost: x\r\n\r\n'
	for _ in $(seq $((300 * BATON_SLOW))); do
		[ ! -e "$work/release" ] || break
		sleep 0.2
	done
) | ns_exec cl timeout $((90 * BATON_SLOW)) socat -t $((60 * BATON_SLOW)) - "TCP:$vip:$port" >"$work/held" &
held_pid=$!
forwarding() {
	bctl fe -j conn list | jq -e '.total == 1 and .conns[0].state == "forwarding"' >/dev/null
}
wait_for -t 20 forwarding || fail "front-end does not list the open connection"
bctl fe conn list
conn=$(bctl fe -j conn list | jq -c '.conns[0] | [.role, .state, .client, .vip, .peer]')
[[ $conn == '["front","forwarding","198.18.1.1:'*'","198.18.1.100:80",'[23]']' ]] ||
	fail "front-end conn list: $conn"
# The state of one handed-off connection: one 128-byte table node beside
# the 4096 buckets of the IPv4 table and the 1024 of the IPv6 one (base
# kernel; lock debugging makes the node larger).
if ((BATON_SLOW == 1)); then
	check_eq "front-end memory with one connection" "$(stat fe memory)" $((4096 * 8 + 1024 * 8 + 128))
fi
served_by=$(bctl fe -j conn list | jq -r '.conns[0].peer')
be="be$((served_by - 1))"
bctl "$be" conn list
conn=$(bctl "$be" -j conn list | jq -c '.conns[0] | [.role, .state, .client, .vip, .peer]')
[[ $conn == '["back","established","198.18.1.1:'*'","198.18.1.100:80",1]' ]] ||
	fail "back-end conn list: $conn"
touch "$work/release"
wait "$held_pid" || fail "held connection failed"
grep -qx "$be" "$work/held" || fail "held connection: want $be's name, got $(cat "$work/held")"

for ns in fe be1 be2; do
	wait_for -t 15 active_is "$ns" 0 || fail "$ns still has $(stat "$ns" active) connections"
done

# Drain: a kept-alive connection gets its first answer; its back-end's
# weight goes to 0 (backend set); new connections go to the other one,
# also those a rule sends to the drained one; the kept-alive connection's
# second request is still served where it was.
cat >"$work/ka.py" <<'PY'
import os, socket, sys, time
vip, port, release = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection((vip, port), timeout=60)
f = s.makefile("rb")
def get(path):
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert f.readline().startswith(b"HTTP/1.1 200"), "status"
    length = None
    while (line := f.readline()) not in (b"\r\n", b""):
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    return f.read(length).decode().strip()
print(get(b"/name"), flush=True)
deadline = time.time() + 120
while not os.path.exists(release) and time.time() < deadline:
    time.sleep(0.1)
print(get(b"/name"), flush=True)
PY
rm -f "$work/release"
ns_exec cl timeout $((150 * BATON_SLOW)) python3 "$work/ka.py" "$vip" "$port" "$work/release" >"$work/ka" &
ka_pid=$!
first_answered() {
	[ -s "$work/ka" ]
}
wait_for -t 30 first_answered || fail "kept-alive connection: no first answer"
drained=$(head -n 1 "$work/ka")
case $drained in
be1) drained_addr=198.18.1.3 other=be2 ;;
be2) drained_addr=198.18.1.4 other=be1 ;;
*) fail "kept-alive connection: first answer '$drained'" ;;
esac
bctl fe backend set "$vip:$port" "$drained_addr:$be_port" weight 0
bctl fe rule add "$vip:$port" path /name to "$drained_addr:$be_port"
bctl fe service list
weight_active() {
	bctl fe -j service list | jq -c --arg a "$drained_addr" \
		'.[0].backends[] | select(.addr == $a) | [.weight, .active]'
}
check_eq "drained back-end: weight 0, its connection still active" "$(weight_active)" '[0,1]'
for n in 1 2 3 4; do
	got=$(ns_exec cl timeout 30 curl -sS --max-time 20 "http://$vip:$port/name") ||
		fail "new connection $n while draining: curl failed"
	check_eq "new connection $n while $drained drains (a rule names it)" "$got" "$other"
done
touch "$work/release"
wait "$ka_pid" || fail "kept-alive connection failed"
check_eq "kept-alive connection's answers" "$(tr '\n' ' ' <"$work/ka")" "$drained $drained "
check_eq "requests the drained back-end logged from the kept-alive client" \
	"$(grep -c '^198\.18\.1\.1 .*"GET /name HTTP/1\.1" 200' "$work/$drained.log")" 2
for ns in fe be1 be2; do
	wait_for -t 15 active_is "$ns" 0 || fail "$ns still has $(stat "$ns" active) connections"
done
check_eq "drained back-end: no connection left" "$(weight_active)" '[0,0]'
bctl fe rule del "$vip:$port" 0
bctl fe backend set "$vip:$port" "$drained_addr:$be_port" weight 1
check_eq "weight back to 1" "$(weight_active)" '[1,0]'

check_eq "front-end handoffs ok" "$(stat fe handoffs-ok)" 8
check_eq "front-end handoffs refused+failed" \
	$(($(stat fe handoffs-refused) + $(stat fe handoffs-failed))) 0
check_eq "connections taken by the back-ends" $(($(stat be1 taken) + $(stat be2 taken))) 8
bctl fe stats

bctl fe status
dmesg | grep "baton:" | tail -20
baton_unload
log "all checks passed"
