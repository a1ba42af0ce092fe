#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A front-end crashes with handoffs under way, and its group's other member
# completes them from the copies it holds (issue 15, points 4 and 8):
# namespaces in one guest, two front-ends behind keepalived's VRRP, two
# back-ends. Before front-end 1 asks a back-end to take a connection, its
# backup (front-end 2) holds a copy of the request (HANDOFF_COPY) and
# confirmed it (COPY_ACK). Checks:
#   - 8 clients connect at once while back-end 1's frames to front-end 1
#     and front-end 1's frames to back-end 2 are lost (control links of
#     their own, each cut one way): every handoff waits, back-end 1 has
#     taken its connections and serves them but its answers never arrive,
#     back-end 2 never heard of its own; front-end 2 holds a copy of each
#     (stats pending) before the crash, and front-end 1's hooks withheld
#     its stack's acknowledgements of the requests (acks-withheld: the
#     back-ends acknowledge them);
#   - front-end 1 crashes (its link cut at once); keepalived moves the VIP
#     to front-end 2, which holds the clients' packets for the copies;
#     when its view loses front-end 1 it takes the handoffs over (RESUME):
#     back-end 1 answers as it answered front-end 1, and its flows answer
#     to front-end 2; back-end 2 replays the connections it never had;
#   - every client gets its whole answer byte-exact, none is reset (Tcp
#     EstabResets, AttemptFails, RST segments from the VIP) and none
#     hangs; fe2's resumed counter is 8 and its pending copies are gone;
#   - once the clients are done no flow is left on front-end 2 or the
#     back-ends.
#
# guests: 1
# memory: 768M
# timeout: 300
#
#                      switch ns "sw" (br0)           198.18.1.0/24
#      /           |                  |                |            \
#   cl .1      fe1 .2 node 1      fe2 .3 node 2    be1 .4 node 3   be2 .5 node 4
#   curl x8    VIP .100 (VRRP     VIP .100 (VRRP   httpd.py :8080  httpd.py :8080
#              master first)      master after)    |               |
#                  | cb2 198.18.3.5/30 -- control link -- cb3 198.18.3.6/30
#                  |   (netem loss 100% at be1's end: its frames to fe1 lost)
#                  | cb0 198.18.3.1/30 -- control link -- cb1 198.18.3.2/30
#                    (netem loss 100% at fe1's end: its frames to be2 lost)
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip tc curl python3 sha256sum tcpdump jq keepalived

readonly vip=198.18.1.100 be1=198.18.1.4 be2=198.18.1.5 n=8 size=300000
# The heartbeat timeout: front-end 1 crashes within it after the
# control links are cut, and front-end 2 takes over that long after.
readonly hb=$((12000 * BATON_SLOW))
work=$(mktemp -d)
defer rm -rf "$work"

baton_load
lan_setup 1 sw cl fe1 fe2 be1 be2
# Front-end 1 talks to each back-end over a link of their own, so that
# front-end 1's frames to back-end 2, back-end 1's to front-end 1, and
# nothing else, can be lost.
ip -n fe1 link add cb0 type veth peer name cb1 netns be2
ip -n fe1 link add cb2 type veth peer name cb3 netns be1
ip -n fe1 addr add 198.18.3.1/30 dev cb0
ip -n be2 addr add 198.18.3.2/30 dev cb1
ip -n fe1 addr add 198.18.3.5/30 dev cb2
ip -n be1 addr add 198.18.3.6/30 dev cb3
ip -n fe1 link set cb0 up
ip -n be2 link set cb1 up
ip -n fe1 link set cb2 up
ip -n be1 link set cb3 up
baton_forwarder fe1 fe2

vrrp_pair "$work" "$vip" fe1 fe2

httpd_serve be1 "$be1" 8080 "$work/be1"
httpd_serve be2 "$be2" 8080 "$work/be2"

declare -A node=([fe1]=1 [fe2]=2 [be1]=3 [be2]=4)
# Front-end 1 waits as long for a back-end's answer (at most 30 s), so
# that none of its handoffs fails before it crashes.
for ns in fe1 fe2 be1 be2; do
	bctl "$ns" config set node-id "${node[$ns]}" key "$BATON_TEST_KEY" heartbeat-timeout-ms "$hb" \
		handoff-timeout-ms $((hb < 30000 ? hb : 30000))
done
# peer_addr A B: where A reaches B's control channel.
peer_addr() {
	case "$1-$2" in
	fe1-be2) echo 198.18.3.2 ;;
	be2-fe1) echo 198.18.3.1 ;;
	fe1-be1) echo 198.18.3.6 ;;
	be1-fe1) echo 198.18.3.5 ;;
	*) lan_addr 1 $((node[$2] + 1)) ;;
	esac
}
for fe in fe1 fe2; do
	for ns in fe1 fe2 be1 be2; do
		[ "$ns" = "$fe" ] && continue
		bctl "$fe" peer add "${node[$ns]}" "$(peer_addr "$fe" "$ns")"
		[ "${ns:0:2}" = be ] && bctl "$ns" peer add "${node[$fe]}" "$(peer_addr "$ns" "$fe")"
	done
	bctl "$fe" service add "$vip:80" scheduler rr
	bctl "$fe" backend add "$vip:80" "$be1:8080" peer 3
	bctl "$fe" backend add "$vip:80" "$be2:8080" peer 4
done
bctl fe1 cluster add 2
bctl fe2 cluster add 1
for ns in fe1 fe2 be1 be2; do
	wait_for -t $((30 * BATON_SLOW)) sh -c "ip netns exec $ns $BATONCTL -j peer list | jq -e 'all(.[]; .state == \"up\")' >/dev/null" ||
		fail "$ns: channels not all up"
