#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Peer failure (issue 5, point 3), namespaces in one guest; the control
# channel has its own link (198.18.2.0/24), so that it can fail alone.
#   1. The back-end's control link goes down (ip link set down) while 10
#      downloads run and one handoff waits for its answer (be1 refuses it,
#      but its link already drops everything): the waiting client is reset
#      within 3.5 s of its connection (handoff timeout 2.5 s) and its flow
#      freed; the running downloads, whose packets do not use the
#      channel, complete exactly; the front-end declares the peer down
#      (heartbeat timeout); meanwhile a new connection to a service with
#      only that back-end is reset at once, one to a service that also has
#      a local back-end is served locally; every flow is freed on both
#      nodes although no CONN_END could pass: a kept-alive connection
#      idle across the cut is reset by the back-end and freed by the
#      front-end after five heartbeat timeouts; the link comes back, the
#      channel reconnects (connects + 1) and a fresh handoff is exact.
#   2. The back-end dies: its links are deleted (power cut), its server
#      killed and its namespace deleted while 10 downloads run and one
#      handoff waits: the waiting client is reset in time; the front-end
#      sees the peer down; the downloads cannot be told (nothing reaches
#      their clients any more) and end at their own time limit (curl 28);
#      the front-end then frees every flow; a new back-end namespace with
#      the same addresses and node id comes up, the channel reconnects, a
#      fresh handoff is exact.
#
# guests: 1
# memory: 1024M
# timeout: 600
#
#                       switch ns "sw" (br0)            198.18.1.0/24
#        /             |                   |
#   cl .1           fe .2 (VIP .100)     be1 .3
#   curl            node 1, httpd        node 2, httpd
#                   |                    |
#                       switch ns "csw" (br0), control   198.18.2.0/24
#                   fe .1                be1 .2
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip tc curl python3 sha256sum jq timeout

readonly vip=198.18.1.100 be_port=8080
readonly mb=$((1024 * 1024))
readonly httpd="$BATON_REPO/tests/vm/tools/httpd.py"
work=$(mktemp -d)
defer rm -rf "$work"
be_pid=

bctl() {
	ns_exec "$1" "$BATONCTL" "${@:2}"
}

bstat() {
	bctl "$1" -j stats | jq -er ".\"$2\""
}

peer_field() {
	bctl fe -j peer list | jq -r "map(select(.\"node-id\" == 2))[0].\"$1\""
}

peer_is() {
	[ "$(peer_field state)" = "$1" ]
}

active_is() {
	[ "$(bstat "$1" active)" = "$2" ]
}

# left NS: what a node still holds, and both ends' sockets, for a failure
# message: which side of a connection the flow outlived.
left() {
	bctl "$1" -j conn list
	echo "client sockets:"
	ns_exec cl ss -tanoi
	if ip netns list | grep -qw be1; then
		echo "be1 sockets:"
		ns_exec be1 ss -tanoi
	fi
}

front_state_is() {
	bctl fe -j conn list | jq -e --arg s "$1" '[.conns[] | select(.role == "front" and .state == $s)] | length > 0' >/dev/null
}

ms_now() {
	echo $(($(date +%s%N) / 1000000))
}

expected() {
	python3 -c "import random,hashlib,sys; n=int(sys.argv[1]); print(hashlib.sha256(random.Random(n).randbytes(n)).hexdigest())" "$1"
}

# out_rsts NS: the TCP resets namespace NS has sent (OutRsts).
out_rsts() {
	ip netns exec "$1" awk '/^Tcp:/ && ++n == 2 { print $15 }' /proc/net/snmp
}

kill_be() {
	[ -z "$be_pid" ] || kill "$be_pid" 2>/dev/null || true
	be_pid=
}

# be_up: the back-end namespace be1: LAN and control links, server, baton.
be_up() {
	ns_create be1
	lan_join sw be1 198.18.1.3/24
	ip link add eth1 netns be1 type veth peer name c-be1 netns csw
	ip -n csw link set c-be1 master br0 up
	ip -n be1 addr add 198.18.2.2/24 dev eth1
	ip -n be1 link set eth1 up
	mkdir -p "$work/be1"
	echo be1 >"$work/be1/name"
	ns_exec be1 python3 "$httpd" 198.18.1.3 "$be_port" "$work/be1" >>"$work/be1.log" 2>&1 &
	be_pid=$!
	wait_listen be1 "$be_port" 120
	bctl be1 config set node-id 2
	bctl be1 peer add 1 198.18.2.1
}

# downloads N SECS RATE [SIZE]: N downloads of SIZE bytes (default 1 MB)
# through :80 in the background, read at RATE, each limited to SECS; each writes $work/dl.I.rc (curl's exit
# status) and $work/dl.I.
downloads() {
	local i
	for ((i = 1; i <= $1; i++)); do
		(
			rc=0
			ns_exec cl timeout 100 curl -sS --max-time "$2" --limit-rate "$3" \
				-o "$work/dl.$i" "http://$vip/gen/${4:-$mb}" 2>"$work/dl.$i.err" || rc=$?
			ms_now >"$work/dl.$i.end"
			echo "$rc" >"$work/dl.$i.rc"
		) &
	done
}

