#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Three front-ends behind a router's ECMP route, one of them crashes
# mid-transfer (issue 15, points 3, 5 and 7, and its first test);
# namespaces in one guest. The router reaches the VIP through a resilient
# nexthop group of the three front-ends (L4 hash), as an operator would
# set it up without BGP; with BATON_ECMP_BGP=1 (cluster-bgp.sh) it learns
# the route instead from Debian's FRR: bgpd and zebra on the router and
# on each front-end, which announces the VIP (hold time 3 s), and zebra
# installs a plain multipath route (hash-threshold: a removed nexthop
# moves other front-ends' connections too). The front-ends form a group:
# with ECMP, `copies 1` (the default: each connection's copy on its HRW
# backup), and a member that gets packets of a connection it has no state
# for passes them to the member ranked first for it (point 5); with BGP,
# `copies all`, so that each keeps a copy of every connection the others
# forward. Checks:
#   - 20 downloads and 5 uploads spread over the three front-ends; once
#     each front-end forwards its share, the others keep one copy of each
#     (ECMP: one in all; BGP: each of the two others, stats common);
#   - (ECMP) the router sends every packet to front-end 3 for a while (a
#     plain route replaces the nexthop group, which comes back after): 3
#     forwards the connections it keeps a copy of from the copy (and
#     takes them over), and passes the packets of the others to the member
#     ranked first for them (relayed, none failed); an ICMP "fragmentation needed" about a
#     connection front-end 1 forwards, sent by the router to the VIP,
#     reaches front-end 3, which passes it on to front-end 1, which
#     passes it to the connection's back-end (icmp-forwarded on 1);
#   - (ECMP) the same for an IPv6 service (VIP6 behind a nexthop group of
#     its own): 16 kept-alive IPv6 connections, copied as the rest, ask
#     again while every packet goes to front-end 3, every answer exact;
#     fe3 passes the packets of those it has no state for to the member's
#     link-layer address (captured on 1 and 2), and a "packet too big"
#     about each of 1 and 2's reaches a back-end;
#   - (BGP) the router's route has the three front-ends as nexthops;
#   - front-end 1 crashes (its link cut and its nexthop removed at once;
#     with BGP its link cut, and the router's hold timer withdraws its
#     route, logged): the router moves its share to 2 and 3, which forward the moved
#     connections' packets from their copies (forwarded-common) at once
#     and take them over, or pass them to the member that holds them;
#     (ECMP) past front-end 1 once it has been silent for 250 ms, so that
#     2 and 3 forward every connection while front-end 1 is still in
#     their views (their heartbeat timeout 10 s for this; `cluster rank`
#     says how many of its connections ranked it first, relay-skipped
#     how many packets went past it);
#     when their views lose front-end 1, the first of each remaining
#     connection's ranking takes it over (promoted, summed over 2 and 3:
#     at least every one of front-end 1's), the back-ends' flows
#     answering to them, and 2 and 3 forward every connection;
#   - every transfer finishes byte-exact (sha256), the client saw no reset
#     (Tcp EstabResets, AttemptFails, RST segments from the VIP); the
#     longest stall of each transfer is logged (time to resume);
#   - once the transfers end nothing is left: no flow on a front-end or a
#     back-end, no copy in a common table (the stale copies of the
#     member that left go with their connections' end);
#   - a new connection after the crash is served;
#   - (ECMP) front-end 2 crashes too while 50 clients connect at once (point 8:
#     handshakes, handoffs (slowed by a 1 s delay on its link) and
#     forwarding under way on it): every client
#     is served byte-exact or reset, none hangs (curl's time limit); the
#     back-ends end the flows nobody took over (their front-end silent
#     and the flow idle for five heartbeat timeouts: the server is reset),
#     so that none is left on any node once the clients are done;
#   - (BGP) front-end 2 leaves gracefully while 16 transfers run (point 6):
#     its bgpd stops, the router withdraws its route, then its namespace
#     is deleted; its channels close and front-end 3 takes its
#     connections over at once; every transfer byte-exact, no reset, no
#     flow or copy left.
# BATON_ECMP_DOWN and BATON_ECMP_UP set the sizes (bytes); make soak runs
# 20 MB each (tests/vm/soak/cluster-ecmp-20m.sh), make check less, paced
# so that every transfer is under way until the takeover is checked; the
# rest then goes at full speed.
#
# guests: 1
# memory: 1024M
# timeout: 600
#
#   cl 198.18.10.2 ---- rt 198.18.10.1 (eth1)
#                       rt 198.18.1.1 (eth0): 198.18.2.100/32 via a
#                       resilient group of fe1, fe2, fe3
#                      switch ns "sw" (br0)           198.18.1.0/24
#      /          |              |              |             \          \
#   rt .1      fe1 .2 node 1  fe2 .3 node 2  fe3 .4 node 3   be1 .5 n4  be2 .6 n5
#              VIP on lo      VIP on lo      VIP on lo       httpd.py :8080
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip tc python3 sha256sum tcpdump jq curl
readonly bgp=${BATON_ECMP_BGP:-0} frr=/usr/lib/frr
((bgp == 0)) || [ -x "$frr/bgpd" ] || skip "no FRR ($frr/bgpd): scripts/deps.sh installs it"

