#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Listing connections at scale (issue 14, point 6): a few thousand handed-off
# connections held open (tests/vm/tools/hold.py), namespaces in one guest,
# listed with conn-get's dump. Checks:
#   - batonctl conn list lists exactly all of them: as many as stats active,
#     every connection once, the very ones the client holds, as text and
#     JSON (and the time it takes);
#   - each filter (service, backend, peer, state, role, client, and
#     several at once) returns exactly the matching subset of the full
#     listing, and the back-end's own listing agrees with the front-end's;
#   - YNL (tools/net/ynl/cli.py) dumps the same, also reading 4000 bytes at
#     a time: about 20 connections a message against 16 a bucket, so that
#     buckets are taken back out of full messages and resent whole, and the
#     larger ones are split between reads;
#   - dumps made while other connections open and close list no connection
#     twice and every held one: batonctl's are never interrupted (no bucket
#     is larger than its messages), YNL's small ones only if the kernel
#     marked them so;
#   - once the clients closed, no connection is left on any node.
#
# BATON_DUMP_CONNS (default 4000, 800 on the debug kernel) sets how many
# connections the first service holds; the second holds 100.
#
# guests: 1
# memory: 1G
# timeout: 900
#
#                       switch ns "sw" (br0)            198.18.1.0/24
#        /             |                 |               \
#   cl .1, .11    fe .2 (VIP .100)     be1 .3           be2 .4
#   hold.py       baton node 1         node 2           node 3
#   clients       :80 -> be1, be2      hold.py :8080,   hold.py :8080
#                 :81 -> be1           :8081
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip python3 jq ss

readonly vip=198.18.1.100 be1=198.18.1.3 be2=198.18.1.4 cl2=198.18.1.11
readonly n=${BATON_DUMP_CONNS:-$((4000 / BATON_SLOW))} m=100
readonly hold="$BATON_REPO/tests/vm/tools/hold.py" clients="$BATON_REPO/tests/vm/tools/clients.py"
work=$(mktemp -d)
defer rm -rf "$work"

# 256 buckets (the fewest): about 16 connections a bucket, so that the
# buffers of a dump end inside buckets all the time.
baton_load conn_tab_bits=8
lan_setup 1 sw cl fe be1 be2
ns_exec cl ip addr add "$cl2/24" dev eth0
baton_frontend fe "$vip"
# One process holds thousands of sockets.
ulimit -n 65536

for s in "be1 $be1 8080" "be1 $be1 8081" "be2 $be2 8080"; do
	read -r ns addr port <<<"$s"
	ns_exec "$ns" python3 "$hold" server "$addr" "$port" >"$work/server.$ns.$port" 2>&1 &
	defer kill $!
	wait_listen "$ns" "$port"
done
baton_star fe 198.18.1.2 be1 "$be1" be2 "$be2"
bctl fe service add "$vip:80" scheduler rr
bctl fe backend add "$vip:80" "$be1:8080" peer 2
bctl fe backend add "$vip:80" "$be2:8080" peer 3
# Handoffs queue at the back-ends, which replay them one at a time: room
# for a busy host.
bctl fe config set handoff-timeout-ms $((BATON_SLOW > 1 ? 30000 : 10000))
# The held connections idle through the whole run, which on a debug
# kernel outlasts the default idle timeout (300 s).
for ns in fe be1 be2; do
	bctl "$ns" config set idle-timeout-ms 3600000
done
bctl fe service add "$vip:81"
bctl fe backend add "$vip:81" "$be1:8081" peer 2
wait_listen fe 80
wait_listen fe 81

stat() {
	baton_stat "$1" "$2"
}

