#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A front-end group's membership (issue 15, point 1): three front-ends,
# peers of each other with authenticated channels, each the others' group
# member (`batonctl cluster add`); namespaces in one guest. Checks:
#   - the three agree on one view (same epoch, all three members up) and
#     `cluster show -j` says so on each;
#   - what a member announces is its own: front-end 1 forwards 5 held
#     connections to a back-end, and the other two show member 1's active
#     table at 5, and copies of the 5 spread over 2 and 3 (common);
#   - `service list` counts member 1's 5 connections on its back-end;
#     `stats --prometheus`, read by the Prometheus client's parser, says
#     what the JSON says;
#   - a partition (front-end 3's link down): after the heartbeat timeout
#     1 and 2 agree on {1, 2} under a later epoch and show 3 down; 3 sees
#     itself alone; when the link returns all three agree on {1, 2, 3}
#     under a still later epoch, with the held connections intact;
#   - refusals carry the kernel's message: a member that is no peer, this
#     node's own id, a member twice, deleting a non-member, deleting a peer
#     that is a member, an unprivileged user;
#   - `cluster del` shrinks the view at once; rmmod is clean.
#
# guests: 1
# memory: 512M
# timeout: 300
#
#                      switch ns "sw" (br0)           198.18.1.0/24
#      /          |              |              |             \
#   cl .1      fe1 .2 node 1  fe2 .3 node 2  fe3 .4 node 3   be .5 node 4
#   hold.py    VIP .100 -> be                                hold.py :8080
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip python3 jq setpriv

readonly vip=198.18.1.100 be=198.18.1.5 n=5
readonly hold="$BATON_REPO/tests/vm/tools/hold.py"
work=$(mktemp -d)
defer rm -rf "$work"

baton_load
lan_setup 1 sw cl fe1 fe2 fe3 be
baton_frontend fe1 "$vip"
addr() { lan_addr 1 $(($1 + 1)); }

for i in 1 2 3 4; do
	ns=fe$i
	((i == 4)) && ns=be
	bctl "$ns" config set node-id "$i" key "$BATON_TEST_KEY" heartbeat-timeout-ms 2000
done
for i in 1 2 3; do
	for j in 1 2 3; do
		((i == j)) || bctl "fe$i" peer add "$j" "$(addr "$j")"
	done
done
bctl fe1 peer add 4 "$be"
bctl be peer add 1 "$(addr 1)"
for i in 1 2 3; do
	for j in 1 2 3; do
		((i == j)) || bctl "fe$i" cluster add "$j"
	done
done

# view NS: "EPOCH MEMBERS" of namespace NS's own view: its epoch and the
# members up (self included), sorted.
view() {
	bctl "$1" -j cluster show |
		jq -r '"\(.epoch) \([.members[] | select(.state != "down") | ."node-id"] | sort | join(","))"'
}

# agreed NS... MEMBERS: every NS has MEMBERS up, one epoch among them, and
# each lists every member up as agreeing (same epoch and set announced).
agreed() {
	local want=${*: -1} ns first="" v
	for ns in "${@:1:$#-1}"; do
		v=$(view "$ns")
		[ "${v#* }" = "$want" ] || return 1
		[ -z "$first" ] && first=${v%% *}
		[ "${v%% *}" = "$first" ] || return 1
		bctl "$ns" -j cluster show |
			jq -e '[.members[] | select(.state != "down") | .agrees] | all' >/dev/null || return 1
	done
}

wait_for -t $((30 * BATON_SLOW)) agreed fe1 fe2 fe3 1,2,3 ||
	fail "no agreement on {1,2,3}: $(view fe1) / $(view fe2) / $(view fe3)"
e0=$(view fe1)
e0=${e0%% *}
log "agreed on {1,2,3} at epoch $e0"
bctl fe1 cluster show
check_eq "members listed" "$(bctl fe2 -j cluster show | jq '.members | length')" 3
check_eq "self is listed once" "$(bctl fe2 -j cluster show | jq '[.members[] | select(.state == "self")] | .[0]."node-id"')" 2

# --- what member 1 announces ------------------------------------------------

ns_exec be python3 "$hold" server "$be" 8080 >"$work/server" 2>&1 &
defer kill $!
wait_listen be 8080
bctl fe1 service add "$vip:80"
bctl fe1 backend add "$vip:80" "$be:8080" peer 4
wait_listen fe1 80
PARALLEL=5 ns_exec cl python3 "$hold" client "$vip" 80 "$n" "$work/held" "$work/stop" >"$work/client" 2>&1 &
defer touch "$work/stop"
wait_for -t $((60 * BATON_SLOW)) test -e "$work/held" || fail "clients not done: $(cat "$work/client")"
check_eq "connections held" "$(wc -l <"$work/held")" "$n"
check_eq "member 1's own active table" \
	"$(bctl fe1 -j cluster show | jq '.members[] | select(.state == "self") | .active')" "$n"
# member1_active NS: member 1's active table as NS last heard it.
member1_active() {
	bctl "$1" -j cluster show | jq '.members[] | select(."node-id" == 1) | .active'
}
for ns in fe2 fe3; do
	wait_for -t $((10 * BATON_SLOW)) sh -c "[ \"\$(ip netns exec $ns $BATONCTL -j cluster show |
		jq '.members[] | select(.\"node-id\" == 1) | .active')\" = $n ]" ||
		fail "$ns: member 1 announced $(member1_active "$ns") active, want $n"
