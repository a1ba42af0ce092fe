#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A front-end fails with connections forwarding, and its group's other
# member carries them on (issue 15, points 3 to 5 and 7: active/standby
# with keepalived's VRRP); namespaces in one guest. Two front-ends form a
# group, both with the service; keepalived puts the VIP on front-end 1.
# Checks:
#   - front-end 2 joins the group while front-end 1 forwards connections
#     (point 6): once their views agree, every connection has its copy on
#     front-end 2 (stats common, cluster show's COMMON) and it reports
#     itself synced (cluster show's SYNCED, a log line), before the crash;
#   - front-end 1 crashes mid-transfer (its link cut at once); keepalived
#     on front-end 2 takes the VIP and its gratuitous ARP moves the
#     client's neighbour entry: 8 downloads of 6 MB at 200 KB/s and 2
#     uploads of 4.5 MB at 150 KB/s (tests/vm/tools/pace.py; a fifth of that
#     on the debug kernel), whose last 256 KB wait until the takeover is
#     checked (pace.py --hold: on a slow guest they would end first), all
#     finish byte-exact, and the client saw no reset (Tcp EstabResets,
#     AttemptFails, its RST segments);
#   - front-end 2 forwarded their packets from its copies
#     (forwarded-common) as soon as they arrived, and took the connections
#     over (promoted) once its view lost front-end 1, the back-ends' flows
#     answering to it from then on (TAKEOVER): once the transfers ended,
#     their CONN_ENDs left no state on front-end 2 or the back-ends;
#   - a kept-alive connection of the service, which dispatches each request
#     by Host, taken over with the others: its next request is served where
#     it was, the one after moves it to the back-end its rule names
#     (front-end 2 moves connections it took over from copies);
#   - a new connection after the failover is served by front-end 2;
#   - the same, at once, for an IPv6 service of the same group (issue 17's
#     dual-stack cluster): its VIP moves with the IPv4 one (keepalived,
#     unsolicited neighbour advertisement), 2 downloads and an upload
#     finish byte-exact, their copies (REPLICA6) are on front-end 2
#     before the crash, and front-end 2 takes them over.
# The time from the crash to the end of the transfers is logged.
#
# guests: 1
# memory: 768M
# timeout: 360
#
#                      switch ns "sw" (br0)           198.18.1.0/24
#      /           |                  |                |            \
#   cl .1      fe1 .2 node 1      fe2 .3 node 2    be1 .4 node 3   be2 .5 node 4
#   pace.py    VIP .100 (VRRP     VIP .100 (VRRP   httpd.py :8080  httpd.py :8080
#              master first)      master after)
#   IPv6 (2001:db8:1::/64): host .N is ::N, VIP6 ::100 moves with VIP
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip curl python3 sha256sum tcpdump jq keepalived

readonly vip=198.18.1.100 be1=198.18.1.4 be2=198.18.1.5
readonly vip6=2001:db8:1::100 be16=2001:db8:1::4 be26=2001:db8:1::5
readonly down=6000000 up=4500000 ndown=8 nup=2 rate=$((200000 / BATON_SLOW))
readonly ndown6=2 nup6=1
readonly pace="$BATON_REPO/tests/vm/tools/pace.py"
work=$(mktemp -d)
defer rm -rf "$work"

baton_load
lan_setup 1 sw cl fe1 fe2 be1 be2
# Small client buffers: the servers send as fast as the client reads, so that
# every transfer is under way, both ways, when the front-end fails.
ns_exec cl sysctl -qw net.ipv4.tcp_rmem="4096 65536 131072" net.ipv4.tcp_wmem="4096 65536 131072"
baton_forwarder fe1 fe2
i=1
for ns in cl fe1 fe2 be1 be2; do
	ns_exec "$ns" ip addr add "2001:db8:1::$i/64" dev eth0 nodad
	i=$((i + 1))
done
for ns in fe1 fe2; do
	ns_exec "$ns" sysctl -qw net.ipv6.conf.all.forwarding=1
done

# keepalived: VRRP between the front-ends moves the VIP, front-end 1 the
# master while it lives (priority 150 against 100), adverts every second.
vrrp_pair "$work" "$vip" fe1 fe2 "$vip6"