# pending: one request through :83, whose back-end (be1, no listener on
# that port) answers NACK at once; be1's control link drops everything it
# sends, so the answer never comes and the handoff waits. Writes
# $work/pending.secs (curl's time_total), .end (ms) and .rc (its exit
# status).
pending() {
	failed0=$(bstat fe handoffs-failed)
	refused0=$(bstat fe handoffs-refused)
	ns_exec be1 tc qdisc add dev eth1 root netem loss 100%
	(
		rc=0
		ns_exec cl curl -sS --max-time 20 -o /dev/null -w '%{time_total}' \
			"http://$vip:83/name" >"$work/pending.secs" 2>"$work/pending.err" || rc=$?
		ms_now >"$work/pending.end"
		echo "$rc" >"$work/pending.rc"
	) &
}

# pending_seen: the pending handoff is seen waiting (front flow in state
# handoff), or it already ended: be1 sends nothing any more, so the
# heartbeat timeout may end it before a slow poll sees the flow;
# check_pending tells how it ended.
pending_seen() {
	[ -e "$work/pending.rc" ] || front_state_is handoff
}

# check_pending LABEL CUT_MS: the waiting client was reset within 3 s of
# its request, its handoff failed for want of an answer (not refused), and
# its flow is gone.
check_pending() {
	wait_for -t $((20 * BATON_SLOW)) test -e "$work/pending.rc" || fail "$1: the waiting client still waits"
	check_eq "$1: the pending handoff failed (no answer came)" \
		"$(($(bstat fe handoffs-failed) - failed0))" 1
	check_eq "$1: the pending handoff was not refused" \
		"$(($(bstat fe handoffs-refused) - refused0))" 0
	local rc ms cut
	rc=$(cat "$work/pending.rc")
	ms=$(awk '{printf "%d", $1 * 1000}' "$work/pending.secs")
	cut=$(($(cat "$work/pending.end") - $2))
	log "$1: waiting client: curl rc $rc ($(cat "$work/pending.err")) ${ms} ms after it connected, ${cut} ms after the cut"
	[ "$rc" = 56 ] || [ "$rc" = 52 ] || fail "$1: the waiting client was not reset (curl rc $rc)"
	((ms < 3500 * BATON_SLOW)) || fail "$1: the waiting client was reset only after $ms ms"
	wait_for -t $((10 * BATON_SLOW)) sh -c "! ip netns exec fe $BATONCTL -j conn list | jq -e '.conns[] | select(.vip == \"$vip:83\")' >/dev/null" ||
		fail "$1: the front-end keeps the refused connection's flow"
}

baton_load
lan_setup 1 sw cl fe
lan_create csw
ip link add eth1 netns fe type veth peer name c-fe netns csw
ip -n csw link set c-fe master br0 up
ip -n fe addr add 198.18.2.1/24 dev eth1
ip -n fe link set eth1 up
baton_frontend fe "$vip"
mkdir -p "$work/fe"
echo fe >"$work/fe/name"
ns_exec fe python3 "$httpd" 198.18.1.2 "$be_port" "$work/fe" >"$work/fe.log" 2>&1 &
defer kill $!
wait_listen fe "$be_port" 120
be_up
defer kill_be
bctl fe config set node-id 1
bctl fe peer add 2 198.18.2.2
wait_for -t $((60 * BATON_SLOW)) peer_is up || fail "channel to be1 not up"
# :80 be1 only; :82 be1 and the front-end's own server.
bctl fe service add "$vip:80"
bctl fe backend add "$vip:80" "198.18.1.3:$be_port" peer 2
bctl fe service add "$vip:82"
bctl fe backend add "$vip:82" "198.18.1.3:$be_port" peer 2
bctl fe backend add "$vip:82" "198.18.1.2:$be_port"
bctl fe service add "$vip:83"
bctl fe backend add "$vip:83" 198.18.1.3:9999 peer 2
wait_listen fe 80
wait_listen fe 82
wait_listen fe 83
want=$(expected "$mb")
want4=$(expected $((4 * mb)))
check_eq "before: a handoff to be1" "$(ns_exec cl curl -sS --max-time 20 "http://$vip/name")" be1

# --- 1: the control link goes down ---------------------------------------------

connects0=$(peer_field connects)
# A kept-alive connection that stays idle across the cut: neither node can
# tell the other it ended; the back-end resets it once the front-end was
# silent and the connection idle for five heartbeat timeouts, and the
# front-end frees its flow after as long.
ns_exec cl python3 "$BATON_REPO/tests/vm/tools/clients.py" idle "$vip" 80 1000 $((90 * BATON_SLOW)) "$work/idle" &
wait_for -t $((30 * BATON_SLOW)) front_state_is forwarding || fail "1: the idle connection was not handed off"
# 4 MB at 100 KB/s: 40 s, long enough to see all ten at once on a busy
# host.
downloads 10 90 100k $((4 * mb))
wait_for -t $((60 * BATON_SLOW)) sh -c "ip netns exec fe $BATONCTL -j stats | jq -e '.active >= 10'" ||
	fail "1: the downloads were not all handed off"