readonly vip=198.18.2.100 client=198.18.10.2
readonly ndown=20 nup=5
# ECMP: an IPv6 service too, and n6 kept-alive IPv6 connections.
readonly vip6=2001:db8:2::100 client6=2001:db8:10::2 n6=$((bgp ? 0 : 16))
readonly down=$((${BATON_ECMP_DOWN:-3000000} / BATON_SLOW)) up=$((${BATON_ECMP_UP:-2000000} / BATON_SLOW))
# The pace: every transfer must still be under way some 25 s after the
# crash, when the takeover is checked, and the guest takes 20 to 35 s to
# start the 25 clients on a quiet host, 72 s beside another scenario (a
# debug kernel some 150 s); 55 s more with ECMP, for the move to front-end
# 3 and its IPv6 requests before the crash (measured: the crash 95 s into
# the transfers, the takeover's check 10 s later). A slow pace costs no
# time: once the checks are done (fast.TAG), the rest goes at full speed.
# Within pace.py's 300 s limit.
secs=$((150 + 40 * (BATON_SLOW - 1) + (bgp ? 0 : 55)))
((secs <= 280)) || secs=280
readonly secs
readonly rate=$((down / secs)) uprate=$((up / secs))
readonly pace="$BATON_REPO/tests/vm/tools/pace.py"
work=$(mktemp -d)
defer rm -rf "$work"
# FRR's daemons drop to user frr.
chmod 755 "$work"

baton_load
ecmp_cluster "$vip" "$client"
# IPv6 (ECMP): switch host .N is 2001:db8:1::N, the client 2001:db8:10::2
# behind the router; VIP6 on the front-ends' lo, routed by a resilient
# group of the three as the VIP is.
lan6() { echo "2001:db8:1::$1"; }
if ((n6)); then
	i=1
	for ns in rt fe1 fe2 fe3 be1 be2; do
		ip -n "$ns" addr add "$(lan6 $i)/64" dev eth0 nodad
		((i == 1)) || ip -n "$ns" route add default via "$(lan6 1)"
		i=$((i + 1))
	done
	ip -n cl addr add "$client6/64" dev eth0 nodad
	ip -n rt addr add 2001:db8:10::1/64 dev eth1 nodad
	ip -n cl route add default via 2001:db8:10::1
	ns_exec rt sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv6.fib_multipath_hash_policy=1
	for i in 1 2 3; do
		ip -n "fe$i" addr add "$vip6/128" dev lo
		ns_exec "fe$i" sysctl -qw net.ipv6.conf.all.forwarding=1
		ip -n rt nexthop add id $((20 + i)) via "$(lan6 $((i + 1)))" dev eth0
	done
	ip -n rt nexthop add id 30 group 21/22/23 type resilient buckets 64
	ip -n rt route add "$vip6/128" nhid 30