httpd_serve be1 "$be1" 8080 "$work/be1"
httpd_serve be2 "$be2" 8080 "$work/be2"
httpd_serve be1 "$be16" 8080 "$work/be16"
httpd_serve be2 "$be26" 8080 "$work/be26"
echo be1 >"$work/be1/name"
echo be2 >"$work/be2/name"

declare -A node=([fe1]=1 [fe2]=2 [be1]=3 [be2]=4)
# Front-end 2 notices front-end 1's death after 8 s: keepalived moves the
# VIP before that, so that front-end 2 forwards from its copies first and
# takes the connections over later.
for ns in fe1 fe2 be1 be2; do
	hb=$([ "$ns" = fe2 ] && echo 8000 || echo 2000)
	bctl "$ns" config set node-id "${node[$ns]}" key "$BATON_TEST_KEY" heartbeat-timeout-ms "$hb"
done
for fe in fe1 fe2; do
	for ns in fe1 fe2 be1 be2; do
		[ "$ns" = "$fe" ] && continue
		bctl "$fe" peer add "${node[$ns]}" "$(lan_addr 1 $((node[$ns] + 1)))"
		[ "${ns:0:2}" = be ] && bctl "$ns" peer add "${node[$fe]}" "$(lan_addr 1 $((node[$fe] + 1)))"
	done
	bctl "$fe" service add "$vip:80" scheduler rr
	bctl "$fe" backend add "$vip:80" "$be1:8080" peer 3
	bctl "$fe" backend add "$vip:80" "$be2:8080" peer 4
	bctl "$fe" rule add "$vip:80" host a.example to "$be1:8080"
	bctl "$fe" rule add "$vip:80" host b.example to "$be2:8080"
	bctl "$fe" service add "[$vip6]:80" scheduler rr
	bctl "$fe" backend add "[$vip6]:80" "[$be16]:8080" peer 3
	bctl "$fe" backend add "[$vip6]:80" "[$be26]:8080" peer 4
done
for ns in fe1 fe2 be1 be2; do
	wait_for -t $((30 * BATON_SLOW)) sh -c "ip netns exec $ns $BATONCTL -j peer list | jq -e 'all(.[]; .state == \"up\")' >/dev/null" ||
		fail "$ns: channels not all up"
done
wait_listen fe1 80

# The bytes httpd.py serves for /gen/N, and an upload.
python3 -c 'import random, sys; n = int(sys.argv[1]); sys.stdout.buffer.write(random.Random(n).randbytes(n))' \
	"$down" >"$work/want"
head -c "$up" /dev/urandom >"$work/upload"
upsum=$(sha256sum <"$work/upload" | cut -d' ' -f1)

resets0=$(tcp_resets cl)
rst_watch cl "host $vip and tcp port 80" "$work/rst.pcap"

# transfers ADDR NDOWN NUP TAG: NDOWN paced downloads and NUP uploads to
# ADDR:80, their files and logs named with TAG, their pids in pids.
transfers() {
	local i
	for ((i = 0; i < $2; i++)); do
		ns_exec cl python3 "$pace" --hold "$work/go" get "$1" 80 "/gen/$down" "$work/down$4.$i" "$rate" \
			>"$work/client.down$4.$i" 2>&1 &
		echo $! >>"$work/pids"
	done
	for ((i = 0; i < $3; i++)); do
		ns_exec cl python3 "$pace" --hold "$work/go" post "$1" 80 /up "$work/upload" "$work/up$4.$i" $((rate * 3 / 4)) \
			>"$work/client.up$4.$i" 2>&1 &
		echo $! >>"$work/pids"
	done
}
# transfers_exact NDOWN NUP TAG WHAT: the downloads and uploads of
# transfers ... TAG ended byte-exact.
transfers_exact() {
	local i
	for ((i = 0; i < $1; i++)); do
		cmp -s "$work/down$3.$i" "$work/want" || fail "$4download $i differs ($(stat -c %s "$work/down$3.$i") bytes)"
	done
	for ((i = 0; i < $2; i++)); do
		check_eq "$4upload $i: sha256 the server read" "$(cat "$work/up$3.$i")" "$upsum"
	done
}

t0=$SECONDS
transfers "$vip" "$ndown" "$nup" ""
transfers "$vip6" "$ndown6" "$nup6" 6
# A kept-alive connection, idle until after the takeover.
ns_exec cl python3 "$BATON_REPO/tests/vm/tools/clients.py" requests "$vip" 80 \
	a.example/name "wait=$work/go" a.example/name b.example/name >"$work/kept.out" 2>&1 &
