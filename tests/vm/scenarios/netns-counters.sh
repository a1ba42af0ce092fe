#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# baton.ko in one guest, three network namespaces on a bridge: every
# namespace has its own state. Checks, with batonctl as the user runs it:
#   - batonctl says the module is absent (exit 3) before insmod and after rmmod;
#   - the ctrl_port module parameter seeds every namespace's config;
#   - conn_tab_bits and conn_max out of range fail the load with a line
#     naming them; in range, they size every namespace's flow table (the
#     sysfs parameters, and the buckets' memory that stats reports);
#   - config set/show are per namespace;
#   - ping from h1 to h2 grows exactly h1's and h2's hook counters by the
#     packets sent, and h3's not at all; ping -6 grows h1's and h2's IPv6
#     counters (hooks6) by as many at least (neighbour discovery adds
#     its own), and nobody's IPv4 ones;
#   - an unprivileged user may read but gets "permission denied" (exit 4)
#     for config set;
#   - namespaces created and deleted while loaded, then rmmod, leave the
#     kernel clean.
#
# guests: 1
# memory: 512M
# timeout: 240
#
#        switch ns "sw" (br0)
#       /        |        \
#   h1 .1      h2 .2      h3 .3      198.18.1.0/24
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip ping jq setpriv

readonly count=5
readonly param_port=7411
readonly param_bits=10

# hook NS NAME [KEY]: one hook counter of namespace NS, from batonctl -j
# status: IPv4's (KEY hooks, the default) or IPv6's (hooks6).
hook() {
	ns_exec "$1" "$BATONCTL" -j status | jq -er ".${3:-hooks}[\"$2\"]"
}

# snapshot NS [KEY]: the four counters of NS, space separated.
snapshot() {
	local h out=()
	for h in pre-routing local-in local-out post-routing; do
		out+=("$(hook "$1" "$h" "${2:-hooks}")")
	done
	echo "${out[*]}"
}

# check_delta NS BEFORE WANT: every counter of NS grew by exactly WANT.
check_delta() {
	local ns=$1 want=$3 h i=0 before after
	read -r -a before <<<"$2"
	read -r -a after <<<"$(snapshot "$ns")"
	for h in pre-routing local-in local-out post-routing; do
		check_eq "$ns $h delta" $((after[i] - before[i])) "$want"
		i=$((i + 1))
	done
}

test_absent() {
	local rc=0 msg
	msg=$(batonctl status 2>&1) || rc=$?
	check_eq "batonctl status without module: exit code" "$rc" 3
	grep -q "not loaded" <<<"$msg" || fail "unexpected message: $msg"
}

# test_bad_params: parameters out of range refuse the load and say why.
test_bad_params() {
	local p
	for p in conn_tab_bits=7 conn_tab_bits=21 conn_max=0 conn_max=4194305; do
		if insmod "$BATON_KO" "$p" 2>/dev/null; then
			fail "insmod baton.ko $p succeeded"
		fi
		[ ! -e /sys/module/baton ] || fail "baton loaded with $p"
		dmesg | grep -q "baton: ${p%=*} must be between" ||
			fail "no dmesg line for $p"
		log "ok: insmod $p refused"
	done
}

# test_table_params: the table of every namespace has 2^param_bits buckets.
test_table_params() {
	local i
	check_eq "sysfs conn_tab_bits" "$(cat /sys/module/baton/parameters/conn_tab_bits)" "$param_bits"
	check_eq "sysfs conn_max" "$(cat /sys/module/baton/parameters/conn_max)" 1000
	dmesg | grep -q "baton: loaded, .*, $((1 << param_bits)) flow buckets, at most 1000 flows per namespace" ||
		fail "no load line with the table's size"
	for i in 1 2 3; do
		# No flow and no waiting request: the buckets alone, 8 bytes each,
		# of the IPv4 table and of the IPv6 one (a quarter, 256 at least).
		local bits6=$((param_bits > 10 ? param_bits - 2 : 8))
		check_eq "h$i table memory" "$(ns_exec "h$i" "$BATONCTL" -j stats | jq -r .memory)" \
			$(((8 << param_bits) + (8 << bits6)))
	done
}

