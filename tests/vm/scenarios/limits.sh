#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Limits on the front-end, against clients that never finish their request
# (slowloris) and a SYN flood on the VIP; namespaces in one guest. Checks:
#   - 500 connections that send nothing or half a request head wait on the
#     service workers' lists (stats: waiting 500, memory up by their
#     2 KiB first buffers) without holding a worker: up to 20 real clients meanwhile (at least
#     3, as many as end before the first slow ones time out; 20 /
#     BATON_SLOW on a slower kernel) all get their page, byte-exact;
#   - 700 such connections (512 + 188 / BATON_SLOW on a slower kernel):
#     the lists hold 512, the longest waiting ones are handed off early
#     (stats: hurried), real clients still served;
#   - once the slow clients close, nothing waits any more;
#   - 20000 spoofed SYNs on the VIP create no baton state (active and
#     memory unchanged: baton tracks only accepted connections; the
#     listener answers with SYN cookies), and a real client is served;
#   - a back-end whose server accepts slowly (listen backlog 1) and 24
#     clients at once: each served byte-exact or reset, none left
#     waiting;
#   - a service with max-conns 3: a fourth client at once is reset
#     (handoffs-refused), one after a client left is served; service list,
#     -j and save show the limit;
#   - baton.ko loaded with conn_max=3: the front-end's table holds three
#     flows, a fourth client at once is reset (handoffs-failed) while the
#     three go on, one after a client left is served.
#
# guests: 1
# memory: 1024M
# timeout: 300
#
#                switch ns "sw" (br0)              198.18.5.0/24
#        /             |                |              \
#   cl .1 curl    fe .2 (VIP .100)    be1 .3 httpd     at .4 slow clients,
#                 node 1              node 2           spoofed SYNs (198.18.6.0/24)
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip curl python3 sha256sum jq nstat

readonly vip=198.18.5.100 port=80 be_port=8080
readonly clients="$BATON_REPO/tests/vm/tools/clients.py"
work=$(mktemp -d)
defer rm -rf "$work"

baton_load
lan_setup 5 sw cl fe be1 at
baton_frontend fe "$vip"
mkdir -p "$work/www"
head -c 102400 /dev/urandom >"$work/www/page"
want=$(sha256sum <"$work/www/page" | cut -d' ' -f1)
ns_exec be1 python3 "$BATON_REPO/tests/vm/tools/httpd.py" 198.18.5.3 "$be_port" "$work/www" \
	>"$work/be1.log" 2>&1 &
defer kill $!
wait_listen be1 "$be_port" 120
baton_star fe 198.18.5.2 be1 198.18.5.3
# Slow clients hold their connections $hold s after the last one opened,
# within the request timeout (30 s, the most allowed on a slower kernel:
# 60 s; where opening takes longer, the first opened reach their timeout
# before then and are handed off, after the requests that came). Real
# clients fetch while they all wait, up to 20 (20 / BATON_SLOW on a
# slower kernel), each starting only if it can end before the first
# opened reach their timeout: the handoffs of hundreds of slow clients
# timing out together take the guest's CPU, which every process then
# waits for (on the debug kernel for a minute; a fetch takes 0.7 s on a
# quiet host, 2.6 s on a loaded one).
req_ms=$((30000 * BATON_SLOW))
((req_ms <= 60000)) || req_ms=60000
readonly req_ms hold=$((req_ms / 1000 - 5)) nreal=$((20 / BATON_SLOW))
bctl fe config set request-timeout-ms "$req_ms"
bctl fe service add "$vip:$port"
bctl fe backend add "$vip:$port" "198.18.5.3:$be_port" peer 2
wait_listen fe "$port"