kept=$!
n=$((ndown + nup + 1 + ndown6 + nup6))
# The IPv6 connections among those a node forwards.
v6_conns() {
	bctl "$1" -j conn list | jq '[.conns[] | select(.vip | startswith("["))] | length'
}

# Every connection forwarding on front-end 1, which has no group yet (the
# guest starts the clients in 15 s alone, in 40 s beside another
# scenario).
wait_for -t $((60 * BATON_SLOW)) sh -c "[ \$(ip netns exec fe1 $BATONCTL -j conn list state forwarding | jq '.conns | length') -eq $n ]" ||
	fail "fe1 forwards $(bctl fe1 -j conn list state forwarding | jq '.conns | length') connections, want $n" \
		"(states: $(bctl fe1 -j conn list | jq -c '[.conns[].state] | group_by(.) | map({(.[0]): length}) | add'))"
check_eq "copies sent without a group" "$(baton_stat fe1 replicated)" 0
check_eq "fe1's IPv6 connections" "$(v6_conns fe1)" $((ndown6 + nup6))

# Front-end 2 joins under load: its view and front-end 1's agree, and
# front-end 1 sends it the copy of every connection, so that it is in
# sync before it takes any traffic.
bctl fe1 cluster add 2
bctl fe2 cluster add 1
# agreed: both front-ends have the view {1,2} under one epoch.
agreed() {
	local a b
	a=$(bctl fe1 -j cluster show | jq -c '[.epoch, ([.members[] | select(.state != "down") | ."node-id"] | sort)]')
	b=$(bctl fe2 -j cluster show | jq -c '[.epoch, ([.members[] | select(.state != "down") | ."node-id"] | sort)]')
	[ "$a" = "$b" ] && [ "$(jq -c '.[1]' <<<"$a")" = "[1,2]" ]
}
wait_for -t $((30 * BATON_SLOW)) agreed || fail "the front-ends do not agree on {1,2}"
wait_for -t $((10 * BATON_SLOW)) sh -c "[ \$(ip netns exec fe2 $BATONCTL -j stats | jq .common) -eq $n ]" ||
	fail "fe2 keeps $(baton_stat fe2 common) copies, want $n"
check_ge "copies fe1 sent" "$(baton_stat fe1 replicated)" "$n"
# ... and front-end 2 says so: front-end 1's SYNCED came after the copies.
wait_for -t $((10 * BATON_SLOW)) sh -c "ip netns exec fe2 $BATONCTL -j cluster show | jq -e 'all(.members[]; .synced)'" ||
	fail "fe2 does not report itself synced: $(bctl fe2 cluster show)"
grep -q "node 2: front-end group epoch [0-9]*: synced" <<<"$(dmesg)" || fail "no log line of fe2's sync"
check_ge "fe2's common table memory" "$(baton_stat fe2 common-memory)" 1
wait_for -t $((10 * BATON_SLOW)) sh -c "[ \"\$(ip netns exec fe1 $BATONCTL -j cluster show |
	jq '.members[] | select(.\"node-id\" == 2) | .common')\" = $n ]" ||
	fail "fe1 does not hear fe2's $n copies"

# Front-end 1 crashes: its link is cut at once. keepalived on front-end 2
# misses its adverts, becomes master, adds the VIP and announces it
# (gratuitous ARP), which moves the client's neighbour entry.
log "transfers held at their last 256 KB: $(find "$work" -name '*.held' | wc -l) of $((ndown + nup + ndown6 + nup6))"
t1=$SECONDS
ip -n fe1 link set eth0 down
log "front-end 1 down at $((t1 - t0)) s into the transfers"
fe2_mac=$(ip -n fe2 -j link show eth0 | jq -r '.[0].address')
wait_for -t $((30 * BATON_SLOW)) sh -c "ip -n cl neigh show $vip | grep -q $fe2_mac" ||
	fail "the VIP did not move to fe2: $(ip -n fe2 -br addr show dev eth0) $(ip -n cl neigh show "$vip") $(cat "$work/keepalived.fe2.log")"