fi
# Small client buffers: the servers send as fast as the client reads.
ns_exec cl sysctl -qw net.ipv4.tcp_rmem="4096 65536 131072" net.ipv4.tcp_wmem="4096 65536 131072"
# frr NS AS ID NEIGHBORS [NETWORK]: zebra and bgpd in namespace NS, in
# AS with router id ID, peering with NEIGHBORS (space-separated, AS
# 65000 if NS is a front-end, else 65001), announcing NETWORK.
frr() {
	local ns=$1 as=$2 id=$3 nbrs=$4 net=${5:-} d=$work/frr.$1 nbr
	mkdir -m 777 "$d"
	{
		echo "frr defaults datacenter"
		echo "hostname $ns"
		echo "router bgp $as"
		echo " bgp router-id $id"
		echo " no bgp ebgp-requires-policy"
		for nbr in $nbrs; do
			echo " neighbor $nbr remote-as $([ "$as" = 65000 ] && echo 65001 || echo 65000)"
			echo " neighbor $nbr timers 1 3"
			echo " neighbor $nbr timers connect 1"
		done
		echo " address-family ipv4 unicast"
		[ -z "$net" ] || echo "  network $net"
		echo "  maximum-paths 3"
		echo " exit-address-family"
	} >"$d/bgpd.conf"
	chmod 644 "$d/bgpd.conf"
	ns_exec "$ns" "$frr/zebra" -d -P 0 -i "$d/zebra.pid" -z "$d/zserv.api" --vty_socket "$d" \
		-f /dev/null --log "file:$d/zebra.log"
	defer sh -c "kill \$(cat $d/zebra.pid)"
	wait_for -t $((10 * BATON_SLOW)) test -S "$d/zserv.api" || fail "$ns: zebra did not start: $(cat "$d/zebra.log")"
	ns_exec "$ns" "$frr/bgpd" -d -P 0 -i "$d/bgpd.pid" -z "$d/zserv.api" --vty_socket "$d" \
		-f "$d/bgpd.conf" --log "file:$d/bgpd.log"
	defer sh -c "kill \$(cat $d/bgpd.pid)"
}
# paths: how many nexthops the router's route to the VIP has.
paths() {
	local nh
	nh=$(ip -n rt -j route show "$vip/32" | jq -r '.[0].nhid // empty')
	if [ -n "$nh" ]; then
		ip -n rt -j nexthop show id "$nh" | jq '.[0].group // [0] | length'
	else
		ip -n rt -j route show "$vip/32" | jq 'if length == 0 then 0 else .[0].nexthops // [0] | length end'
	fi
}
paths_are() {
	[ "$(paths)" = "$1" ]
}
if ((bgp)); then
	frr rt 65000 198.18.1.1 "$(lan_addr 1 2) $(lan_addr 1 3) $(lan_addr 1 4)"
	for i in 1 2 3; do
		frr "fe$i" 65001 "$(lan_addr 1 $((i + 1)))" 198.18.1.1 "$vip/32"
	done
	wait_for -t $((60 * BATON_SLOW)) paths_are 3 ||
		fail "the router did not learn 3 paths to $vip: $(ip -n rt route) $(tail -5 "$work/frr.rt/bgpd.log")"
	log "ok: the router learnt the VIP from the three front-ends (BGP): $(ip -n rt route show "$vip/32")"
else
	for i in 1 2 3; do
		ip -n rt nexthop add id "$i" via "$(lan_addr 1 $((i + 1)))" dev eth0
	done
	ip -n rt nexthop add id 10 group 1/2/3 type resilient buckets 64
	ip -n rt route add "$vip/32" nhid 10
fi

head -c "$down" /dev/urandom >"$work/big"
for i in 1 2; do
	mkdir -p "$work/be$i"
	cp "$work/big" "$work/be$i/big"
	httpd_serve "be$i" "$(lan_addr 1 $((i + 4)))" 8080 "$work/be$i"
	((n6 == 0)) || httpd_serve "be$i" "$(lan6 $((i + 4)))" 8080 "$work/be${i}6"
done
downsum=$(sha256sum <"$work/big" | cut -d' ' -f1)
head -c "$up" /dev/urandom >"$work/upload"
upsum=$(sha256sum <"$work/upload" | cut -d' ' -f1)
rm "$work/big"

declare -A node=([fe1]=1 [fe2]=2 [fe3]=3 [be1]=4 [be2]=5)
addr_of() { lan_addr 1 $((node[$1] + 1)); }
for ns in fe1 fe2 fe3 be1 be2; do
	bctl "$ns" config set node-id "${node[$ns]}" key "$BATON_TEST_KEY" heartbeat-timeout-ms 2000
done
# ECMP: the default one copy, and the relays between members; BGP: a
# copy on every member.
copies=1
((bgp == 0)) || copies=all
for fe in fe1 fe2 fe3; do
	bctl "$fe" config set copies "$copies"
	for ns in fe1 fe2 fe3 be1 be2; do
		[ "$ns" = "$fe" ] && continue
		bctl "$fe" peer add "${node[$ns]}" "$(addr_of "$ns")"
		[ "${ns:0:2}" = be ] && bctl "$ns" peer add "${node[$fe]}" "$(addr_of "$fe")"
	done
	for other in fe1 fe2 fe3; do
		[ "$other" = "$fe" ] || bctl "$fe" cluster add "${node[$other]}"
	done
	bctl "$fe" service add "$vip:80" scheduler rr
	bctl "$fe" backend add "$vip:80" "$(addr_of be1):8080" peer 4
	bctl "$fe" backend add "$vip:80" "$(addr_of be2):8080" peer 5
	if ((n6)); then
		bctl "$fe" service add "[$vip6]:80" scheduler rr
		bctl "$fe" backend add "[$vip6]:80" "[$(lan6 5)]:8080" peer 4
		bctl "$fe" backend add "[$vip6]:80" "[$(lan6 6)]:8080" peer 5
	fi