# fetch N TAG [SINCE]: N real clients fetch the page one after the
# other, each within 5 s (times BATON_SLOW), byte-exact. With SINCE (the
# `date +%s` before slow clients began to open), a fetch starts only if
# its limit ends before the first of them reaches the request timeout,
# and at least 3 must have been served by then.
fetch() {
	local i sum limit=$((5 * BATON_SLOW)) end=
	[ $# -lt 3 ] || end=$(($3 + req_ms / 1000))
	for ((i = 0; i < $1; i++)); do
		if [ -n "$end" ] && (($(date +%s) + limit > end)); then
			((i >= 3)) || fail "$2: only $i real clients before the slow ones time out"
			break
		fi
		ns_exec cl curl -sS --max-time "$limit" -o "$work/out" "http://$vip/page" ||
			fail "$2: real client $i not served within $limit s"
		sum=$(sha256sum <"$work/out" | cut -d' ' -f1)
		check_eq "$2: page $i" "$sum" "$want" >/dev/null
	done
	log "$2: $i real clients served, byte-exact"
}

fetch 3 baseline
mem0=$(baton_stat fe memory)
check_eq "waiting before" "$(baton_stat fe waiting)" 0

# 500 slow clients: they wait on the lists, real clients do not.
since=$(date +%s)
ns_exec at timeout $((120 * BATON_SLOW)) python3 "$clients" slowloris "$vip" "$port" 500 "$hold" >"$work/slow1" 2>&1 &
slow=$!
wait_for -t $((30 * BATON_SLOW)) sh -c "[ \$(ip netns exec fe $BATONCTL -j stats | jq .waiting) -ge 500 ]" ||
	fail "500 slow clients not all waiting: $(baton_stat fe waiting) (slowloris: $(cat "$work/slow1"))"
check_eq "waiting with 500 slow clients" "$(baton_stat fe waiting)" 500
check_eq "hurried with 500 slow clients" "$(baton_stat fe hurried)" 0
mem1=$(baton_stat fe memory)
# Half a head each: a 2 KiB buffer (and its list entry), not the 16 KiB limit.
check_ge "memory grew by the waiting requests" "$((mem1 - mem0))" $((500 * 2048))
check_le "memory of the waiting requests, first buffers only" "$((mem1 - mem0))" $((500 * 4096))
log "memory: $mem0 bytes before, $mem1 with 500 waiting"
fetch "$nreal" "500 slow clients" "$since"
log "after the real clients: waiting $(baton_stat fe waiting)"
wait "$slow" || fail "slowloris: $(cat "$work/slow1")"
log "slowloris: $(cat "$work/slow1")"
wait_for -t $((20 * BATON_SLOW)) sh -c "[ \$(ip netns exec fe $BATONCTL -j stats | jq .waiting) -eq 0 ]" ||
	fail "slow clients closed, still waiting: $(baton_stat fe waiting)"

# More slow clients than a service's lists hold (512): 700, or fewer on
# a slower kernel, where each early handoff takes a fifth of a second and
# all must open before the first ones time out.
readonly over=$((188 / BATON_SLOW))
readonly nslow=$((512 + over))
since=$(date +%s)
ns_exec at timeout $((120 * BATON_SLOW)) python3 "$clients" slowloris "$vip" "$port" "$nslow" "$hold" \
	>"$work/slow2" 2>&1 &
slow=$!
wait_for -t $((30 * BATON_SLOW)) sh -c "[ \$(ip netns exec fe $BATONCTL -j stats | jq .hurried) -ge $over ]" ||
	fail "lists did not overflow: hurried $(baton_stat fe hurried), waiting $(baton_stat fe waiting)"
waiting=$(baton_stat fe waiting)
((waiting <= 512)) || fail "waiting $waiting > 512"
log "$nslow slow clients: waiting $waiting, hurried $(baton_stat fe hurried)"
fetch "$nreal" "$nslow slow clients" "$since"
wait "$slow" || fail "slowloris: $(cat "$work/slow2")"
wait_for -t $((20 * BATON_SLOW)) sh -c "[ \$(ip netns exec fe $BATONCTL -j stats | jq .waiting) -eq 0 ]" ||
	fail "slow clients closed, still waiting: $(baton_stat fe waiting)"

# SYN flood from spoofed addresses; their SYN/ACKs go to `at`, which drops
# them.
ns_exec fe ip route add 198.18.6.0/24 via 198.18.5.4
# Active flows and memory from one reply, whose memory the kernel computes
# from the same count: two replies could straddle a flow's end.
read -r active0 mem0 <<<"$(bctl fe -j stats | jq -r '"\(.active) \(.memory)"')"
cookies0=$(ns_exec fe nstat -az TcpExtSyncookiesSent | awk '/TcpExtSyncookiesSent/ {print $2}')
ns_exec at timeout $((60 * BATON_SLOW)) python3 "$clients" synflood 198.18.6 "$vip" "$port" 20000 >"$work/flood" 2>&1 ||
	fail "SYN flood: $(cat "$work/flood")"
log "SYN flood: $(tail -n 1 "$work/flood")"
fetch 3 "after the SYN flood"
cookies=$(ns_exec fe nstat -az TcpExtSyncookiesSent | awk '/TcpExtSyncookiesSent/ {print $2}')
check_ge "SYN cookies sent by the VIP's listener" "$((cookies - cookies0))" 1
# The 3 fetches add 3 connections at most, until they close.
# The first reply with no more flows than before; its memory, of the
# same count, is compared.
_flows_back() {
	bctl fe -j stats >"$work/stats.after"
	(($(jq .active "$work/stats.after") <= active0))
}
wait_for -t $((20 * BATON_SLOW)) _flows_back ||
	fail "baton state after the SYN flood: active $(jq .active "$work/stats.after"), before $active0"
mem=$(jq .memory "$work/stats.after")
((mem <= mem0)) || fail "memory after the SYN flood: $mem bytes, before $mem0"

# A back-end whose server accepts slowly (a listen backlog of 1, one
# connection every 0.2 s) while 24 clients come at once: its listener drops
# SYNs while its accept queue is full (the replay sends the SYN again), and
# could drop an ACK that ends a handshake, the queue filled between the
# SYN/ACK and the ACK (the replay then sends the ACK and the request again
# until the server's socket exists; on this guest's one CPU a replay's
# SYN, SYN/ACK and ACK follow each other too closely for that). Every
# client is served byte-exact, or reset once the back-end gave up on it
# (its queue still full after the replay's timeout), none left waiting.
ns_exec be1 python3 - 198.18.5.3 8090 >"$work/slow-accept.log" 2>&1 <<'PY' &
import socket, sys, time

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
body = b"a" * 1200
while True:
    c, _ = s.accept()
    c.settimeout(5)
    try:
        head = b""
        while b"\r\n\r\n" not in head:
            got = c.recv(4096)
            if not got:
                break
            head += got
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1200\r\nConnection: close\r\n\r\n" + body)
    except OSError:
        pass
    c.close()
    time.sleep(0.2)
PY
defer kill $!
wait_listen be1 8090
bctl fe service add "$vip:90"
bctl fe backend add "$vip:90" "198.18.5.3:8090" peer 2
wait_listen fe 90
head -c 1200 /dev/zero | tr '\0' a >"$work/sa.want"
overflows() {
	ns_exec be1 nstat -az TcpExtListenOverflows | awk '/ListenOverflows/ {print $2}'
}
overflows0=$(overflows)
for i in $(seq 1 24); do
	(
		rc=0
		ns_exec cl curl -sS --max-time $((30 * BATON_SLOW)) -o "$work/sa.$i" "http://$vip:90/" \
			2>"$work/sa.err.$i" || rc=$?
		echo "$rc" >"$work/sa.rc.$i"
	) &
	echo $! >>"$work/sa.pids"
done
wait_all "$work/sa.pids" || true
served=0 reset=0
for i in $(seq 1 24); do
	rc=$(cat "$work/sa.rc.$i")
	case $rc in
	0)
		cmp -s "$work/sa.$i" "$work/sa.want" || fail "slow accept: client $i served other bytes"
		served=$((served + 1))
		;;
	7 | 52 | 56) reset=$((reset + 1)) ;;
	*) fail "slow accept: client $i: curl exit $rc (hung or broken): $(cat "$work/sa.err.$i")" ;;
	esac