# hold NAME PORT N: N connections to the VIP's PORT from both client
# addresses, 16 handshakes at a time, held until $work/NAME.stop exists;
# their local ends go to $work/NAME.held.
hold() {
	SRC="198.18.1.1 $cl2" PARALLEL=16 ns_exec cl python3 "$hold" client "$vip" "$2" "$3" \
		"$work/$1.held" "$work/$1.stop" >"$work/$1.log" 2>&1 &
	defer touch "$work/$1.stop"
}
t0=$SECONDS
hold a 80 "$n"
hold b 81 "$m"
wait_for -t $((600 * BATON_SLOW)) test -e "$work/a.held" || fail "service a: clients not done: $(cat "$work/a.log")"
wait_for -t $((60 * BATON_SLOW)) test -e "$work/b.held" || fail "service b: clients not done: $(cat "$work/b.log")"
log "held in $((SECONDS - t0)) s: a: $(cat "$work/a.log"), b: $(cat "$work/b.log")"
check_eq "connections held on :80" "$(wc -l <"$work/a.held")" "$n"
check_eq "connections held on :81" "$(wc -l <"$work/b.held")" "$m"
total=$((n + m))
wait_for -t 30 sh -c "[ \$(ip netns exec fe $BATONCTL -j stats | jq .active) -eq $total ]" ||
	fail "front-end active: $(stat fe active), want $total"
check_eq "back-end flows" $(($(stat be1 active) + $(stat be2 active))) "$total"

# --- the whole table -------------------------------------------------------

# keys FILE: the sorted "client vip" of each connection of a JSON listing.
keys() {
	jq -r '.conns[] | "\(.client) \(.vip)"' "$1" | sort
}

# ynl_keys FILE: the same of a YNL dump.
ynl_keys() {
	jq -r '.[].conn[0] | "\(."client-addr"):\(."client-port") \(."vip-addr"):\(."vip-port")"' "$1" | sort
}

# same NAME FILE WANT: the lines of FILE are those of WANT.
same() {
	cmp -s "$2" "$3" || fail "$1: $(diff "$3" "$2" | head -5)"
	log "ok: $1 ($(wc -l <"$2") lines)"
}

t0=$(date +%s%N)
bctl fe -j conn list >"$work/all.json"
log "conn list -j of $total connections: $((($(date +%s%N) - t0) / 1000000)) ms"
check_eq "listed (total)" "$(jq .total "$work/all.json")" "$total"
check_eq "listed (conns)" "$(jq '.conns | length' "$work/all.json")" "$total"
check_eq "not interrupted" "$(jq '.interrupted // false' "$work/all.json")" false
check_eq "every connection once" "$(keys "$work/all.json" | uniq | wc -l)" "$total"
sort "$work/a.held" | sed "s/\$/ $vip:80/" >"$work/want"
sort "$work/b.held" | sed "s/\$/ $vip:81/" >>"$work/want"
sort -o "$work/want" "$work/want"
keys "$work/all.json" >"$work/all.keys"
same "the listing is the held connections" "$work/all.keys" "$work/want"
t0=$(date +%s%N)
lines=$(bctl fe conn list | wc -l)
log "conn list | wc -l of $total connections: $((($(date +%s%N) - t0) / 1000000)) ms"
check_eq "text lines (with the header)" "$lines" $((total + 1))
check_eq "connections the front-end's stats count" "$(stat fe active)" "$total"

# --- filters ---------------------------------------------------------------

