#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench` (bench/run.sh), its front-end group part (issue 15,
# "Benchmark"); `make bench-cluster` runs it alone. A scenario for
# tests/vm/run.sh: namespaces in one guest, as the cluster-ecmp test
# (tests/vm/scenarios/cluster-ecmp.sh), with nginx on the back-ends:
#
#   cl 198.18.10.2 -- rt 198.18.10.1 / 198.18.1.1 -- switch 198.18.1.0/24:
#   fe1 .2, fe2 .3, fe3 .4 (node ids 1-3, VIP on lo), be1 .5, be2 .6 (4, 5)
#
# Parts, one JSON line each to $BATON_OUT/cluster.jsonl:
#   - replication: the router sends the VIP to fe1 only; wrk opens a new
#     connection per request (/1k, 16 at a time) for bench.duration
#     seconds, fe1 alone ("off") and fe1 in a group with fe2 ("on": each
#     handoff copied to fe2 before the back-end is asked, REPLICA and
#     REPLICA_END after), alternately, bench.rounds times each. Rate
#     (wrk's requests/s), handoffs (fe1's handoffs-ok), and the CPU time of
#     fe1's and fe2's kernel threads (the handoff's work: accept, read,
#     framing, HMAC, copies; told apart by the threads each namespace's
#     configuration started) and of the whole guest, per handoff;
#   - failover, with copies 1 and copies all: 200 paced downloads through
#     a resilient nexthop group of fe1-fe3; once all forward, the nodes'
#     tables (active and common entries, bytes), then fe1 crashes (its
#     link cut and its nexthop removed at once: the upstream's own
#     convergence is immediate); how many downloads finish byte-complete,
#     and each one's longest stall between two reads at the client
#     (loadclient.py), fe1's connections apart from the others.
#
# Parameters from the kernel command line: bench.duration=SECS
# bench.rounds=N bench.conns=N (failover connections, default 200)
# bench.parts=replication,failover bench.copies=1,all (the failover's
# rounds) bench.auth=0 (channels without a key: no HMAC on the frames)
# bench.perf=1 (the first replication round with and without copies
# profiles front-end 1's threads, `perf record -g -t`, 999 samples a
# second, to $BATON_OUT/perf.rep.<copies>.flat.txt and .script.gz, which
# bench/perf_share.py reads). Each failover round's client results
# (loadclient.py's JSON, the connections each front-end forwarded) stay in
# $BATON_OUT.
#
# guests: 1
# memory: 2G
# cpus: 2
# timeout: 1500
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$BATON_REPO/tests/vm/lib.sh"

require_cmd ip python3 jq wrk nginx

param() {
	cmdline_param "bench.$1" "$2"
}
duration=$(param duration 5)
rounds=$(param rounds 1)
conns=$(param conns 200)
parts=$(param parts replication,failover)
copies_list=$(param copies 1,all)
auth=$(param auth 1)
perf=$(param perf 0)
for v in "$duration" "$rounds" "$conns"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || fail "bad parameter '$v'"
done
readonly vip=198.18.2.100 client=198.18.10.2
readonly out=$BATON_OUT/cluster.jsonl
# Failover downloads: 1 MB at 32 KB/s each, some 30 s.
readonly size=$((1024 * 1024)) rate=32768
readonly loadclient=$BATON_REPO/tests/vm/tools/loadclient.py
work=$(mktemp -d)
defer rm -rf "$work"
chmod 755 "$work"
: >"$out"

ulimit -n 100000
baton_load
ecmp_cluster "$vip" "$client"
ns_exec cl sysctl -qw net.ipv4.tcp_rmem="4096 65536 131072" net.ipv4.ip_local_port_range="10000 65000" \
	net.ipv4.tcp_tw_reuse=1
for i in 1 2 3; do
	ip -n rt nexthop add id "$i" via "$(lan_addr 1 $((i + 1)))" dev eth0
done

# nginx on each back-end's :8080, /1k and /big from tmpfs.
mkdir -p "$work/www"
head -c 1024 /dev/urandom >"$work/www/1k"
head -c "$size" /dev/urandom >"$work/www/big"
chmod -R a+rX "$work/www"
for be in be1 be2; do
	d=$work/nginx.$be
	mkdir -p "$d"
	cat >"$d/nginx.conf" <<EOF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 20000; }
