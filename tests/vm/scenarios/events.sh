#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Notifications of the events group and `batonctl monitor` (issue 18,
# point 1): a front-end and a back-end, namespaces in one guest, each with
# `batonctl -j monitor` running. Checks:
#   - configuration commands are notified with their command (config-set,
#     peer-add, service-add, backend-add), and peers coming up on both;
#   - a handoff is notified on the front-end (ok, client, vip, back-end,
#     peer), and the connection's end on both nodes (role front and back);
#   - a handoff the back-end refuses (no listener) is notified as refused,
#     reason no-listener;
#   - a peer deleted on the back-end: the front-end's channel goes down,
#     notified;
#   - a stopped reader: 3000 configuration changes go on without it (the
#     kernel never waits for a reader); once it reads again it reports an
#     overrun, and the events it got plus those it lost are exactly 3000;
#     it goes on with the next event.
#
# guests: 1
# memory: 512M
# timeout: 240
#
#   cl .1 --- br0 (ns sw) --- fe .2 node 1, VIP .100 --- be .3 node 2 httpd.py :8080
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip curl python3 jq

readonly vip=198.18.1.100 fe=198.18.1.2 be=198.18.1.3 n=3000
work=$(mktemp -d)
defer rm -rf "$work"

baton_load
lan_setup 1 sw cl fe be
baton_frontend fe "$vip"
httpd_serve be "$be" 8080 "$work/www"

# monitor NS: `batonctl -j monitor` in NS, to $work/ev.NS, stopped on exit;
# returns once it listens (a configuration change of its own shows).
monitor() {
	# ip netns exec runs batonctl in its own process: $! is batonctl.
	ip netns exec "$1" "$BATONCTL" -j monitor >"$work/ev.$1" 2>"$work/ev.$1.err" &
	echo $! >"$work/pid.$1"
	defer kill "$(cat "$work/pid.$1")"
	wait_for -t $((20 * BATON_SLOW)) sh -c "ip netns exec $1 $BATONCTL config set copies 1 &&
		grep -q '\"command\":\"config-set\"' '$work/ev.$1'" ||
		fail "$1: monitor hears nothing: $(cat "$work/ev.$1.err")"
}
# events NS JQ: the events of NS's monitor that JQ (a select) keeps, compact.
events() {
	jq -c "select($2)" "$work/ev.$1"
}
monitor fe
monitor be
ready=$(wc -l <"$work/ev.fe")

baton_star fe "$fe" be "$be"
for ns in fe be; do
	wait_for -t $((20 * BATON_SLOW)) sh -c "grep -q '\"event\":\"peer\".*\"state\":\"up\"' '$work/ev.$ns'" ||
		fail "$ns: no peer up event: $(cat "$work/ev.$ns")"
done
check_eq "fe: peer 2 up" "$(events fe '.event == "peer"' | head -n 1)" '{"event":"peer","peer":2,"state":"up"}'
check_eq "be: peer 1 up" "$(events be '.event == "peer"' | head -n 1)" '{"event":"peer","peer":1,"state":"up"}'
bctl fe service add "$vip:80"
bctl fe backend add "$vip:80" "$be:8080" peer 2
wait_for -t 10 sh -c "grep -q '\"command\":\"backend-add\"' '$work/ev.fe'" || fail "no backend-add event"
check_eq "fe: configuration events" \
	"$(tail -n +"$((ready + 1))" "$work/ev.fe" | jq -r 'select(.event == "config") | .command' | tr '\n' ' ')" \
	"config-set peer-add service-add backend-add "

# A handoff and the connection's end, on both nodes.
wait_listen fe 80
ns_exec cl curl -sS --max-time 20 -o "$work/got" "http://$vip/gen/5000" || fail "curl through the VIP failed"
check_eq "bytes" "$(stat -c %s "$work/got")" 5000
wait_for -t 10 sh -c "grep -q '\"event\":\"handoff\"' '$work/ev.fe'" || fail "no handoff event"
h=$(events fe '.event == "handoff"')
check_eq "handoff event" "$(jq -c '[.result, .vip, .backend, .peer, (.client | startswith("198.18.1.1:")), (.id > 0)]' <<<"$h")" \
	"[\"ok\",\"$vip:80\",\"$be:8080\",2,true,true]"
id=$(jq .id <<<"$h")
for ns in fe be; do
	wait_for -t $((60 * BATON_SLOW)) sh -c "grep -q '\"event\":\"conn-end\"' '$work/ev.$ns'" ||
		fail "$ns: no conn-end event: $(cat "$work/ev.$ns")"
done
check_eq "fe: conn-end" "$(events fe '.event == "conn-end"' | jq -c '[.role, .id, .backend]')" "[\"front\",$id,\"$be:8080\"]"
check_eq "be: conn-end" "$(events be '.event == "conn-end"' | jq -c '[.role, .id, .peer, .vip]')" "[\"back\",$id,1,\"$vip:80\"]"

# A handoff refused: nothing listens on the back-end's port 9.
bctl fe service add "$vip:81"
bctl fe backend add "$vip:81" "$be:9" peer 2
wait_listen fe 81
ns_exec cl curl -sS --max-time 20 -o /dev/null "http://$vip:81/" 2>/dev/null && fail "a refused handoff served"
wait_for -t 10 sh -c "grep -q '\"result\":\"refused\"' '$work/ev.fe'" || fail "no refused handoff event: $(cat "$work/ev.fe")"
check_eq "refused handoff" "$(events fe '.result == "refused"' | jq -c '[.vip, .backend, .reason]')" \
	"[\"$vip:81\",\"$be:9\",\"no-listener\"]"

# The back-end deletes its peer: the front-end's channel goes down.
bctl be peer del 1
wait_for -t $((30 * BATON_SLOW)) sh -c "grep -q '\"state\":\"down\"' '$work/ev.fe'" ||
	fail "fe: no peer down event: $(cat "$work/ev.fe")"
check_eq "fe: peer 2 down" "$(events fe '.state == "down"' | head -n 1)" '{"event":"peer","peer":2,"state":"down"}'

# A reader that stops: the kernel does not wait for it, and it learns how
# many events it lost.
for ((i = 0; i < n; i++)); do
	echo "config set copies $((i % 2 + 1))"
done >"$work/burst.conf"
before=$(wc -l <"$work/ev.fe")
kill -STOP "$(cat "$work/pid.fe")"
t0=$SECONDS
timeout $((60 * BATON_SLOW)) ip netns exec fe "$BATONCTL" restore -f "$work/burst.conf" ||
	fail "the configuration changes did not go through with the reader stopped"
log "$n configuration changes in $((SECONDS - t0)) s with the reader stopped"
kill -CONT "$(cat "$work/pid.fe")"
bctl fe service add "$vip:82"
wait_for -t 30 sh -c "tail -n 1 '$work/ev.fe' | grep -q '\"command\":\"service-add\"}'" ||
	fail "the reader did not go on after the overrun: $(tail -n 3 "$work/ev.fe")"
tail -n +"$((before + 1))" "$work/ev.fe" | head -n -1 >"$work/burst.ev"
lost=$(jq -s '[.[] | select(.event == "overrun") | .lost] | add // 0' "$work/burst.ev")
got=$(jq -s '[.[] | select(.event == "config")] | length' "$work/burst.ev")
log "of $n events: $got read, $lost lost"
check_ge "events lost while the reader was stopped" "$lost" 1
check_eq "events read and lost" $((got + lost)) "$n"
check_eq "monitor errors" "$(cat "$work/ev.fe.err")" ""

baton_unload
log "all checks passed"