done
check_eq "copies (config show -j)" "$(bctl fe1 -j config show | jq .copies)" "$( ((bgp)) && echo 63 || echo 1)"
for ns in fe1 fe2 fe3 be1 be2; do
	wait_for -t $((30 * BATON_SLOW)) sh -c "ip netns exec $ns $BATONCTL -j peer list | jq -e 'all(.[]; .state == \"up\")' >/dev/null" ||
		fail "$ns: channels not all up"
done
# members FE: the view FE's cluster show reports, "EPOCH [IDS]".
members() {
	bctl "$1" -j cluster show | jq -c '[.epoch, ([.members[] | select(.state != "down") | ."node-id"] | sort)]'
}
agreed() {
	local a
	a=$(members fe1)
	[ "$(jq -c '.[1]' <<<"$a")" = "[1,2,3]" ] && [ "$(members fe2)" = "$a" ] && [ "$(members fe3)" = "$a" ]
}
wait_for -t $((30 * BATON_SLOW)) agreed || fail "the front-ends do not agree on {1,2,3}: $(members fe1) $(members fe2) $(members fe3)"
for fe in fe1 fe2 fe3; do
	wait_listen "$fe" 80
done

resets0=$(tcp_resets cl)
rst_watch cl "host $vip and tcp port 80" "$work/rst.pcap"

# start TAG ND NU: ND downloads and NU uploads, paced, under way in the
# background; their pids in $work/pids.TAG. The pace ends once
# $work/fast.TAG exists (the checks that need them under way are done).
start() {
	local tag=$1 i
	for ((i = 0; i < $2; i++)); do
		ns_exec cl python3 "$pace" --sum --until "$work/fast.$tag" get "$vip" 80 /big "$work/down.$tag.$i" "$rate" \
			>"$work/client.$tag.down.$i" 2>&1 &
		echo $! >>"$work/pids.$tag"
	done
	for ((i = 0; i < $3; i++)); do
		ns_exec cl python3 "$pace" --until "$work/fast.$tag" post "$vip" 80 /up "$work/upload" "$work/up.$tag.$i" "$uprate" \
			>"$work/client.$tag.up.$i" 2>&1 &
		echo $! >>"$work/pids.$tag"
	done
}
# finish TAG ND NU: start's transfers all end, byte-exact.
finish() {
	local tag=$1 i
	wait_all "$work/pids.$tag" || fail "transfers failed: $(grep -hv stall-ms "$work"/client."$tag".* | head -5)"
	for ((i = 0; i < $2; i++)); do
		[ "$(cat "$work/down.$tag.$i")" = "$downsum" ] || fail "download $tag.$i: other bytes"
	done
	for ((i = 0; i < $3; i++)); do
		[ "$(cat "$work/up.$tag.$i")" = "$upsum" ] || fail "upload $tag.$i: the server read other bytes"
	done
	log "ok: $2 downloads of $down bytes and $3 uploads of $up bytes exact, the longest stall" \
		"$(awk '$1 == "stall-ms" { print $2 }' "$work"/client."$tag".* | sort -n | tail -1) ms"
}
# forwarding N FE...: the front-ends FE forward N connections between them.
forwarding() {
	local want=$1 total=0 fe
	shift
	for fe in "$@"; do
		total=$((total + $(bctl "$fe" -j conn list state forwarding | jq '.conns | length')))
	done
	[ "$total" -eq "$want" ]
}