# filtered NS WHAT JQ WORDS...: `conn list WORDS` in NS lists exactly the
# connections of $work/all.NS.json that JQ selects.
filtered() {
	local ns=$1 what=$2 sel=$3 want got
	shift 3
	bctl "$ns" -j conn list "$@" >"$work/f.json"
	want=$(jq -c "[.conns[] | select($sel) | \"\(.client) \(.vip)\"] | sort" "$work/all.$ns.json")
	got=$(jq -c '[.conns[] | "\(.client) \(.vip)"] | sort' "$work/f.json")
	[ "$got" = "$want" ] || fail "$ns conn list $*: $(jq length <<<"$got") listed, want $(jq length <<<"$want")"
	check_eq "$ns: $what ($*)" "$(jq .total "$work/f.json")" "$(jq length <<<"$want")"
}
cp "$work/all.json" "$work/all.fe.json"
filtered fe "service a" ".vip == \"$vip:80\"" service "$vip:80"
filtered fe "service b" ".vip == \"$vip:81\"" service "$vip:81"
filtered fe "backend be1:8080" ".backend == \"$be1:8080\"" backend "$be1:8080"
filtered fe "backend be2:8080" ".backend == \"$be2:8080\"" backend "$be2:8080"
filtered fe "backend be1:8081" ".backend == \"$be1:8081\"" backend "$be1:8081"
filtered fe "peer 2" '.peer == 2' peer 2
filtered fe "peer 3" '.peer == 3' peer 3
filtered fe "peer local" '.peer == 0' peer local
filtered fe "state forwarding" '.state == "forwarding"' state forwarding
filtered fe "state handoff" '.state == "handoff"' state handoff
filtered fe "role back" '.role == "back"' role back
filtered fe "client address" ".client | startswith(\"$cl2:\")" client "$cl2"
one=$(head -n 1 "$work/a.held")
filtered fe "client address and port" ".client == \"$one\"" client "$one"
filtered fe "service, backend, state and client" \
	".vip == \"$vip:80\" and .backend == \"$be1:8080\" and .state == \"forwarding\" and (.client | startswith(\"198.18.1.1:\"))" \
	service "$vip:80" backend "$be1:8080" state forwarding client 198.18.1.1
check_ge "service a on be1" "$(bctl fe -j conn list service "$vip:80" backend "$be1:8080" | jq .total)" $((n / 4))
check_eq "text with a filter" "$(bctl fe conn list service "$vip:81" | wc -l)" $((m + 1))
# The back-end lists what the front-end handed it.
bctl be1 -j conn list >"$work/all.be1.json"
filtered be1 "role back, established" '.role == "back" and .state == "established"' role back state established
filtered be1 "service b" ".vip == \"$vip:81\"" service "$vip:81" peer 1
bctl be1 -j conn list service "$vip:80" | jq -r '.conns[].client' | sort >"$work/be1.clients"
bctl fe -j conn list service "$vip:80" backend "$be1:8080" | jq -r '.conns[].client' | sort >"$work/fe-be1.clients"
same "be1's connections of service a, seen from both ends" "$work/be1.clients" "$work/fe-be1.clients"
rc=0
bctl fe conn list state closed 2>/dev/null || rc=$?
check_eq "a bad filter is a usage error" "$rc" 2

# --- YNL -------------------------------------------------------------------

ksrc=$(readlink -f "${BATON_KDIR:-/nonexistent}/source")
if [ -f "$ksrc/tools/net/ynl/cli.py" ] && python3 -c 'import yaml' 2>/dev/null; then
	ynl() {
		ns_exec fe python3 "$ksrc/tools/net/ynl/cli.py" --output-json --no-schema \
			--spec "$BATON_REPO/Documentation/netlink/specs/baton.yaml" "$@"
	}
	ynl --dump conn-get >"$work/ynl.json"
	ynl_keys "$work/ynl.json" >"$work/ynl.keys"
	same "ynl dump: the same connections" "$work/ynl.keys" "$work/all.keys"
	# 4000-byte reads; the flags of every message go to stderr.
	ynl --dbg-small-recv --dump conn-get >"$work/ynl-small.json" 2>"$work/ynl-small.dbg"
	log "ynl with 4000-byte reads: $(grep -c '^Recv:' "$work/ynl-small.dbg") reads"
	ynl_keys "$work/ynl-small.json" >"$work/ynl-small.keys"
	same "ynl small reads: the same connections" "$work/ynl-small.keys" "$work/all.keys"
	check_eq "ynl filtered dump (vip-port 81)" \
		"$(ynl --dump conn-get --json '{"conn": {"vip-port": 81}}' | jq length)" "$m"
	check_eq "ynl do: conn-total" "$(ynl --do conn-get | jq '."conn-total"')" "$total"
	check_eq "ynl do: one capped reply" "$(ynl --do conn-get | jq '.conn | length')" $((total < 173 ? total : 173))
else
	log "no tools/net/ynl or python3-yaml: the YNL dumps are skipped"
fi

# --- dumps under churn -----------------------------------------------------