http {
	access_log off;
	sendfile on;
	default_type application/octet-stream;
	server { listen 8080 backlog=4096; root $work/www; }
}
EOF
	ns_exec "$be" nginx -c "$d/nginx.conf" -p "$d" || fail "$be: nginx did not start"
	defer sh -c "kill \$(cat $d/nginx.pid) 2>/dev/null"
	wait_listen "$be" 8080
done

# The kernel threads of baton (comm baton-*), sorted.
threads() {
	pgrep '^baton-' | sort || true
}
declare -A node=([fe1]=1 [fe2]=2 [fe3]=3 [be1]=4 [be2]=5)
declare -A tids
addr_of() { lan_addr 1 $((node[$1] + 1)); }
# Each namespace's configuration starts its threads (service listeners'
# workers, one per peer): the new ones are its.
for ns in fe1 fe2 fe3 be1 be2; do
	threads >"$work/threads.before"
	bctl "$ns" config set node-id "${node[$ns]}" heartbeat-timeout-ms 2000 idle-timeout-ms 10000
	[ "$auth" = 0 ] || bctl "$ns" config set key "$BATON_TEST_KEY"
	for other in fe1 fe2 fe3 be1 be2; do
		[ "$other" = "$ns" ] && continue
		[ "${ns:0:2}" = be ] && [ "${other:0:2}" = be ] && continue
		bctl "$ns" peer add "${node[$other]}" "$(addr_of "$other")"
	done
	if [ "${ns:0:2}" = fe ]; then
		bctl "$ns" service add "$vip:80" scheduler rr
		bctl "$ns" backend add "$vip:80" "$(addr_of be1):8080" peer 4
		bctl "$ns" backend add "$vip:80" "$(addr_of be2):8080" peer 5
	fi
	threads >"$work/threads.after"
	tids[$ns]=$(comm -13 "$work/threads.before" "$work/threads.after" | tr '\n' ' ')
done
for ns in fe1 fe2 fe3 be1 be2; do
	wait_for -t $((30 * BATON_SLOW)) sh -c "ip netns exec $ns $BATONCTL -j peer list | jq -e 'all(.[]; .state == \"up\")' >/dev/null" ||
		fail "$ns: channels not all up"
done
wait_listen fe1 80

# group FE...: the front-ends FE form a group (each lists the others);
# returns once each reports itself synced. No FE: no group at all.
group() {
	local fe other
	for fe in fe1 fe2 fe3; do
		for other in fe1 fe2 fe3; do
			[ "$other" = "$fe" ] && continue
			bctl "$fe" cluster del "${node[$other]}" 2>/dev/null || true
		done
	done
	for fe in "$@"; do
		for other in "$@"; do
			[ "$other" = "$fe" ] || bctl "$fe" cluster add "${node[$other]}"
		done
	done
	for fe in "$@"; do
		wait_for -t $((30 * BATON_SLOW)) sh -c "ip netns exec $fe $BATONCTL -j cluster show | jq -e '[.members[] | select(.state != \"down\")] | length == $#' >/dev/null && ip netns exec $fe $BATONCTL -j cluster show | jq -e 'all(.members[] | select(.state == \"self\"); .synced)' >/dev/null" ||
			fail "$fe: the group of $* is not synced: $(bctl "$fe" cluster show)"
	done
}
# cpu_ticks PID...: their user + system time, in clock ticks.
cpu_ticks() {
	local p t=0
	for p in "$@"; do
		[ -r "/proc/$p/stat" ] || continue
		# Fields 14 and 15 (utime, stime), after the parenthesised comm.
		t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }')))
	done
	echo "$t"
}
# busy_ticks: the guest's busy time (all CPUs, not idle or iowait).
busy_ticks() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat
}
hz=$(getconf CLK_TCK)
# sent FE: the frames FE sent its peers and the socket writes that carried
# them ("FRAMES WRITES"; fewer writes when frames went together).
sent() {
	bctl "$1" -j peer list | jq -r '"\(map(."msgs-out") | add // 0) \(map(."writes-out") | add // 0)"'
}