# move_to_fe3 (ECMP): the router sends every packet of the VIP to front-end
# 3 for a while (a plain route replaces the nexthop group, whose buckets
# stay as they are, and the group comes back after). Front-end 3 forwards
# the connections it keeps the copy of from the copy, and takes them over;
# it passes the packets of the others to the member ranked first for
# them, which holds them; the transfers go on (finish checks every byte
# and no reset). Then
# the IPv6 kept-alive connections ask again, their packets all reaching
# front-end 3 too: every answer exact (fe3's stack would reset those it
# neither forwards nor passes on), the packets fe3 passed to 1 and 2
# captured there (the link-layer source fe3's, the destination VIP6:
# fe3's stack never forwards those, the VIP6 is its own). Then
# a "fragmentation needed" (IPv6: "packet too big") about each connection
# of front-ends 1 and 2 reaches front-end 3, which passes those it has no
# copy of to 1 or 2: every one reaches a back-end, and 1 and 2 forwarded
# some.
move_to_fe3() {
	local r0 f0 c0 i0 i12 clients clients6 own6 stayed6 relayed6 mac3 fe c want t=$SECONDS
	r0=$(baton_stat fe3 relayed) f0=$(baton_stat fe3 relay-failed) c0=$(baton_stat fe3 forwarded-common)
	i0=$(baton_sum icmp-forwarded fe1 fe2 fe3) i12=$(baton_sum icmp-forwarded fe1 fe2)
	mac3=$(ip -n fe3 -j link show eth0 | jq -r '.[0].address')
	for fe in fe1 fe2; do
		ns_exec "$fe" tcpdump -i eth0 -nn -U -w "$work/relay6.$fe.pcap" "ether src $mac3 and ip6 dst $vip6 and tcp" \
			>/dev/null 2>&1 &
		echo $! >>"$work/relay6.pids"
		defer kill $!
	done
	sleep 1
	ip -n rt route replace "$vip/32" via "$(addr_of fe3)" dev eth0
	ip -n rt route replace "$vip6/128" via "$(lan6 4)" dev eth0
	# At the transfers' pace, 7 packets a second to pass on on a slow host.
	wait_for -t $((30 * BATON_SLOW)) sh -c "[ \$(ip netns exec fe3 $BATONCTL -j stats | jq .relayed) -gt $((r0 + 100)) ]" ||
		fail "fe3 passed $(($(baton_stat fe3 relayed) - r0)) packets to other members, want more than 100"
	touch "$work/go6"
	wait_for -t $((30 * BATON_SLOW)) test -e "$work/kept6.asked" ||
		fail "the IPv6 connections' second requests: $(cat "$work/kept6.out")"
	check_eq "IPv6 answers exact" "$(cat "$work/kept6.asked")" $((2 * n6))
	clients=$(for fe in fe1 fe2; do bctl "$fe" -j conn list state forwarding | jq -r '.conns[].client'; done)
	clients6=$(grep '^\[' <<<"$clients" || true)
	clients=$(grep -v '^\[' <<<"$clients" || true)
	own6=$(bctl fe3 -j conn list state forwarding | jq -r '.conns[].client')
	stayed6=0
	for c in $clients6; do
		grep -qxF "$c" <<<"$own6" || stayed6=$((stayed6 + 1))
	done
	want=$(($(wc -w <<<"$clients") + $(wc -w <<<"$clients6")))
	# shellcheck disable=SC2086 # one argument a connection
	ns_exec rt python3 "$BATON_REPO/tests/vm/tools/clients.py" fragneeded "$(lan_addr 1 1)" "$vip" 80 $clients >/dev/null
	if [ -n "$clients6" ]; then
		# shellcheck disable=SC2086 # one argument a connection
		ns_exec rt python3 "$BATON_REPO/tests/vm/tools/clients.py" fragneeded "$(lan6 1)" "$vip6" 80 $clients6 >/dev/null
	fi
	wait_for -t $((10 * BATON_SLOW)) baton_sum_is -ge $((i0 + want)) icmp-forwarded fe1 fe2 fe3 ||
		fail "of $want ICMP errors $(($(baton_sum icmp-forwarded fe1 fe2 fe3) - i0)) reached a back-end"
	check_eq "ICMP errors passed to back-ends" $(($(baton_sum icmp-forwarded fe1 fe2 fe3) - i0)) "$want"
	(($(baton_sum icmp-forwarded fe1 fe2) > i12)) || fail "no ICMP error went from fe3 to fe1 or fe2"
	touch "$work/end6"
	wait "$kept6" || fail "IPv6 kept-alive connections: $(cat "$work/kept6.out")"
	# shellcheck disable=SC2046 # one argument a pid
	kill $(cat "$work/relay6.pids") && wait $(cat "$work/relay6.pids") || true
	relayed6=0
	for fe in fe1 fe2; do
		relayed6=$((relayed6 + $(tcpdump -r "$work/relay6.$fe.pcap" -nn 2>/dev/null | wc -l)))
	done
	# Each connection has state on two of the three (its front-end and
	# one copy), so that fe3 needs its relay for one of them but with a
	# chance of (2/3)^16.
	((relayed6 > 0)) || log "note: fe3 held every IPv6 connection: none needed its relay"
	ip -n rt route replace "$vip/32" nhid 10
	ip -n rt route replace "$vip6/128" nhid 30
	check_eq "packets fe3 could not pass on" "$(baton_stat fe3 relay-failed)" "$f0"
	(($(baton_stat fe3 forwarded-common) > c0)) || fail "fe3 forwarded nothing from its copies"
	log "ok: everything sent to fe3 for $((SECONDS - t)) s: it passed on $(($(baton_stat fe3 relayed) - r0)) packets" \
		"and forwarded $(($(baton_stat fe3 forwarded-common) - c0)) from copies; of $want ICMP errors fe1 and fe2 forwarded $(($(baton_sum icmp-forwarded fe1 fe2) - i12));" \
		"$stayed6 of $n6 IPv6 connections stayed with fe1 or fe2, answered through fe3's relay, which passed them $relayed6 packets"
}