rm -f "$work/pending.rc"
pending
wait_for -t $((10 * BATON_SLOW)) pending_seen || fail "1: no handoff waiting"
cut=$(ms_now)
ip -n be1 link set eth1 down
log "1: be1's control link down"
check_pending 1 "$cut"
wait_for -t $((10 * BATON_SLOW)) peer_is down || fail "1: the front-end did not notice"
log "1: peer down after $(($(ms_now) - cut)) ms"
t0=$(ms_now)
rc=0
msg=$(ns_exec cl curl -sS --max-time 10 "http://$vip/name" 2>&1) || rc=$?
ms=$(($(ms_now) - t0))
log "1: new connection, peer down: curl rc $rc after $ms ms: $msg"
[ "$rc" = 56 ] || [ "$rc" = 52 ] || fail "1: want a reset, got rc $rc"
((ms < 2000 * BATON_SLOW)) || fail "1: reset took $ms ms"
check_eq "1: peer down, a service with a local back-end" \
	"$(ns_exec cl curl -sS --max-time 10 "http://$vip:82/name")" fe
for i in $(seq 1 10); do
	wait_for -t $((120 * BATON_SLOW)) test -e "$work/dl.$i.rc" || fail "1: download $i hangs"
	check_eq "1: download $i during the cut: curl rc" "$(cat "$work/dl.$i.rc")" 0
	check_eq "1: download $i during the cut: sha256" "$(sha256sum <"$work/dl.$i" | cut -d' ' -f1)" "$want4"
done
for ns in fe be1; do
	wait_for -t $((30 * BATON_SLOW)) active_is "$ns" 0 || fail "1: $ns keeps flows: $(left "$ns")"
done
log "1: no flow left on either node"
wait_for -t $((30 * BATON_SLOW)) test -e "$work/idle" || fail "1: the idle client still waits"
check_eq "1: the connection idle across the cut" "$(cat "$work/idle")" reset
ns_exec be1 tc qdisc del dev eth1 root
ip -n be1 link set eth1 up
wait_for -t $((60 * BATON_SLOW)) peer_is up || fail "1: the channel did not come back"
check_eq "1: channel connects" "$(peer_field connects)" $((connects0 + 1))
got=$(ns_exec cl curl -sS --max-time 30 "http://$vip/gen/$mb" | sha256sum | cut -d' ' -f1)
check_eq "1: fresh handoff after the link returned, sha256" "$got" "$want"

# --- 2: the back-end dies --------------------------------------------------------

# Its links go first (power cut), then its server and its namespace: nothing
# can tell the clients whose downloads it served; they end at their own
# time limit (curl --max-time 40), and the front-end frees their flows
# after their FIN.
rm -f "$work"/dl.*
# 16 MB: more than the client's receive buffer can hold.
downloads 10 40 20k $((16 * mb))
wait_for -t $((60 * BATON_SLOW)) sh -c "ip netns exec fe $BATONCTL -j stats | jq -e '.active >= 10'" ||
	fail "2: the downloads were not all handed off"
rm -f "$work/pending.rc"
pending
wait_for -t $((10 * BATON_SLOW)) pending_seen || fail "2: no handoff waiting"
cut=$(ms_now)
ip -n be1 link del eth1
ip -n be1 link del eth0
kill_be
ip netns del be1
log "2: be1's links deleted, server killed, namespace deleted"
check_pending 2 "$cut"
wait_for -t $((10 * BATON_SLOW)) peer_is down || fail "2: the front-end did not notice"
log "2: peer down after $(($(ms_now) - cut)) ms"
for i in $(seq 1 10); do
	wait_for -t $((60 * BATON_SLOW)) test -e "$work/dl.$i.rc" || fail "2: download $i hangs beyond its limit"
	rc=$(cat "$work/dl.$i.rc")
	# What a download that ended otherwise met, and which side sent resets.
	[ "$rc" = 28 ] || log "2: download $i: curl rc $rc ($(cat "$work/dl.$i.err"))" \
		"$(($(cat "$work/dl.$i.end") - cut)) ms after the cut; TCP resets sent by fe $(out_rsts fe), by cl $(out_rsts cl)"
	check_eq "2: download $i: curl rc (its own time limit)" "$rc" 28
done
wait_for -t $((40 * BATON_SLOW)) active_is fe 0 || fail "2: the front-end keeps flows: $(left fe)"
log "2: no flow left on the front-end"
be_up
wait_for -t $((60 * BATON_SLOW)) peer_is up || fail "2: the channel did not come back"
got=$(ns_exec cl curl -sS --max-time 30 "http://$vip/gen/$mb" | sha256sum | cut -d' ' -f1)
check_eq "2: fresh handoff to the new back-end, sha256" "$got" "$want"
for ns in fe be1; do
	wait_for -t $((30 * BATON_SLOW)) active_is "$ns" 0 || fail "$ns keeps flows at the end: $(left "$ns")"
done
kill_be
baton_unload
log "all checks passed"