done
log "slow accept: $served of 24 clients served, $reset reset; be1's listener overflowed $(($(overflows) - overflows0)) times"
check_ge "slow accept: clients served" "$served" 2
bctl fe service del "$vip:90"

# held_clients PORT: three clients served and held, a fourth reset, then
# one more served after one of the three left.
held_clients() {
	ns_exec cl timeout $((60 * BATON_SLOW)) python3 - "$vip" "$1" <<'PY'
import socket, sys, time

addr = (sys.argv[1], int(sys.argv[2]))

def get(s):
    s.sendall(b"GET /gen/1000 HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < 1000:
        chunk = s.recv(65536)
        if not chunk:
            return False
        data += chunk
    return True

held = []
for i in range(3):
    s = socket.create_connection(addr, timeout=10)
    assert get(s), f"client {i} not served"
    held.append(s)
s = socket.create_connection(addr, timeout=10)
try:
    served = get(s)
except ConnectionResetError:
    served = False
assert not served, "a fourth client was served past the limit"
print("fourth client reset", flush=True)
for i, h in enumerate(held):
    assert get(h), f"held client {i} not served again"
held.pop().close()
time.sleep(4)
s = socket.create_connection(addr, timeout=10)
assert get(s), "a client after one left was not served"
print("client after one left served")
PY
}

# A service with max-conns 3: a fourth client at once is reset, a client
# after one of the three left is served.
bctl fe service add "$vip:81" max-conns 3
bctl fe backend add "$vip:81" "198.18.5.3:$be_port" peer 2
check_eq "max-conns listed" "$(bctl fe -j service list | jq -c '.[] | select(.port == 81) | ."max-conns"')" 3
bctl fe service list | grep -q "^TCP  $vip:81 lc max-conns 3\$" || fail "service list: no max-conns 3"
bctl fe save | grep -q "^service add $vip:81 scheduler lc max-conns 3\$" || fail "save: no max-conns 3"
wait_listen fe 81
refused0=$(baton_stat fe handoffs-refused)
held_clients 81 || fail "max-conns client check failed"
check_eq "refusals counted" "$(($(baton_stat fe handoffs-refused) - refused0))" 1

# The table's own limit: conn_max flows per namespace.
baton_unload
baton_load conn_max=3
baton_star fe 198.18.5.2 be1 198.18.5.3
bctl fe service add "$vip:$port"
bctl fe backend add "$vip:$port" "198.18.5.3:$be_port" peer 2
wait_listen fe "$port"
failed0=$(baton_stat fe handoffs-failed)
held_clients "$port" || fail "conn_max client check failed"
check_eq "table-full refusals counted" "$(($(baton_stat fe handoffs-failed) - failed0))" 1

baton_unload
echo "limits: ok"