t0=$SECONDS
start crash "$ndown" "$nup"
n=$((ndown + nup))
if ((n6)); then
	ns_exec cl python3 "$BATON_REPO/tests/vm/tools/clients.py" kept "$vip6" 80 "$n6" 2000 \
		get "wait=$work/go6" get "out=$work/kept6.asked" "wait=$work/end6" >"$work/kept6.out" 2>&1 &
	kept6=$!
fi
wait_for -t $((60 * BATON_SLOW)) forwarding $((n + n6)) fe1 fe2 fe3 ||
	fail "the front-ends do not forward all $((n + n6)) connections"
declare -A share
for fe in fe1 fe2 fe3; do
	share[$fe]=$(baton_stat "$fe" active)
	log "$fe forwards ${share[$fe]} connections"
done
((share[fe1] > 0)) || fail "the router sent front-end 1 no connection"
if ((bgp)); then
	# Each front-end keeps a copy of every connection of the two others.
	for fe in fe1 fe2 fe3; do
		want=$((n - share[$fe]))
		wait_for -t $((10 * BATON_SLOW)) sh -c "[ \$(ip netns exec $fe $BATONCTL -j stats | jq .common) -eq $want ]" ||
			fail "$fe keeps $(baton_stat "$fe" common) copies, want $want"
	done
	log "ok: every connection has a copy on both other front-ends"
else
	wait_for -t $((10 * BATON_SLOW)) baton_sum_is -eq $((n + n6)) common fe1 fe2 fe3 ||
		fail "the front-ends keep $(baton_sum common fe1 fe2 fe3) copies, want $((n + n6))"
	log "ok: every connection has one copy: fe1 $(baton_stat fe1 common), fe2 $(baton_stat fe2 common), fe3 $(baton_stat fe3 common)"
	move_to_fe3
fi
# What front-end 1 forwards now (after the move, members took over the
# connections whose packets reached them), and what was promoted so far.
wait_for -t $((20 * BATON_SLOW)) baton_sum_is -eq "$n" active fe1 fe2 fe3 ||
	fail "the front-ends forward $(baton_sum active fe1 fe2 fe3) connections, want $n"