# Connections open and close on :81 while the table is dumped again and
# again; the held ones stay throughout.
churn_s=$((20 * BATON_SLOW))
ns_exec cl timeout $((churn_s + 60)) python3 "$clients" churn "$vip" 81 8 1000 "$churn_s" 100000 \
	"$work/churn.json" >"$work/churn.log" 2>&1 &
churn=$!
wait_for -t 30 sh -c "[ \$(ip netns exec fe $BATONCTL -j stats | jq .active) -gt $total ]" ||
	log "churn: no extra connection seen yet"
dumps=0 sizes="" small=0 small_pid=
# One small-read YNL dump beside batonctl's (it takes some 10 s, half the
# churn: after a first dump it may leave no time for a second).
if declare -F ynl >/dev/null; then
	ynl --dbg-small-recv --dump conn-get >"$work/churn-small.0.json" 2>"$work/churn-small.0.dbg" &
	small_pid=$! small=1
fi
while kill -0 "$churn" 2>/dev/null && ((dumps < 8)); do
	bctl fe -j conn list >"$work/churn.$dumps.json" 2>"$work/churn.$dumps.err"
	sizes="$sizes $(jq .total "$work/churn.$dumps.json")"
	dumps=$((dumps + 1))
done
[ -z "$small_pid" ] || wait "$small_pid" || fail "ynl small-read dump under churn: $(tail -3 "$work/churn-small.0.dbg")"
wait "$churn" || fail "churn: $(cat "$work/churn.log")"
log "churn: $(cat "$work/churn.log"); $dumps dumps during it, of$sizes connections"
check_ge "dumps during the churn" "$dumps" 2
check_ge "churned connections" "$(jq .exact "$work/churn.json")" 1
for ((i = 0; i < dumps; i++)); do
	f=$work/churn.$i.json
	# No bucket holds more than a message: nothing interrupts these dumps.
	check_eq "dump $i under churn: not interrupted" "$(jq '.interrupted // false' "$f")" false
	[ ! -s "$work/churn.$i.err" ] || fail "dump $i: $(cat "$work/churn.$i.err")"
	# A file, not <(...): the guest has no /dev/fd.
	keys "$f" >"$work/churn.$i.keys"
	check_eq "dump $i under churn: every connection once" "$(uniq -d "$work/churn.$i.keys" | wc -l)" 0
	missing=$(comm -23 "$work/want" "$work/churn.$i.keys") || fail "comm: dump $i"
	[ -z "$missing" ] || fail "dump $i under churn misses held connections: $(head -3 <<<"$missing")"
done
log "ok: every dump under churn listed each held connection once"
for ((i = 0; i < small; i++)); do
	# NLM_F_DUMP_INTR (0x10) on a message or the NLMSG_DONE.
	intr=$(grep -cE 'nl_flags = 0x[0-9a-f]*[13579bdf][0-9a-f] ' "$work/churn-small.$i.dbg" || true)
	if ((intr > 0)); then
		# A bucket split between two reads changed meanwhile.
		log "ynl small-read dump $i under churn: $intr messages marked interrupted"
		continue
	fi
	ynl_keys "$work/churn-small.$i.json" >"$work/churn-small.$i.keys"
	check_eq "ynl small-read dump $i under churn: every connection once" \
		"$(uniq -d "$work/churn-small.$i.keys" | wc -l)" 0
	[ -z "$(comm -23 "$work/want" "$work/churn-small.$i.keys")" ] ||
		fail "ynl small-read dump $i under churn misses held connections"
done

# --- the end ---------------------------------------------------------------

touch "$work/a.stop" "$work/b.stop"
for ns in fe be1 be2; do
	wait_for -t $((60 * BATON_SLOW)) sh -c "[ \$(ip netns exec $ns $BATONCTL -j stats | jq .active) -eq 0 ]" ||
		fail "$ns keeps $(stat "$ns" active) connections"
	check_eq "$ns: conn list once all closed" "$(bctl "$ns" -j conn list | jq -c .)" '{"total":0,"conns":[]}'
done
check_eq "handoffs refused or failed" $(($(stat fe handoffs-refused) + $(stat fe handoffs-failed))) 0
baton_unload
log "all checks passed"
