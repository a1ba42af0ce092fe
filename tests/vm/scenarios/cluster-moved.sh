#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A connection that the upstream moves to another front-end while its
# owner is still handing it off (issue 15, point 5): namespaces in one
# guest, two front-ends in a group (copies 1), one back-end. The client's
# route to the VIP goes through front-end 1, which accepts the connection
# and reads its request; it withholds the request's acknowledgement until
# its backup holds a copy, and its frames to front-end 2 take 2 s (netem
# on the control link between the two).
# Meanwhile the route moves to front-end 2, the member ranked first for
# the connection (its client port chosen with `cluster rank`), so that
# the client's retransmission of the request reaches a member that has
# neither the connection nor its copy yet (as when a client's rehashed
# retransmission takes another ECMP path). Checks:
#   - front-end 2 holds the retransmissions (held) instead of letting its
#     stack reset the connection, forwards them from the copy once it
#     comes, and takes the connection over (promoted, "took over 1
#     connections whose packets reach this node");
#   - the client gets the whole answer byte-exact, no RST segment from the
#     VIP and no reset in its TCP counters;
#   - once the client is done no flow or copy is left on any node;
#   - bare ACKs of connections nobody has, 1000 from as many client ports
#     through front-end 2 (a flood anyone can send): front-end 2 holds
#     those it ranks first for up to its share of the holding area, 256,
#     drops the rest of them (held-dropped) and passes the others to
#     front-end 1 (relayed), every packet counted once; held-awaiting
#     shows the 256 until they are freed 10 s after they came; then
#     another 1000 find the share free again;
#   - front-end 1's frames to front-end 2 cut while bare ACKs of unknown
#     connections go through front-end 2 every 5 ms: those it passes to
#     front-end 1 from 100 ms after front-end 1's last frame (suspect) are
#     kept, and passed again once front-end 1 has been silent for 250 ms
#     (relayed-again, at least one, at most the packets relayed
#     meanwhile); its frames back, nothing is kept (held-now 0);
#   - the same again for an IPv6 service of the same front-ends (VIP6
#     2001:db8:2::100, the LAN's 2001:db8:1::/64): the IPv6 path holds
#     and forwards the same way, no reset (TCP counters).
#
# guests: 1
# memory: 512M
# timeout: 300
#
#                      switch ns "sw" (br0)           198.18.1.0/24
#      /                  |                     |                   \
#   cl .1              fe1 .2 node 1         fe2 .3 node 2        be .4 node 3
#   VIP via fe1,       VIP on lo             VIP on lo            httpd.py :8080
#   then via fe2         | cf1 198.18.3.1/30 -- cf2 198.18.3.2/30 |
#                          (control link, netem delay 2 s at cf1)
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip tc python3 sha256sum tcpdump jq

readonly vip=198.18.2.100 client=198.18.1.1 be=198.18.1.4 size=200000
readonly vip6=2001:db8:2::100 client6=2001:db8:1::1 be6=2001:db8:1::4
# The client retransmits its request 1 s after it sent it (the route's
# rto_min), before front-end 1's copy reaches front-end 2 (2 s).
readonly rto=$((1000 * BATON_SLOW)) delay=$((2000 * BATON_SLOW))
work=$(mktemp -d)
defer rm -rf "$work"

baton_load
lan_setup 1 sw cl fe1 fe2 be
addr() { lan_addr 1 $(($1 + 1)); }
lan6() { echo "2001:db8:1::$1"; }
i=1
for ns in cl fe1 fe2 be; do
	ip -n "$ns" addr add "$(lan6 $i)/64" dev eth0 nodad
	i=$((i + 1))
done
for fe in fe1 fe2; do
	ip -n "$fe" addr add "$vip/32" dev lo
	ip -n "$fe" addr add "$vip6/128" dev lo
	baton_forwarder "$fe"
	ns_exec "$fe" sysctl -qw net.ipv6.conf.all.forwarding=1
done
# The front-ends' channel on a link of its own, so that front-end 1's
# frames to front-end 2, and nothing else, can be delayed.
ip link add cf1 netns fe1 type veth peer name cf2 netns fe2
ip -n fe1 addr add 198.18.3.1/30 dev cf1
ip -n fe2 addr add 198.18.3.2/30 dev cf2
ip -n fe1 link set cf1 up
ip -n fe2 link set cf2 up
# No tail loss probe: the request goes again only at the RTO, after the
# route moved.
ns_exec cl sysctl -qw net.ipv4.tcp_early_retrans=0

# fe1 waits for its backup's COPY_ACK up to half its handoff timeout;
# heartbeats that take 2 s must not end the channel.
for i in 1 2 3; do
	ns=fe$i
	((i == 3)) && ns=be
	bctl "$ns" config set node-id "$i" key "$BATON_TEST_KEY" heartbeat-timeout-ms $((20000 * BATON_SLOW)) \
		handoff-timeout-ms $((12000 * BATON_SLOW))
done
bctl fe1 peer add 2 198.18.3.2
bctl fe2 peer add 1 198.18.3.1
for i in 1 2; do
	bctl "fe$i" peer add 3 "$be"
	bctl be peer add "$i" "$(addr "$i")"