done
# Each of member 1's connections has one copy, on 2 or 3 (its backup).
wait_for -t $((10 * BATON_SLOW)) sh -c "[ \"\$(ip netns exec fe2 $BATONCTL -j cluster show |
	jq -c '[.members[].common]')\" = \"\$(ip netns exec fe3 $BATONCTL -j cluster show |
	jq -c '[.members[].common]')\" ]" || fail "fe2 and fe3 do not hear the same common tables"
check_eq "copies of member 1's connections on 2 and 3" \
	"$(bctl fe2 -j cluster show | jq '[.members[] | select(."node-id" != 1) | .common] | add')" "$n"
check_eq "member 1's common table" \
	"$(bctl fe2 -j cluster show | jq '.members[] | select(."node-id" == 1) | .common')" 0

# --- metrics -----------------------------------------------------------------

# What member 1 shows, in the Prometheus text format, read by the
# Prometheus client's own parser and compared with the JSON.
bctl fe1 -j stats >"$work/stats.json"
bctl fe1 -j peer list >"$work/peers.json"
bctl fe1 -j service list >"$work/services.json"
bctl fe1 -j cluster show >"$work/cluster.json"
bctl fe1 stats --prometheus >"$work/metrics.prom"
out=$(python3 "$BATON_REPO/tests/vm/tools/promcheck.py" "$work/metrics.prom" "$work/stats.json" \
	"$work/peers.json" "$work/services.json" "$work/cluster.json" 2>&1) ||
	fail "stats --prometheus: $out"
log "stats --prometheus: $out"
check_eq "handoffs member 1 made" "$(jq '."handoffs-ok"' "$work/stats.json")" "$n"
check_eq "connections member 1 forwards to the back-end (service list)" \
	"$(jq '.[0].backends[0].active' "$work/services.json")" "$n"

# --- a partition -------------------------------------------------------------

ip -n fe3 link set eth0 down
wait_for -t $((15 * BATON_SLOW)) agreed fe1 fe2 1,2 ||
	fail "1 and 2 did not agree on {1,2}: $(view fe1) / $(view fe2)"
e1=$(view fe1)
e1=${e1%% *}
((e1 > e0)) || fail "epoch $e1 after 3 left, not after $e0"
wait_for -t $((15 * BATON_SLOW)) sh -c "[ \"\$(ip netns exec fe3 $BATONCTL -j cluster show |
	jq -r '[.members[] | select(.state != \"down\") | .\"node-id\"] | join(\",\")')\" = 3 ]" ||
	fail "3 does not see itself alone: $(view fe3)"
check_eq "3 as 1 sees it" "$(bctl fe1 -j cluster show | jq -r '.members[] | select(."node-id" == 3) | .state')" down
check_eq "3 as 1 sees it: nothing announced" \
	"$(bctl fe1 -j cluster show | jq -c '.members[] | select(."node-id" == 3) | [.epoch, .agrees, .active]')" \
	"[null,null,null]"
log "partition: 1 and 2 at epoch $e1, 3 alone: $(view fe3)"
ip -n fe3 link set eth0 up
wait_for -t $((30 * BATON_SLOW)) agreed fe1 fe2 fe3 1,2,3 ||
	fail "no agreement on {1,2,3} after the partition: $(view fe1) / $(view fe2) / $(view fe3)"
e2=$(view fe1)
e2=${e2%% *}
((e2 > e1)) || fail "epoch $e2 after 3 came back, not after $e1"
log "healed: all at epoch $e2"
check_eq "held connections still forwarded" "$(baton_stat fe1 active)" "$n"
grep -q "front-end group epoch" <<<"$(dmesg)" || fail "no 'front-end group epoch' line in dmesg"

# --- refusals ----------------------------------------------------------------

expect_error "no peer with this node-id" bctl fe1 cluster add 9
expect_error "this node's own node-id" bctl fe1 cluster add 1
expect_error "already a member" bctl fe1 cluster add 2
expect_error "not a member" bctl fe1 cluster del 9
expect_error "member of the front-end group" bctl fe1 peer del 2
# Each with a hint naming the member and what to do.
expect_error "hint: batonctl peer add 9 ADDR[:PORT] first" bctl fe1 cluster add 9
expect_error "hint: 2 is a member already: batonctl cluster show lists them" bctl fe1 cluster add 2
expect_error "hint: batonctl cluster del 2 first" bctl fe1 peer del 2
rc=0
ns_exec fe1 setpriv --reuid=65534 --regid=65534 --clear-groups "$BATONCTL" cluster del 2 2>/dev/null || rc=$?
check_eq "unprivileged cluster del: exit code" "$rc" 4
ns_exec fe1 setpriv --reuid=65534 --regid=65534 --clear-groups "$BATONCTL" cluster show >/dev/null ||
	fail "unprivileged cluster show failed"
check_eq "members after refusals" "$(bctl fe1 -j cluster show | jq -c '[.members[]."node-id"]')" "[1,2,3]"

# --- deleting a member --------------------------------------------------------

bctl fe1 cluster del 3
v=$(view fe1)
check_eq "fe1's view once 3 is no member" "${v#* }" 1,2
((${v%% *} > e2)) || fail "epoch ${v%% *} after cluster del, not after $e2"
bctl fe1 cluster del 2
check_eq "no group without members" "$(bctl fe1 -j cluster show | jq -c .)" '{"epoch":null,"members":[]}'

touch "$work/stop"
wait_for -t $((30 * BATON_SLOW)) sh -c "[ \$(ip netns exec fe1 $BATONCTL -j stats | jq .active) -eq 0 ]" ||
	fail "fe1 keeps $(baton_stat fe1 active) connections"
grep -q "held $n, failed 0" "$work/client" || fail "client: $(cat "$work/client")"
baton_unload
log "all checks passed"