share[fe1]=$(baton_stat fe1 active)
((share[fe1] > 0)) || fail "front-end 1 forwards no connection"
p0=$(baton_sum promoted fe2 fe3)
if ((bgp == 0)); then
	# Where front-end 1's connections rank it: those it ranks first for
	# are the ones a member without their copy would pass to it, dead,
	# were its silence not noticed.
	first1=0
	conns1=$(bctl fe1 -j conn list | jq -r '.conns[] | select(.role == "front") | "\(.client) \(.vip)"')
	while read -r caddr cvip; do
		r=$(bctl fe2 -j cluster rank "$caddr" "$cvip" | jq -c .ranking)
		if [[ $r == \[1,* ]]; then
			first1=$((first1 + 1))
		fi
	done <<<"$conns1"
	s0=$(baton_sum relay-skipped fe2 fe3)
	g0=$(baton_sum relayed-again fe2 fe3)
	# Their views keep front-end 1 for 10 s after it falls silent: long
	# enough to see that its connections resume before that.
	for fe in fe2 fe3; do
		bctl "$fe" config set heartbeat-timeout-ms $((10000 * BATON_SLOW > 60000 ? 60000 : 10000 * BATON_SLOW))
	done
fi

# Front-end 1 crashes: its link is cut and its nexthop goes at once (BGP:
# the router's hold timer withdraws its route).
fc0=$(baton_sum forwarded-common fe2 fe3)
t1=$SECONDS
ip -n fe1 link set eth0 down
((bgp)) || ip -n rt nexthop del id 1
log "front-end 1 down at $((t1 - t0)) s into the transfers"
if ((bgp)); then
	wait_for -t $((20 * BATON_SLOW)) paths_are 2 ||
		fail "the router keeps $(paths) paths to $vip"
	log "BGP withdrew front-end 1's route $((SECONDS - t1)) s after the crash"
fi
check_eq "transfers under way at the crash" "$(running "$work/pids.crash")" "$n"

promoted() {
	echo $(($(baton_sum promoted fe2 fe3) - p0))
}
# in_view NS ID: whether node ID is up in NS's view.
in_view() {
	[ "$(bctl "$1" -j cluster show | jq -r --argjson id "$2" '.members[] | select(.["node-id"] == $id) | .state')" = up ]
}
if ((bgp == 0)); then
	# Members skip the silent front-end 1 for the next of each
	# connection's ranking, which holds its copy: every connection is
	# forwarded by front-end 2 or 3 while their views still hold front-end
	# 1 (its channel has not timed out).
	t=$SECONDS
	while :; do
		in_view fe2 1 && in_view fe3 1 ||
			fail "the views dropped front-end 1 first: fe2 and fe3 forwarded $(baton_sum active fe2 fe3) of $n connections $((SECONDS - t)) s after the crash ($(baton_sum relay-skipped fe2 fe3) packets passed past it)"
		baton_sum_is -eq "$n" active fe2 fe3 && break
		sleep 0.2
	done
	log "ok: fe2 and fe3 forward all $n connections $((SECONDS - t)) s after the crash, front-end 1 still in their views; $first1 of its ${share[fe1]} ranked it first, $(($(baton_sum relay-skipped fe2 fe3) - s0)) packets were passed past it, $(($(baton_sum relayed-again fe2 fe3) - g0)) that had gone to it passed again once it was silent"
	# The views drop it now, as the rest expects.
	for fe in fe2 fe3; do
		bctl "$fe" config set heartbeat-timeout-ms 2000
	done
fi
wait_for -t $((20 * BATON_SLOW)) baton_sum_is -gt "$fc0" forwarded-common fe2 fe3 ||
	fail "neither fe2 nor fe3 forwarded from its copies"
wait_for -t $((20 * BATON_SLOW)) baton_sum_is -ge $((p0 + share[fe1])) promoted fe2 fe3 ||
	fail "fe2 and fe3 promoted $(promoted) copies, want ${share[fe1]}"
log "taken over $((SECONDS - t1)) s after the crash: fe2 $(baton_stat fe2 promoted), fe3 $(baton_stat fe3 promoted)"
# Each of front-end 1's connections was taken over once at least: by the
# member that held its copy, and again by one that the router sends it to
# if that one got the new owner's copy.
check_ge "copies promoted" "$(promoted)" "${share[fe1]}"
wait_for -t $((10 * BATON_SLOW)) baton_sum_is -eq "$n" active fe2 fe3 ||
	fail "fe2 and fe3 forward $(baton_sum active fe2 fe3) connections, want $n"
log "ok: fe2 and fe3 forward all $n connections"
for be in be1 be2; do
	check_eq "$be's flows answer to" "$(bctl "$be" -j conn list | jq -c '[.conns[].peer] | unique | map(select(. == 1))')" "[]"
done

# The takeover is checked: the rest of each transfer at full speed.
touch "$work/fast.crash"
finish crash "$ndown" "$nup"
log "transfers done $((SECONDS - t1)) s after the crash ($((SECONDS - t0)) s in all)"
check_eq "client resets" "$(tcp_resets cl)" "$resets0"
rst_none "$work/rst.pcap"
log "packets forwarded from copies: fe2 $(baton_stat fe2 forwarded-common), fe3 $(baton_stat fe3 forwarded-common)"

# Nothing left: the back-ends' CONN_ENDs reached the new owners, whose
# REPLICA_ENDs took every copy, front-end 1's stale ones included.
baton_idle 20 fe2 fe3 be1 be2
for fe in fe2 fe3; do
	wait_for -t $((10 * BATON_SLOW)) sh -c "[ \$(ip netns exec $fe $BATONCTL -j stats | jq .common) -eq 0 ]" ||
		fail "$fe keeps $(baton_stat "$fe" common) copies"
done

# A new connection after the crash.
ns_exec cl curl -sS --max-time 30 -o "$work/after" "http://$vip/big" || fail "a new connection failed"
check_eq "new connection's sha256" "$(sha256sum <"$work/after" | cut -d' ' -f1)" "$downsum"

# burst_crash: front-end 2 crashes while 50 clients connect.
burst_crash() {
	# Front-end 2 crashes while 50 clients connect (300 KB each at 100 KB/s):
	# some are in their handshake or handoff on it, some forwarding. Its
	# link's 1 s delay makes each handshake and handoff there last long
	# enough for the crash to meet some: it comes once half the clients
	# started and front-end 2 has a handoff waiting for its answer.
	local burst=50 small=300000 smallsum frozen i rc served=0 reset=0 ns
	# The delay shifts front-end 2's heartbeats by 1 s once: a timeout of
	# 3 s rides that out (2 s would see a partition, not this crash).
	for ns in fe2 fe3 be1 be2; do
		bctl "$ns" config set heartbeat-timeout-ms 3000
	done
	tc -n fe2 qdisc add dev eth0 root netem delay 1000ms
	smallsum=$(python3 -c 'import hashlib, random, sys; n = int(sys.argv[1]); print(hashlib.sha256(random.Random(n).randbytes(n)).hexdigest())' "$small")
	for ((i = 0; i < burst; i++)); do
		(
			rc=0
			ns_exec cl curl -sS --max-time $((60 * BATON_SLOW)) --limit-rate 100k -o "$work/burst.$i" \
				"http://$vip/gen/$small" 2>"$work/burst.err.$i" || rc=$?
			echo "$rc" >"$work/burst.rc.$i"
		) &
		echo $! >>"$work/burst.pids"
		if ((i == burst / 2)); then
			wait_for -t $((10 * BATON_SLOW)) sh -c "[ \$(ip netns exec fe2 $BATONCTL -j conn list state handoff | jq '.conns | length') -gt 0 ]" || true
			frozen=$(bctl fe2 -j conn list state handoff | jq '.conns | length')
			t3=$SECONDS
			ip -n fe2 link set eth0 down
			((bgp)) || ip -n rt nexthop del id 2
			log "front-end 2 down with $((i + 1)) of $burst clients started, $frozen handoffs waiting there"
		fi
	done
	wait_all "$work/burst.pids" || true
	for ((i = 0; i < burst; i++)); do
		rc=$(cat "$work/burst.rc.$i")
		case $rc in
		0)
			[ "$(sha256sum <"$work/burst.$i" | cut -d' ' -f1)" = "$smallsum" ] ||
				fail "burst client $i: served $(stat -c %s "$work/burst.$i") bytes that differ"
			served=$((served + 1))
			;;
		7 | 52 | 56) reset=$((reset + 1)) ;; # refused, empty reply, reset
		*) fail "burst client $i: curl exit $rc (hung or broken): $(cat "$work/burst.err.$i")" ;;
		esac
	done
	log "ok: of $burst clients, $served served byte-exact, $reset reset, none hung ($((SECONDS - t3)) s after the crash)"
	baton_idle 120 fe3 be1 be2
	check_eq "fe3's copies" "$(baton_stat fe3 common)" 0
	log "ok: no flow left $((SECONDS - t3)) s after the crash"
}