done
bctl fe1 cluster add 2
bctl fe2 cluster add 1
for fe in fe1 fe2; do
	wait_for -t $((30 * BATON_SLOW)) sh -c "ip netns exec $fe $BATONCTL -j cluster show |
		jq -e '[.members[] | select(.state != \"down\")] | length == 2' >/dev/null &&
		ip netns exec $fe $BATONCTL -j cluster show | jq -e 'all(.members[] | select(.state == \"self\"); .synced)' >/dev/null" ||
		fail "$fe: the group is not synced: $(bctl "$fe" cluster show)"
done

mkdir "$work/www"
head -c "$size" /dev/urandom >"$work/www/file"
ns_exec be python3 "$BATON_REPO/tests/vm/tools/httpd.py" "$be" 8080 "$work/www" >"$work/httpd.log" 2>&1 &
defer kill $!
ns_exec be python3 "$BATON_REPO/tests/vm/tools/httpd.py" "$be6" 8080 "$work/www" >"$work/httpd6.log" 2>&1 &
defer kill $!
wait_listen be 8080
for fe in fe1 fe2; do
	bctl "$fe" service add "$vip:80"
	bctl "$fe" backend add "$vip:80" "$be:8080" peer 3
	bctl "$fe" service add "[$vip6]:80"
	bctl "$fe" backend add "[$vip6]:80" "[$be6]:8080" peer 3
	wait_listen "$fe" 80
done

# fe1's frames to fe2 (its copy, its REPLICA, its heartbeats) take 2 s.
tc -n fe1 qdisc add dev cf1 root netem delay "${delay}ms"