# --- replication: handoffs with copies on and off ---------------------------
ip -n rt route add "$vip/32" via "$(addr_of fe1)" dev eth0
replication() {
	local copies=$1 round=$2 h0 c1 c2 b0 rps h c1d c2d bd s0 s1 prof=
	if [ "$copies" = off ]; then group; else group fe1 fe2; fi
	s0=$(sent fe1)
	if ((perf && round == 1)); then
		# shellcheck disable=SC2086 # thread ids
		perf record -q -g -F 999 -t "$(echo ${tids[fe1]} | tr ' ' ,)" -o "$work/perf.data" \
			-- sleep 3000 2>/dev/null &
		prof=$!
	fi
	# shellcheck disable=SC2086 # thread ids
	h0=$(baton_stat fe1 handoffs-ok) c1=$(cpu_ticks ${tids[fe1]}) c2=$(cpu_ticks ${tids[fe2]}) b0=$(busy_ticks)
	rps=$(ns_exec cl wrk -t1 -c16 -d"${duration}s" --timeout 5s -H "Connection: close" "http://$vip/1k" |
		awk '/^Requests\/sec/ { print $2 }')
	# shellcheck disable=SC2086
	h=$(($(baton_stat fe1 handoffs-ok) - h0)) c1d=$(($(cpu_ticks ${tids[fe1]}) - c1)) c2d=$(($(cpu_ticks ${tids[fe2]}) - c2))
	bd=$(($(busy_ticks) - b0))
	s1=$(sent fe1)
	if [ -n "$prof" ]; then
		kill -INT "$prof"
		wait "$prof" || true
		timeout 300 perf report -i "$work/perf.data" --stdio --no-children --sort sym -g none \
			--percent-limit 0.3 >"$BATON_OUT/perf.rep.$copies.flat.txt" 2>&1 || true
		timeout 300 perf script -i "$work/perf.data" -F comm,ip,sym 2>/dev/null |
			gzip >"$BATON_OUT/perf.rep.$copies.script.gz" || true
		rm -f "$work/perf.data"
	fi
	((h > 0)) || fail "replication $copies: no handoff"
	jq -cn --arg copies "$copies" --argjson round "$round" --argjson rps "${rps:-0}" --argjson handoffs "$h" \
		--argjson secs "$duration" --argjson fe "$c1d" --argjson backup "$c2d" --argjson guest "$bd" --argjson hz "$hz" \
		--argjson frames "$((${s1% *} - ${s0% *}))" --argjson writes "$((${s1#* } - ${s0#* }))" \
		'{part: "replication", copies: $copies, round: $round, secs: $secs, rps: $rps, handoffs: $handoffs,
		  fe_cpu_us: ($fe / $hz * 1e6 / $handoffs), backup_cpu_us: ($backup / $hz * 1e6 / $handoffs),
		  guest_cpu_us: ($guest / $hz * 1e6 / $handoffs), frames_out: $frames, writes_out: $writes}' >>"$out"
	log "replication $copies, round $round: $rps requests/s, $h handoffs, fe1 threads $((c1d * 1000000 / hz / h)) us and fe2's $((c2d * 1000000 / hz / h)) us a handoff"
	# Every connection over: the next round starts from empty tables.
	wait_for -t $((60 * BATON_SLOW)) sh -c "[ \$(ip netns exec fe1 $BATONCTL -j stats | jq .active) -eq 0 ]" ||
		fail "fe1 keeps $(baton_stat fe1 active) connections"
}
if [[ ,$parts, == *,replication,* ]]; then
	for ((r = 1; r <= rounds; r++)); do
		replication off "$r"
		replication 1 "$r"
	done
fi
ip -n rt route del "$vip/32"