# leave: front-end 2 leaves gracefully while 16 transfers run: its bgpd
# stops (the router withdraws its route at once), then its namespace goes
# and its baton with it; its channels close, and front-end 3 takes its
# connections over from its copies at once (the namespace's end tells no
# member that its connections ended).
leave() {
	local share2 p3 resets1
	resets1=$(tcp_resets cl)
	t0=$SECONDS
	start leave 12 4
	wait_for -t $((30 * BATON_SLOW)) forwarding 16 fe2 fe3 || fail "fe2 and fe3 do not forward the 16 connections"
	share2=$(baton_stat fe2 active)
	((share2 > 0)) || fail "the router sent front-end 2 no connection"
	p3=$(baton_stat fe3 promoted)
	kill "$(cat "$work/frr.fe2/bgpd.pid")"
	wait_for -t $((20 * BATON_SLOW)) paths_are 1 || fail "the router keeps $(paths) paths to $vip"
	t3=$SECONDS
	log "front-end 2 withdrawn at $((t3 - t0)) s into the transfers ($share2 connections)"
	kill "$(cat "$work/frr.fe2/zebra.pid")"
	ip netns del fe2
	wait_for -t $((20 * BATON_SLOW)) sh -c "[ \$(ip netns exec fe3 $BATONCTL -j stats | jq .promoted) -eq $((p3 + share2)) ]" ||
		fail "fe3 promoted $(($(baton_stat fe3 promoted) - p3)) of front-end 2's $share2 connections"
	log "fe3 took front-end 2's connections over $((SECONDS - t3)) s after it was withdrawn"
	check_eq "transfers under way at the leave" "$(running "$work/pids.leave")" 16
	touch "$work/fast.leave"
	finish leave 12 4
	check_eq "client resets" "$(tcp_resets cl)" "$resets1"
	baton_idle 20 fe3 be1 be2
	check_eq "fe3's copies" "$(baton_stat fe3 common)" 0
}

if ((bgp)); then
	leave
else
	burst_crash
fi
baton_unload
log "all checks passed"