test_config() {
	local i
	for i in 1 2 3; do
		check_eq "h$i ctrl-port from the module parameter" \
			"$(ns_exec "h$i" "$BATONCTL" -j config show | jq -r '."ctrl-port"')" "$param_port"
		ns_exec "h$i" "$BATONCTL" config set node-id "$((100 + i))"
	done
	ns_exec h2 "$BATONCTL" config set ctrl-port 7500
	for i in 1 2 3; do
		check_eq "h$i node-id" "$(ns_exec "h$i" "$BATONCTL" -j config show | jq -r '."node-id"')" \
			"$((100 + i))"
	done
	check_eq "h1 ctrl-port unchanged" "$(ns_exec h1 "$BATONCTL" -j config show | jq -r '."ctrl-port"')" \
		"$param_port"
	check_eq "h2 ctrl-port" "$(ns_exec h2 "$BATONCTL" config show | cut -d" " -f1-4)" "ctrl-port 7500 node-id 102"
}

test_counters() {
	local b1 b2 b3
	b1=$(snapshot h1)
	b2=$(snapshot h2)
	b3=$(snapshot h3)
	ns_exec h1 ping -c "$count" -i 0.2 -W 5 "$(lan_addr 1 2)" >/dev/null || fail "h1 cannot ping h2"
	# h1 sent count requests (local-out, post-routing) and got count replies
	# (pre-routing, local-in); h2 the other way round; h3 saw nothing.
	check_delta h1 "$b1" "$count"
	check_delta h2 "$b2" "$count"
	check_delta h3 "$b3" 0
	batonctl status
}

test_counters6() {
	local i b1 b2 b3 n h after before
	for i in 1 2 3; do
		ip -n "h$i" addr add "2001:db8:1::$i/64" dev eth0 nodad
	done
	b1=$(snapshot h1)
	b2=$(snapshot h2)
	b3=$(snapshot h3)
	declare -A b6=([h1]="$(snapshot h1 hooks6)" [h2]="$(snapshot h2 hooks6)")
	ns_exec h1 ping -6 -c "$count" -i 0.2 -W 5 2001:db8:1::2 >/dev/null || fail "h1 cannot ping h2 over IPv6"
	check_delta h1 "$b1" 0
	check_delta h2 "$b2" 0
	check_delta h3 "$b3" 0
	for n in h1 h2; do
		read -r -a before <<<"${b6[$n]}"
		read -r -a after <<<"$(snapshot "$n" hooks6)"
		i=0
		for h in pre-routing local-in local-out post-routing; do
			check_ge "$n IPv6 $h delta" $((after[i] - before[i])) "$count"
			i=$((i + 1))
		done
	done
}

test_unprivileged() {
	local rc=0 msg
	ns_exec h1 setpriv --reuid=65534 --regid=65534 --clear-groups "$BATONCTL" status >/dev/null ||
		fail "unprivileged batonctl status failed"
	msg=$(ns_exec h1 setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$BATONCTL" config set node-id 7 2>&1) || rc=$?
	log "unprivileged config set: $msg"
	check_eq "unprivileged config set: exit code" "$rc" 4
	grep -q "permission denied" <<<"$msg" || fail "unexpected message: $msg"
	check_eq "h1 node-id after refused set" \
		"$(ns_exec h1 "$BATONCTL" -j config show | jq -r '."node-id"')" 101
}

test_netns_churn() {
	local i
	for i in 1 2 3 4 5; do
		ip netns add "churn$i"
		ip -n "churn$i" link set lo up
		ip netns exec "churn$i" ping -c 1 -W 2 127.0.0.1 >/dev/null
		check_ge "churn$i local-out" "$(hook "churn$i" local-out)" 1
		ip netns del "churn$i"
	done
}

test_absent
test_bad_params
baton_load ctrl_port=$param_port conn_tab_bits=$param_bits conn_max=1000
lan_setup 1 sw h1 h2 h3
test_table_params
test_config
test_counters
test_counters6
test_unprivileged
test_netns_churn
baton_unload
[ ! -e /sys/module/baton ] || fail "/sys/module/baton still there after rmmod"
test_absent
log "all checks passed"