done
wait_for -t $((30 * BATON_SLOW)) sh -c "ip netns exec fe2 $BATONCTL -j cluster show | jq -e '[.members[] | select(.state != \"down\")] | length == 2' >/dev/null" ||
	fail "fe2's view lacks fe1: $(bctl fe2 cluster show)"
wait_listen fe1 80

# A connection before the trouble: copied, handed off, forwarding.
ns_exec cl curl -sS --max-time 30 -o "$work/first" "http://$vip/gen/1000" || fail "a first connection failed"
check_eq "first connection's bytes" "$(stat -c %s "$work/first")" 1000
check_eq "fe1's unconfirmed handoffs" "$(baton_stat fe1 unconfirmed)" 0

# Back-end 1's frames to front-end 1 and front-end 1's to back-end 2 are
# lost (their TCP retransmits them in vain): back-end 1 takes its
# connections and serves them, and front-end 1 never hears it did.
tc -n be1 qdisc add dev cb3 root netem loss 100%
tc -n fe1 qdisc add dev cb0 root netem loss 100%

want=$(python3 -c 'import hashlib, random, sys; n = int(sys.argv[1]); print(hashlib.sha256(random.Random(n).randbytes(n)).hexdigest())' "$size")
resets0=$(tcp_resets cl)
rst_watch cl "host $vip and tcp port 80" "$work/rst.pcap"
taken1=$(baton_stat be1 taken)
taken2=$(baton_stat be2 taken)
# One curl opens the 8 connections at once (8 processes would start
# over seconds in a guest).
urls=()
for ((i = 0; i < n; i++)); do
	urls+=(-o "$work/out.$i" "http://$vip/gen/$size")
done
ns_exec cl curl -sS --parallel --parallel-immediate --parallel-max "$n" \
	--max-time $((120 * BATON_SLOW)) "${urls[@]}" >"$work/curl.out" 2>"$work/curl.err" &
echo $! >>"$work/pids"
# Every handoff copied to front-end 2, and none answered yet.
wait_for -t $((10 * BATON_SLOW)) baton_sum_is -ge "$n" pending fe2 ||
	fail "fe2 holds $(baton_stat fe2 pending) copies of handoffs, want $n; fe1: $(bctl fe1 -j stats | jq -c '{active, "handoffs-failed", unconfirmed, "acks-withheld", held}'), $(bctl fe1 conn list | tail -n +2 | wc -l) connections; fe2: $(bctl fe2 -j stats | jq -c '{common, pending, held, relayed}')"
# Frames sent and the socket writes that carried them (fewer writes when
# queued frames went with the next one).
peers=$(bctl fe1 -j peer list)
log "fe1's channels: $(jq -r '.[] | "peer \(."node-id") \(."msgs-out") frames in \(."writes-out") writes"' <<<"$peers" | tr '\n' ' ')"
jq -e 'all(.[]; ."writes-out" <= ."msgs-out")' <<<"$peers" >/dev/null ||
	fail "more socket writes than frames: $peers"
t1=$SECONDS
ip -n fe1 link set eth0 down
ip -n fe1 link set cb0 down
ip -n fe1 link set cb2 down
log "front-end 1 down with $n handoffs waiting there"
# Front-end 1's stack acknowledged none of the requests: its hooks
# dropped those acknowledgements, for the back-ends to send once the
# copies were confirmed (every request came in one flight). Its module
# still runs, cut off.
check_ge "request acks fe1 withheld" "$(baton_stat fe1 acks-withheld)" "$n"
check_eq "request acks fe1 released" "$(baton_stat fe1 acks-released)" 0
fe2_mac=$(ip -n fe2 -j link show eth0 | jq -r '.[0].address')
wait_for -t $((30 * BATON_SLOW)) sh -c "ip -n cl neigh show $vip | grep -q $fe2_mac" ||
	fail "the VIP did not move to fe2: $(cat "$work/keepalived.fe2.log")"
log "VIP on fe2 (keepalived) $((SECONDS - t1)) s after the crash"
wait_for -t $((30 * BATON_SLOW)) sh -c "[ \$(ip netns exec fe2 $BATONCTL -j stats | jq .resumed) -eq $n ]" ||
	fail "fe2 resumed $(baton_stat fe2 resumed) handoffs, want $n"
log "handoffs taken over $((SECONDS - t1)) s after the crash"
check_eq "fe2's pending copies" "$(baton_stat fe2 pending)" 0

wait_all "$work/pids" || fail "curl failed: $(cat "$work/curl.err")"
served=0
for ((i = 0; i < n; i++)); do
	check_eq "client $i's sha256" "$(sha256sum <"$work/out.$i" | cut -d' ' -f1)" "$want"
	served=$((served + 1))
done
log "ok: $served of $n clients served byte-exact, $((SECONDS - t1)) s after the crash"
check_eq "client resets" "$(tcp_resets cl)" "$resets0"
rst_none "$work/rst.pcap"
# Back-end 1 took its 4 from front-end 1 (and answered front-end 2's
# RESUME from its flows), back-end 2 replayed its 4 for front-end 2.
check_eq "connections be1 took" $(($(baton_stat be1 taken) - taken1)) $((n / 2))
check_eq "connections be2 took (replayed for fe2)" $(($(baton_stat be2 taken) - taken2)) $((n / 2))
check_eq "handoffs fe2 completed" "$(baton_stat fe2 handoffs-ok)" "$n"

baton_idle 30 fe2 be1 be2
check_eq "fe2's copies" "$(baton_stat fe2 common)" 0
baton_unload
log "all checks passed"