# moved VIP CLIENT VIA1 VIA2: one connection from CLIENT to VIP through
# front-end 1 (its address VIA1), moved to front-end 2 (VIA2) once its
# request is sent; the checks above.
moved() {
	local dst=$1 src=$2 via1=$3 via2=$4 ip=ip port="" p h0 p0 r0 pid got want held ns
	local svc=$dst:80 from=$src
	if [[ $dst == *:* ]]; then
		ip="ip -6" svc="[$dst]:80" from="[$src]"
	fi
	# A client port whose connection ranks front-end 2 first: it holds
	# the connection's copy.
	for p in $(seq 40000 40063); do
		if [ "$(bctl fe2 -j cluster rank "$from:$p" "$svc" | jq '.ranking[0]')" = 2 ]; then
			port=$p
			break
		fi
	done
	[ -n "$port" ] || fail "no client port in 40000-40063 ranks front-end 2 first for $svc"
	log "$svc, client port $port: ranking $(bctl fe1 -j cluster rank "$from:$port" "$svc" | jq -c .ranking)"
	$ip -n cl route add "$dst" via "$via1" rto_min "${rto}ms"
	h0=$(baton_stat fe2 held)
	p0=$(baton_stat fe2 promoted)
	r0=$(tcp_resets cl)
	rm -f "$work/sent" "$work/got"
	ns_exec cl python3 - "$src" "$port" "$dst" "$work/sent" "$work/got" <<'EOF' &
import hashlib, socket, sys
client, port, vip, sent, got = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
s = socket.socket(socket.AF_INET6 if ":" in vip else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((client, port))
s.settimeout(60)
s.connect((vip, 80))
s.sendall(b"GET /file HTTP/1.1\r\nHost: moved\r\nConnection: close\r\n\r\n")
open(sent, "w").close()
data = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    end = "eof"
except OSError as e:
    end = repr(e)
body = data.split(b"\r\n\r\n", 1)[-1]
with open(got, "w") as f:
    f.write(f"{hashlib.sha256(body).hexdigest()} {len(body)} {end}\n")
EOF
	pid=$!
	wait_for -t $((10 * BATON_SLOW)) test -e "$work/sent" || fail "$svc: the client did not send its request"
	$ip -n cl route replace "$dst" via "$via2" rto_min "${rto}ms"
	log "$svc: the route to the VIP moved to front-end 2"
	wait "$pid" || fail "$svc: the client failed"
	got=$(cat "$work/got")
	want=$(sha256sum <"$work/www/file" | cut -d' ' -f1)
	check_eq "$svc: the answer (sha256, bytes, end)" "$got" "$want $size eof"
	check_eq "$svc: client connections reset" "$(tcp_resets cl)" "$r0"
	held=$(($(baton_stat fe2 held) - h0))
	((held >= 1)) || fail "$svc: front-end 2 held none of the connection's packets"
	check_eq "$svc: connections front-end 2 took over" "$(($(baton_stat fe2 promoted) - p0))" 1
	log "ok: $svc: front-end 2 held $held packets of the connection until its copy came, and took it over"
	$ip -n cl route del "$dst"
	for ns in fe1 fe2 be; do
		wait_for -t $((30 * BATON_SLOW)) sh -c "[ \$(ip netns exec $ns $BATONCTL -j stats | jq '.active + .common') -eq 0 ]" ||
			fail "$svc: $ns keeps $(baton_stat "$ns" active) flows and $(baton_stat "$ns" common) copies"
	done
	log "ok: $svc: no flow or copy left"
}

rst_watch cl "src host $vip" "$work/rst.pcap"
moved "$vip" "$client" "$(addr 1)" "$(addr 2)"
rst_none "$work/rst.pcap"
dmesg | grep -qE "node 2: front-end group epoch [0-9]+: took over 1 connections whose packets reach this node" ||
	fail "no 'took over ... whose packets reach this node' line in dmesg"

# junk SEED: the flood of bare ACKs above, through front-end 2; what it
# held, dropped and relayed of them.
readonly junk=1000 share=256
# junk_counts: front-end 2's held, held-dropped and relayed counters.
junk_counts() {
	bctl fe2 -j stats | jq -r '"\(.held) \(."held-dropped") \(.relayed)"'
}
# junk_done H D R: whether the counters have grown by the whole flood
# (raw sends are received asynchronously).
junk_done() {
	local h d r
	read -r h d r <<<"$(junk_counts)"
	((h - $1 + d - $2 + r - $3 >= junk))
}
junk() {
	local h0 d0 r0 h d r held dropped relayed
	read -r h0 d0 r0 <<<"$(junk_counts)"
	log "$(ns_exec cl python3 "$BATON_REPO/tests/vm/tools/clients.py" junkacks "$client" "$vip" 80 "$junk" "$1")"
	wait_for -t $((10 * BATON_SLOW)) junk_done "$h0" "$d0" "$r0" || true
	read -r h d r <<<"$(junk_counts)"
	held=$((h - h0)) dropped=$((d - d0)) relayed=$((r - r0))
	log "junk ACKs (seed $1): front-end 2 held $held, dropped $dropped, relayed $relayed"
	check_eq "junk ACKs held, dropped or relayed by front-end 2" "$((held + dropped + relayed))" "$junk"
	check_eq "junk ACKs held by front-end 2 (its share of the holding area)" "$held" "$share"
	((dropped >= 1)) || fail "front-end 2 ranks first for only $held of the junk ACKs: the share is not tested"
	check_eq "front-end 2: packets awaiting a copy (held-awaiting)" "$(baton_stat fe2 held-awaiting)" "$share"
}
ip -n cl route add "$vip" via "$(addr 2)"
junk 1
t_junk=$SECONDS
# The share's packets leave the area 10 s after they came (the collector
# runs every 250 ms), not before 5 s (their connections' wait).
sleep 4
check_eq "front-end 2: packets awaiting a copy 4 s later" "$(baton_stat fe2 held-awaiting)" "$share"
wait_for -t 20 sh -c "[ \$(ip netns exec fe2 $BATONCTL -j stats | jq '.\"held-awaiting\"') -eq 0 ]" ||
	fail "front-end 2 still holds $(baton_stat fe2 held-awaiting) packets awaiting a copy"
log "ok: front-end 2's packets awaiting a copy freed $((SECONDS - t_junk)) s after the flood"
junk 2
ip -n cl route del "$vip"
log "ok: packets of unknown connections kept to their share of the holding area, and freed"

moved "$vip6" "$client6" "$(lan6 2)" "$(lan6 3)"

tc -n fe1 qdisc del dev cf1 root

# Front-end 1 silent to front-end 2 (its frames on the control link
# dropped) while bare ACKs of connections nobody has come through front-end
# 2 every 5 ms: those front-end 2 ranks front-end 1 first for go there.
ip -n cl route add "$vip" via "$(addr 2)"
a0=$(baton_stat fe2 relayed-again)
r0=$(baton_stat fe2 relayed)
ns_exec cl python3 "$BATON_REPO/tests/vm/tools/clients.py" junkacks "$client" "$vip" 80 400 3 5 >"$work/junk3" 2>&1 &
junk3=$!
# Once front-end 2 passes them on, the frames stop.
wait_for -t $((20 * BATON_SLOW)) sh -c "[ \$(ip netns exec fe2 $BATONCTL -j stats | jq .relayed) -ge $((r0 + 5)) ]" ||
	fail "front-end 2 relayed none of the junk ACKs: $(cat "$work/junk3")"
tc -n fe1 qdisc add dev cf1 root netem loss 100%
wait "$junk3" || fail "junk ACKs: $(cat "$work/junk3")"
tc -n fe1 qdisc del dev cf1 root
again=$(($(baton_stat fe2 relayed-again) - a0))
relayed=$(($(baton_stat fe2 relayed) - r0))
log "front-end 1 silent: front-end 2 relayed $relayed junk ACKs, $again of them again"
((again >= 1)) || fail "front-end 2 passed none of the packets it relayed to a silent front-end 1 again"
((again <= relayed)) || fail "front-end 2 passed $again packets again, more than the $relayed it relayed"
wait_for -t $((10 * BATON_SLOW)) sh -c "[ \$(ip netns exec fe2 $BATONCTL -j stats | jq '.\"held-now\" - .\"held-awaiting\"') -eq 0 ]" ||
	fail "front-end 2 keeps $(baton_stat fe2 held-now) packets once front-end 1 is heard again"
ip -n cl route del "$vip"
log "ok: packets relayed to a silent member passed again"

baton_unload
log "all checks passed"
