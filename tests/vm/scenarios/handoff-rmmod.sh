#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# rmmod under load (issue 5, point 2), three guests: client, front-end,
# back-end. The client (tests/vm/tools/loadclient.py) keeps BATON_RMMOD_CONNS
# (default 200) slow downloads open through the VIP (1 MB each, read at
# 4 KB/s) and opens 5 new connections a second.
#   A. rmmod on the front-end while they are all being forwarded: rmmod
#      returns; no baton module, thread or socket is left (lsmod, sysfs,
#      ps, ss on the control port and the service port); the front-end
#      forwards no more packets (Ip ForwDatagrams); every client connection
#      ends (reset or refused, none still waiting) within 30 s. insmod and
#      the configuration again: the channel comes back up, and the
#      back-end, seeing another boot id in node 1's HELLO, ends that
#      front-end's connections at once: no flow and no server socket of
#      them left within seconds (they would send for 15 minutes).
#   B. the same with rmmod on the back-end: its server sockets are reset
#      (the RSTs reach the clients rewritten, from the VIP), every client
#      connection ends within 30 s; the front-end sees the peer down and
#      frees every flow; insmod again, the channel comes back up.
#   C. a fresh handoff succeeds after both restarts (1 MB, sha256).
# Finally rmmod everywhere, and with kmemleak (debug kernel) two scans find
# nothing.
#
# guests: 3
# memory: 1024M
# timeout: 900
#
#   guest0 client 198.18.0.1 -- bridge -- 198.18.0.2 front-end guest1
#                                 |       VIP 198.18.0.100, node 1
#                                 +------ 198.18.0.3 back-end guest2, node 2
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip curl python3 sha256sum jq ss

readonly vip=198.18.0.100 be_port=8080
readonly conns=${BATON_RMMOD_CONNS:-200}
readonly bound=$((30 * BATON_SLOW))
readonly httpd="$BATON_REPO/tests/vm/tools/httpd.py"
readonly loadclient="$BATON_REPO/tests/vm/tools/loadclient.py"
work=$(mktemp -d)
defer rm -rf "$work"

bstat() {
	batonctl -j stats | jq -er ".\"$1\""
}

peer_is() {
	[ "$(batonctl -j peer list | jq -r '.[0].state')" = "$1" ]
}

fe_config() {
	baton_frontend - "$vip" 2>/dev/null || true
	batonctl config set node-id 1
	batonctl peer add 2 "$(guest_addr 2)"
	batonctl service add "$vip:80"
	batonctl backend add "$vip:80" "$(guest_addr 2):$be_port" peer 2
	wait_for -t 90 peer_is up || fail "channel to the back-end not up"
	wait_listen - 80
}

be_config() {
	batonctl config set node-id 2
	batonctl peer add 1 "$(guest_addr 1)"
	wait_for -t 90 peer_is up || fail "channel to the front-end not up"
}

active_ge() {
	(($(bstat active) >= $1))
}

taken_ge() {
	(($(bstat taken) >= $1))
}

active_is() {
	[ "$(bstat active)" = "$1" ]
}

# rmmod_checked LABEL: rmmod, then nothing of baton left.
rmmod_checked() {
	local t0=$SECONDS
	baton_unload
	log "$1: rmmod took $((SECONDS - t0)) s"
	check_eq "$1: baton in lsmod" "$(lsmod | grep -c '^baton ' || true)" 0
	[ ! -e /sys/module/baton ] || fail "$1: /sys/module/baton still there"
	check_eq "$1: baton kernel threads" "$(pgrep -c '^baton-' || true)" 0
	# Sockets an owner or a listener would still hold. A channel closed at
	# the unload leaves the stack an orphan (FIN-WAIT, CLOSING, LAST-ACK,
	# TIME-WAIT) when this side closed first, which ends by itself.
	local held
	held=$(ss -Htan state established state syn-sent state syn-recv state close-wait \
		state listening '( sport = :7300 or dport = :7300 )')
	[ -z "$held" ] || log "$1: sockets on the control port: $held"
	check_eq "$1: sockets on the control port" "$(grep -c . <<<"$held" || true)" 0
	check_eq "$1: listeners on the service port" "$(ss -Hltn 'sport = :80' | wc -l)" 0
}

# client_phase NAME: run the load until guest $2 publishes NAME-rmmod, then
# check how every connection ended.
client_phase() {
	local name=$1 who=$2 out="$work/$1.json" pid t_notice last
	timeout 400 python3 "$loadclient" "$vip" 80 /big "$conns" 5 600 4000 60 "$out" "$work/$name.stop" \
		>"$work/$name.log" 2>&1 &
	pid=$!
	publish "$name-started" 1
	fetch "$who" "$name-rmmod" 600 >/dev/null
	t_notice=$(date +%s.%N)
	: >"$work/$name.stop"
	publish "$name-stopped" 1
	(
		sleep 40
		ss -tino state established >"$BATON_OUT/$name-client-ss.txt" 2>&1
	) &
	log "$name: rmmod done on guest $who; progress $(cat "$out.progress" 2>/dev/null)"
	wait "$pid" || fail "$name: load client failed: $(cat "$work/$name.log")"
	cp "$out" "$BATON_OUT/$name.json"
	log "$name: outcomes $(jq -c .outcomes "$out")"
	check_eq "$name: connections still waiting (hung)" "$(jq .outcomes.hung "$out")" 0
	log "$name: connections whose SYNs the front-end's full accept queue dropped until the end: $(jq .outcomes.unanswered "$out")"
	check_ge "$name: connections opened" "$(jq '.ended | length' "$out")" "$conns"
	last=$(jq --argjson t "$t_notice" '[.ended[][1] - $t] | max | floor' "$out")
	log "$name: last connection ended $last s after the rmmod was known"
	((last <= bound)) || fail "$name: a connection ended only $last s after the rmmod"
	check_ge "$name: connections reset or refused" \
		"$(jq '.outcomes.reset + .outcomes.refused' "$out")" "$conns"
	check_eq "$name: connections completed (none can have)" "$(jq .outcomes.complete "$out")" 0
}