log "VIP on fe2 (keepalived) $((SECONDS - t1)) s after the crash"
wait_for -t $((30 * BATON_SLOW)) sh -c "ip -n cl neigh show $vip6 | grep -q $fe2_mac" ||
	fail "the IPv6 VIP did not move to fe2: $(ip -n fe2 -6 addr show dev eth0) $(ip -n cl neigh show "$vip6")"
log "IPv6 VIP on fe2 (keepalived) $((SECONDS - t1)) s after the crash"
check_eq "transfers under way at the crash" "$(running "$work/pids")" $((ndown + nup + ndown6 + nup6))

# Once front-end 2's view loses front-end 1 (heartbeat timeout), the
# copies become its connections, and the back-ends' flows answer to it.
wait_for -t $((20 * BATON_SLOW)) sh -c "[ \$(ip netns exec fe2 $BATONCTL -j stats | jq '.\"forwarded-common\"') -gt 0 ]" ||
	fail "fe2 forwarded nothing from its copies"
# (Packets forwarded from copies came before the takeover: a copy taken
# over is gone from the common table.)
wait_for -t $((20 * BATON_SLOW)) sh -c "[ \$(ip netns exec fe2 $BATONCTL -j stats | jq .promoted) -eq $n ]" ||
	fail "fe2 promoted $(baton_stat fe2 promoted) copies, want $n"
log "taken over $((SECONDS - t1)) s after the crash"
check_eq "fe2's common table after the takeover" "$(baton_stat fe2 common)" 0
active=$(baton_stat fe2 active)
[ "$active" -eq "$n" ] || fail "fe2 forwards $active connections, want $n: $(bctl fe2 conn list)"
log "ok: fe2 forwards the $n connections"
check_eq "fe2's IPv6 connections, taken over" "$(v6_conns fe2)" $((ndown6 + nup6))
for be in be1 be2; do
	check_eq "$be's flows answer to" "$(bctl "$be" -j conn list | jq -c '[.conns[].peer] | unique | map(select(. != 2))')" "[]"
done
check_eq "back-end flows" $(($(baton_stat be1 active) + $(baton_stat be2 active))) "$n"

# The kept-alive connection, now front-end 2's: its next request (for
# be1's Host) tells front-end 2 where the client is, the one after moves it;
# the transfers go on to their end.
touch "$work/go"
wait "$kept" || fail "the kept-alive connection failed: $(cat "$work/kept.out")"
check_eq "kept-alive connection: answers" "$(cut -d' ' -f2 "$work/kept.out" | tr '\n' ' ')" "be1 be1 be2 "
check_eq "kept-alive connection: one connection" "$(cut -d' ' -f1 "$work/kept.out" | sort -u | wc -l)" 1
check_eq "kept-alive connection: moved by fe2" "$(baton_stat fe2 moved)" 1

wait_all "$work/pids" || fail "transfers failed: $(grep -hv stall-ms "$work"/client.* | head -5)"
log "transfers done $((SECONDS - t1)) s after the crash ($((SECONDS - t0)) s in all)"
transfers_exact "$ndown" "$nup" "" ""
transfers_exact "$ndown6" "$nup6" 6 "IPv6 "
log "ok: $ndown downloads of $down bytes and $nup uploads of $up bytes exact (and $ndown6, $nup6 over IPv6)"
check_eq "client resets" "$(tcp_resets cl)" "$resets0"
rst_none "$work/rst.pcap"
log "packets fe2 forwarded from copies: $(baton_stat fe2 forwarded-common)"
# The back-ends' CONN_ENDs reach front-end 2: nothing is left.
baton_idle 20 fe2 be1 be2

# A new connection: front-end 2 serves it.
ok0=$(baton_stat fe2 handoffs-ok)
ns_exec cl curl -sS --max-time 30 -o "$work/after" "http://$vip/gen/1000" || fail "a new connection failed"
check_eq "new connection's bytes" "$(stat -c %s "$work/after")" 1000
ns_exec cl curl -sS --max-time 30 -o "$work/after6" "http://[$vip6]/gen/1000" || fail "a new IPv6 connection failed"
check_eq "new IPv6 connection's bytes" "$(stat -c %s "$work/after6")" 1000
check_eq "handoffs fe2 made" "$(baton_stat fe2 handoffs-ok)" $((ok0 + 2))
baton_unload
log "all checks passed"