# --- failover: a front-end crashes under 200 forwarding connections ---------
ip -n rt nexthop add id 10 group 1/2/3 type resilient buckets 64
ip -n rt route add "$vip/32" nhid 10
forwarding() {
	local total=0 fe
	for fe in fe1 fe2 fe3; do
		total=$((total + $(bctl "$fe" -j conn list state forwarding | jq '.conns | length')))
	done
	[ "$total" -eq "$conns" ]
}
# tables FE...: each one's active and common entries and their bytes.
tables() {
	local fe
	for fe in "$@"; do
		bctl "$fe" -j stats | jq -c --arg fe "$fe" '{($fe): {active, common, memory, "common-memory"}}'
	done | jq -cs 'add'
}
failover() {
	local copies=$1 t1 fe1_ports res tab p0 r0
	for fe in fe1 fe2 fe3; do
		bctl "$fe" config set copies "$copies"
	done
	p0=$(baton_sum promoted fe2 fe3)
	r0=$(baton_sum relayed fe2 fe3)
	group fe1 fe2 fe3
	ns_exec cl timeout 600 python3 "$loadclient" "$vip" 80 /big "$conns" 0 0 "$rate" 120 "$work/load.$copies" \
		>/dev/null 2>&1 &
	local pid=$!
	wait_for -t $((120 * BATON_SLOW)) forwarding ||
		fail "copies $copies: not all $conns connections forward: $(for fe in fe1 fe2 fe3; do
			bctl "$fe" -j stats | jq -c --arg fe "$fe" '{($fe): {active, common, pending, promoted, relayed}}'
		done | tr '\n' ' ')"
	tab=$(tables fe1 fe2 fe3)
	for fe in fe1 fe2 fe3; do
		bctl "$fe" -j conn list state forwarding >"$BATON_OUT/failover.$copies.$fe.json"
	done
	fe1_ports=$(jq -c '[.conns[].client | split(":")[1] | tonumber]' "$BATON_OUT/failover.$copies.fe1.json")
	t1=$(date +%s.%N)
	ip -n fe1 link set eth0 down
	ip -n rt nexthop del id 1
	wait "$pid" || true
	cp "$work/load.$copies" "$BATON_OUT/failover.$copies.load.json"
	for fe in fe1 fe2 fe3 be1 be2; do
		bctl "$fe" -j stats >"$BATON_OUT/failover.$copies.$fe.stats.json"
	done
	res=$(jq -c --argjson fe1 "$fe1_ports" --argjson t1 "$t1" '
		{outcomes,
		 fe1_outcomes: ([.ended[] | select(.[4] as $p | $fe1 | index($p)) | .[2]] | group_by(.) | map({(.[0]): length}) | add),
		 fe1: [.ended[] | select(.[4] as $p | $fe1 | index($p)) | .[6] * 1000 | floor],
		 others: [.ended[] | select(.[4] as $p | $fe1 | index($p) | not) | .[6] * 1000 | floor],
		 done_s: ([.ended[][1]] | max - $t1)}' "$work/load.$copies")
	jq -cn --arg copies "$copies" --argjson conns "$conns" --argjson res "$res" --argjson tables "$tab" \
		--argjson promoted $(($(baton_sum promoted fe2 fe3) - p0)) \
		--argjson relayed $(($(baton_sum relayed fe2 fe3) - r0)) \
		'{part: "failover", copies: $copies, conns: $conns, tables: $tables, promoted: $promoted,
		  relayed: $relayed} + $res' >>"$out"
	log "failover, copies $copies: $(jq -c .outcomes <<<"$res"), fe1's $(jq '.fe1 | length' <<<"$res") connections' longest stall $(jq '.fe1 | max' <<<"$res") ms"
	# fe1 comes back (its default route with its link); its stale flows
	# idle out (idle-timeout-ms), and the router's group is made anew (a
	# resilient group gives a nexthop that returns only buckets that were
	# idle for two minutes).
	ip -n fe1 link set eth0 up
	ip -n fe1 route add default via 198.18.1.1
	ip -n rt nexthop add id 1 via "$(addr_of fe1)" dev eth0
	ip -n rt route del "$vip/32"
	ip -n rt nexthop del id 10
	ip -n rt nexthop add id 10 group 1/2/3 type resilient buckets 64
	ip -n rt route add "$vip/32" nhid 10
	for fe in fe1 fe2 fe3; do
		wait_for -t $((60 * BATON_SLOW)) sh -c "[ \$(ip netns exec $fe $BATONCTL -j stats | jq '.active + .common') -eq 0 ]" ||
			fail "$fe keeps $(baton_stat "$fe" active) connections and $(baton_stat "$fe" common) copies"
	done
}
if [[ ,$parts, == *,failover,* ]]; then
	for c in ${copies_list//,/ }; do
		failover "$c"
	done
fi
log "all parts done"