setup_guest_net
baton_load

case $BATON_GUEST in
1)
	fe_config
	;;
2)
	mkdir -p "$work/www"
	head -c $((1024 * 1024)) /dev/urandom >"$work/www/big"
	python3 "$httpd" "$(guest_addr 2)" "$be_port" "$work/www" >"$BATON_OUT/httpd.log" 2>&1 &
	defer kill $!
	wait_listen - "$be_port" 120
	be_config
	;;
esac
barrier ready 300

# --- A: the front-end goes away ------------------------------------------------

case $BATON_GUEST in
0)
	client_phase a 1
	;;
1)
	fetch 0 a-started >/dev/null
	wait_for -t 600 active_ge "$conns" || fail "A: only $(bstat active) connections forwarded"
	log "A: $(bstat active) connections, rmmod"
	rmmod_checked A
	fwd0=$(snmp_get - Ip ForwDatagrams)
	publish a-rmmod 1
	sleep 3
	check_eq "A: packets forwarded after rmmod" $(($(snmp_get - Ip ForwDatagrams) - fwd0)) 0
	# No new connection may be served once the module is back, and the
	# back-end first counts the connections it keeps meanwhile.
	fetch 0 a-stopped >/dev/null
	fetch 2 a-held 900 >/dev/null
	baton_load
	fe_config
	publish a-back 1
	;;
2)
	fetch 0 a-started >/dev/null
	fetch 1 a-rmmod 900 >/dev/null
	# Node 1's clients were reset by its stack; the servers here go on
	# sending to them until node 1 comes back with another boot id.
	sleep 3
	held=$(bstat active)
	check_ge "A: back flows of the front-end while it is away" "$held" 1
	publish a-held 1
	fetch 1 a-back 900 >/dev/null
	t0=$SECONDS
	wait_for -t $((10 * BATON_SLOW)) active_is 0 ||
		fail "A: flows of the restarted front-end left: $(bstat active) of $held"
	check_eq "A: server sockets of its clients left" \
		"$(ss -Htn state established "( sport = :$be_port )" | wc -l)" 0
	dmesg | grep -q "peer 1 restarted: the connections shared with it ended ([0-9]* servers reset, [0-9]* flows freed)" ||
		fail "A: no log line of the front-end's restart"
	log "A: the $held connections of the restarted front-end ended within $((SECONDS - t0)) s of its return"
	;;
esac
barrier a-done 900

# --- B: the back-end goes away -------------------------------------------------

case $BATON_GUEST in
0)
	client_phase b 2
	;;
1)
	fetch 2 b-rmmod 900 >/dev/null
	wait_for -t 20 peer_is down || fail "B: the back-end's channel still up"
	wait_for -t 30 active_is 0 || fail "B: flows left: $(batonctl conn list | head)"
	log "B: the front-end freed every flow"
	wait_for -t 120 peer_is up || fail "B: the channel did not come back"
	;;
2)
	taken0=$(bstat taken)
	fetch 0 b-started >/dev/null
	wait_for -t 600 taken_ge $((taken0 + conns)) || fail "B: only $(($(bstat taken) - taken0)) taken"
	log "B: $(bstat active) connections, rmmod"
	rmmod_checked B
	grep -q "handed-off connections reset: their node is going away" <<<"$(dmesg)" ||
		fail "B: the back-end did not reset its connections"
	publish b-rmmod 1
	fetch 0 b-stopped >/dev/null
	baton_load
	be_config
	;;
esac
barrier b-done 900

# --- C: a fresh handoff --------------------------------------------------------

if ((BATON_GUEST == 0)); then
	want=$(python3 -c "import random,hashlib; print(hashlib.sha256(random.Random(1048576).randbytes(1048576)).hexdigest())")
	got=$(timeout 120 curl -sS --max-time 100 "http://$vip/gen/1048576" | sha256sum | cut -d' ' -f1) ||
		fail "C: download after the restarts failed"
	check_eq "C: fresh handoff after both restarts, sha256" "$got" "$want"
fi
barrier c-done 300

if ((BATON_GUEST > 0)); then
	rmmod_checked end
	if [ -w /sys/kernel/debug/kmemleak ]; then
		echo scan >/sys/kernel/debug/kmemleak
		echo scan >/sys/kernel/debug/kmemleak
		leaks=$(grep -c "unreferenced object" /sys/kernel/debug/kmemleak || true)
		[ "$leaks" = 0 ] || head -n 60 /sys/kernel/debug/kmemleak >&2
		check_eq "kmemleak: unreferenced objects after two scans" "$leaks" 0
	fi
fi
log "all checks passed"
