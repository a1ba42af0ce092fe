#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench` (bench/run.sh): the guest side of the benchmark, a scenario
# for tests/vm/run.sh. Guest 0 is the client (wrk, curl, bench/scale.py),
# guest 1 the front-end (VIP 198.18.0.100, bench/agent.py on :9100),
# guests 2 and 3 back-ends with nginx on :80 and :8080 serving /1k, /100k,
# /1m, /10m from tmpfs. One boot runs every mode in turn on the same
# kernel: direct, haproxy, ipvs-nat, ipvs-dr, baton, then (issue 17)
# direct6, haproxy6, ipvs-dr6, baton6, the close and kept-alive workloads
# over IPv6 (VIP 2001:db8::100, guest N at 2001:db8::N+1); in the direct and
# baton modes the burst workload (N kept-alive connections opened at once,
# `wrk -cN --timeout 10s`), in the direct, haproxy and baton modes the
# mixed-Host workload (kept-alive, each request's Host a.example or
# b.example, which HAProxy and baton route to back-end 1 and 2), then the
# scale part (baton). The client writes one JSON line per workload to
# $BATON_OUT/results.jsonl; bench/analyze.py turns them into tables/plots.
#
# Parameters come from the kernel command line (bench/run.sh passes them
# with BATON_VM_APPEND): bench.duration=SECS bench.modes=a,b bench.sizes=...
# bench.conc=... bench.conn=close,keepalive bench.scale=1000,10000
# bench.burst=1000 bench.burst_duration=SECS bench.ttfb=N bench.idle=SECS
# bench.mixed=100k,1m bench.mixed_conc=1,16 bench.rounds=N (the modes'
# workloads N times in turn, mixed ones included; burst, scale and profiles
# in the first round only). An empty list (bench.conn=, bench.mixed=)
# leaves that part out.
#
# guests: 4
# memory: 2G
# cpus: 1
# timeout: 3600
#
#   guest0 client 198.18.0.1 -- bridge -- 198.18.0.2 front-end guest1 (node 1)
#                                 +------ 198.18.0.3 back-end 1 guest2 (node 2)
#                                 +------ 198.18.0.4 back-end 2 guest3 (node 3)
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$BATON_REPO/tests/vm/lib.sh"

require_cmd ip curl python3 jq ss wrk nginx haproxy ipvsadm

here=$BATON_REPO/bench
readonly vip=198.18.0.100 fe=198.18.0.2 agent_port=9100
readonly be1=198.18.0.3 be2=198.18.0.4
# IPv6: guest N is 2001:db8::N+1 (its IPv4 address's last byte).
readonly vip6=2001:db8::100 be1_6=2001:db8::3 be2_6=2001:db8::4
# baton.ko's parameters: 2^17 flow buckets, room for 262144 flows.
readonly baton_params="conn_tab_bits=17 conn_max=262144"
# Extra client addresses for the scale part (ports per address run out).
readonly scale_srcs=198.18.0.11,198.18.0.12,198.18.0.13,198.18.0.14

# Parameters from the kernel command line.
param() {
	cmdline_param "bench.$1" "$2"
}
duration=$(param duration 5)
modes=$(param modes direct,haproxy,ipvs-nat,ipvs-dr,baton,direct6,haproxy6,baton6)
sizes=$(param sizes 1k,100k,1m,10m)
concs=$(param conc 1,16,64)
conns=$(param conn close,keepalive)
scale=$(param scale 1000,10000)
# The burst workload: connection counts (empty: none) and seconds each.
burst=$(param burst 1000)
burst_duration=$(param burst_duration 10)
# The mixed-Host workload: response sizes (empty: none) and concurrencies.
mixed=$(param mixed 100k,1m)
mixed_concs=$(param mixed_conc 1,16)
ttfb_n=$(param ttfb 10)
idle_s=$(param idle 1)
# bench.pcap=N: every guest captures its first N packets on eth0 (ports 80
# and 8080, and baton's control channel, 7300) to $BATON_OUT/pcap.<guest>,
# for looking at a mode's packets and a handoff's messages.
pcap=$(param pcap 0)
# bench.perf=1: the front-end (guest 1) and the first back-end (guest 2)
# profile every mode (perf record -a -g, 499 samples a second; a value
# above 1 is the rate) and write `perf report` to
# $BATON_OUT/perf.<mode>.<guest>.txt (call graphs) and .flat.txt (time per
# thread name, inclusive and self time per symbol), and the samples' call
# chains to .script.gz (`perf script`, read by bench/perf_share.py). It
# costs CPU on both: for looking, not for the figures.
perf=$(param perf 0)
perf_hz=499
((perf <= 1)) || perf_hz=$perf
rounds=$(param rounds 1)
# bench.insn=1: each guest's QEMU counts its instructions (bench/insn.c);
# the client marks each workload's CPU window with two files whose host
# modification times bench/insn.py reads those counts at.
insn=$(param insn 0)
# bench.insn_profile=MODE.CONN.SIZE.cCONC: the plugin also counts by block
# over that workload's first round, its idle window (insn-snap.0 and .1
# start and end it) and its CPU window (.2 and .3), and every guest keeps
# its kernel's symbols of that mode (kallsyms.<guest>).
insn_profile=$(param insn_profile '')

work=$(mktemp -d)
defer rm -rf "$work"

# A sleep that forks nothing (sleep(1) is a process: on the front-end a
# polling loop of forks would be CPU the measurement sees).
mkfifo "$work/nap"
exec 9<>"$work/nap"
nap() {
	read -r -t "$1" -u 9 || true
}

# slow_barrier NAME SECS: like lib.sh's barrier, polling every 2 s without forks.
slow_barrier() {
	local name=$1 t=$2 i deadline=$((SECONDS + $2))
	: >"$BATON_OUT/barrier.$name.$BATON_GUEST"
	for ((i = 0; i < BATON_GUESTS; i++)); do
		until [ -e "$BATON_OUT/barrier.$name.$i" ]; do
			((SECONDS < deadline)) || fail "barrier $name: guest $i not there after ${t}s"
			nap 2
		done
	done
	log "barrier $name"
}

# Room for many connections on every guest: the scale part's 100 000, the
# burst's 1000 opened at once (nginx: worker_connections 200000 and a
# listen backlog of 8192 below; baton's listener asks for 1024).
ulimit -n 400000
sysctl -qw net.core.somaxconn=8192 net.ipv4.tcp_max_syn_backlog=16384 \
	net.ipv4.ip_local_port_range="10000 65000" net.ipv4.tcp_tw_reuse=1 \
	net.core.netdev_max_backlog=4096
setup_guest_net
ip addr add "2001:db8::$((BATON_GUEST + 1))/64" dev eth0 nodad
# The last mode of the list that loads baton.ko: its state stays loaded
# after the last round, for the report.
last_baton=
for m in ${modes//,/ }; do
	case $m in baton | baton6) last_baton=$m ;; esac
done

# --- per-role pieces ----------------------------------------------------------

start_nginx() {
	mkdir -p "$work/www" "$work/nginx"
	# nginx's workers are not root: mktemp -d made $work private.
	chmod 755 "$work" "$work/www"
	head -c 1024 /dev/urandom >"$work/www/1k"
	head -c $((100 * 1024)) /dev/urandom >"$work/www/100k"
	head -c $((1024 * 1024)) /dev/urandom >"$work/www/1m"
	head -c $((10 * 1024 * 1024)) /dev/urandom >"$work/www/10m"
	cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile 300000;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 200000; multi_accept on; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_timeout 900s;
	keepalive_requests 10000000;
	default_type application/octet-stream;
	server {
		listen 80 backlog=8192 reuseport;
		listen 8080 backlog=8192 reuseport;
		listen [::]:80 backlog=8192 reuseport ipv6only=on;
		listen [::]:8080 backlog=8192 reuseport ipv6only=on;
		root $work/www;
	}
}
EOF
	nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" || fail "nginx did not start"
	defer sh -c "kill \$(cat $work/nginx/nginx.pid) 2>/dev/null"
	wait_listen - 8080 || fail "nginx not listening"
}

# haproxy_conf VIP BE1 BE2: addresses as HAProxy writes them with a port
# (an IPv6 one in brackets).
haproxy_conf() {
	cat <<EOF
global
	maxconn 200000
	nbthread 1
defaults
	mode http
	timeout connect 5s
	timeout client 900s
	timeout server 900s
	timeout http-keep-alive 900s
frontend vip
	bind $1:80
	acl host_a hdr(host) -i a.example
	acl path_b path_beg /b/
	acl host_b hdr(host) -i b.example
	use_backend be1 if host_a
	use_backend be2 if path_b
	use_backend be2 if host_b
	default_backend all
# The mixed workload's back-ends (the others' Host is the VIP: they go to
# all). Every request is routed on its own; an idle kept-alive connection
# to the server is reused by any client connection, HAProxy's cheapest.
backend be1
	http-reuse always
	server be1 $2:8080
backend be2
	http-reuse always
	server be2 $3:8080
backend all
	balance roundrobin
	server be1 $2:8080
	server be2 $3:8080
EOF
}

# baton_service VIP:PORT BE1:PORT BE2:PORT: baton.ko on the front-end,
# channels to the back-ends, and the service with the rules of the mixed
# workload.
baton_service() {
	# A flow table sized for the scale part (like IPVS's conn_tab_bits),
	# and flows that outlive its slow opening of 100 000 connections.
	baton_load $baton_params
	batonctl config set node-id 1 idle-timeout-ms 3600000
	batonctl peer add 2 "$be1"
	batonctl peer add 3 "$be2"
	wait_for -t 60 sh -c "$BATONCTL -j peer list | jq -e 'map(.state == \"up\") | all' >/dev/null" ||
		fail "channels to the back-ends not up"
	# dispatch request (the default, said so): the mixed workload's
	# connections move at each request whose Host names the other
	# back-end. The other workloads' Host is the VIP, which no rule
	# matches: their connections stay where the scheduler put them.
	batonctl service add "$1" dispatch request
	batonctl backend add "$1" "$2" peer 2
	batonctl backend add "$1" "$3" peer 3
	batonctl rule add "$1" host a.example to "$2"
	batonctl rule add "$1" path /b/ to "$3"
	batonctl rule add "$1" host b.example to "$3"
	batonctl -j service list | jq -e '.[0].dispatch == "request"' >/dev/null ||
		fail "the service does not dispatch each request"
	wait_listen - 80 || fail "baton not listening on the VIP"
}

# mode_setup/mode_teardown MODE: this guest's part of a mode.
mode_setup() {
	case $BATON_GUEST:$1 in
	1:haproxy | 1:haproxy6)
		if [ "$1" = haproxy ]; then
			haproxy_conf "$vip" "$be1" "$be2" >"$work/haproxy.cfg"
		else
			haproxy_conf "[$vip6]" "[$be1_6]" "[$be2_6]" >"$work/haproxy.cfg"
		fi
		haproxy -D -p "$work/haproxy.pid" -f "$work/haproxy.cfg" || fail "haproxy did not start"
		wait_listen - 80 || fail "haproxy not listening"
		;;
	1:ipvs-nat | 1:ipvs-dr)
		# NAT maps the port; DR cannot (the back-ends answer on VIP:80).
		local fwd=-m port=8080
		if [ "$1" = ipvs-dr ]; then
			fwd=-g
			port=80
		fi
		ipvsadm -A -t "$vip:80" -s rr
		ipvsadm -a -t "$vip:80" -r "$be1:$port" "$fwd"
		ipvsadm -a -t "$vip:80" -r "$be2:$port" "$fwd"
		ipvsadm -Ln >&2
		;;
	1:ipvs-dr6)
		# A kernel built without CONFIG_IP_VS_IPV6 refuses it.
		ipvsadm -A -t "[$vip6]:80" -s rr ||
			fail "ipvs-dr6: this kernel's IPVS has no IPv6 (CONFIG_IP_VS_IPV6)"
		ipvsadm -a -t "[$vip6]:80" -r "[$be1_6]:80" -g
		ipvsadm -a -t "[$vip6]:80" -r "[$be2_6]:80" -g
		ipvsadm -Ln >&2
		;;
	[23]:ipvs-dr6)
		# Neighbour discovery answers only for the receiving interface's
		# addresses: no arp_ignore to set.
		ip addr add "$vip6/128" dev lo
		;;
	[23]:ipvs-nat)
		# Replies to the client go back through the director.
		ip route add "$(guest_addr 0)/32" via "$fe" dev eth0
		;;
	[23]:ipvs-dr)
		ip addr add "$vip/32" dev lo
		sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
			net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2
		;;
	1:baton)
		baton_service "$vip:80" "$be1:8080" "$be2:8080"
		;;
	1:baton6)
		# The same service over IPv6; the control channel stays IPv4's.
		baton_service "[$vip6]:80" "[$be1_6]:8080" "[$be2_6]:8080"
		;;
	[23]:baton | [23]:baton6)
		baton_load $baton_params
		batonctl config set node-id "$BATON_GUEST" idle-timeout-ms 3600000
		batonctl peer add 1 "$fe"
		;;
	esac
}

mode_teardown() {
	case $BATON_GUEST:$1 in
	1:haproxy | 1:haproxy6) kill "$(cat "$work/haproxy.pid")" ;;
	1:ipvs-nat | 1:ipvs-dr | 1:ipvs-dr6) ipvsadm -C ;;
	[23]:ipvs-nat)
		ip route del "$(guest_addr 0)/32" via "$fe" dev eth0
		;;
	[23]:ipvs-dr)
		ip addr del "$vip/32" dev lo
		sysctl -qw net.ipv4.conf.all.arp_ignore=0 net.ipv4.conf.all.arp_announce=0 \
			net.ipv4.conf.eth0.arp_ignore=0 net.ipv4.conf.eth0.arp_announce=0
		;;
	[23]:ipvs-dr6)
		ip addr del "$vip6/128" dev lo
		;;
	[123]:baton | [123]:baton6)
		batonctl stats >&2 || true
		# Loaded afresh for the next mode or round; the last one's state
		# stays for the report.
		((round == rounds)) && [ "$1" = "$last_baton" ] || baton_unload
		;;
	esac
}

# --- client ---------------------------------------------------------------------

# agent [PATH [HOST]]: a counter sample from bench/agent.py (front-end default).
agent() {
	curl -sS --max-time 20 "http://${2:-$fe}:$agent_port/${1:-stat}"
}

# The client's own retransmissions (no agent: a python start costs a second).
client_tcp() {
	awk '$1 == "Tcp:" && !h { for (i = 2; i <= NF; i++) n[i] = $i; h = 1; next }
	     $1 == "Tcp:" { for (i = 2; i <= NF; i++) if (n[i] == "RetransSegs" || n[i] == "OutSegs") o = o sprintf("%s\"%s\": %s", o ? ", " : "", n[i], $i); print "{" o "}" }' /proc/net/snmp
}

bytes_of() {
	case $1 in
	1k) echo 1024 ;;
	100k) echo $((100 * 1024)) ;;
	1m) echo $((1024 * 1024)) ;;
	10m) echo $((10 * 1024 * 1024)) ;;
	esac
}

# workload MODE CONN SIZE CONC: one wrk run with samples around it; appends
# one JSON line to results.jsonl. CONN is close, keepalive or burst (kept
# alive, all CONC connections opened at once when wrk starts, a 10 s
# response timeout and bench.burst_duration seconds), or mixed (kept
# alive, each request's Host a.example or b.example at random) or
# mixed-same (kept alive, each of wrk's threads one of the two Hosts for
# all its requests); a mixed line adds the hosts, how they were drawn and,
# in the baton mode, the front-end's `batonctl -j stats` before and after
# (the moves).
workload() {
	local mode=$1 conn=$2 size=$3 conc=$4 url addrs='' threads=1 close=0 wrk_timeout=60s
	# 10 MB responses: 64 of them in flight take seconds each under TCG;
	# three times the duration so that every mode completes some.
	local duration=$duration
	[ "$size" != 10m ] || duration=$((duration * 3))
	if [ "$conn" = burst ]; then
		duration=$burst_duration
		wrk_timeout=10s
	fi
	local idle0 idle1 w0 w1 out ttfb curl_pid b10 b11 b20 b21 c0 c1
	local hosts='' fixed=0 pick='' fb0=null fb1=null moved='' host=''
	case $mode in
	direct)
		url=http://$be1:8080/$size
		addrs="$be1:8080 $be2:8080"
		;;
	direct6)
		host="[$be1_6]:8080"
		addrs="[$be1_6]:8080 [$be2_6]:8080"
		;;
	*6) host="[$vip6]" ;;
	*) url=http://$vip/$size ;;
	esac
	# An IPv6 URL's authority, which is also the Host that wrk sends
	# (its own would lack the brackets).
	[ -z "$host" ] || url=http://$host/$size
	((conc >= 2)) && threads=2
	[ "$conn" = close ] && close=1
	case $conn in
	mixed) hosts="a.example b.example" pick=random ;;
	mixed-same) hosts="a.example b.example" pick=thread fixed=1 ;;
	esac
	local -a hdr=()
	((close)) && hdr=(-H 'Connection: close')
	# The TTFB sampler's one connection keeps one Host: routed like the
	# load's requests, never moved.
	[ -z "$hosts" ] || hdr=(-H "Host: ${hosts%% *}")

	local mark="$BATON_OUT/insn-mark.r$round.$mode.$conn.$size.c$conc" profiled=0
	[ "$round.$mode.$conn.$size.c$conc" != "1.$insn_profile" ] || profiled=1
	((insn == 0)) || : >"$mark.i0"
	((profiled == 0)) || : >"$BATON_OUT/insn-snap.0"
	idle0=$(agent)
	nap "$idle_s"
	idle1=$(agent)
	((profiled == 0)) || : >"$BATON_OUT/insn-snap.1"
	((insn == 0)) || : >"$mark.i1"
	# The moves: baton's counters around the run, outside the CPU window
	# (the /baton sample forks batonctl on the front-end).
	if [ -n "$hosts" ] && [ "$mode" = baton ]; then
		fb0=$(agent baton | jq -c '.baton // null') || fb0=null
	fi
	b10=$(agent stat "$be1")
	b20=$(agent stat "$be2")
	c0=$(client_tcp)
	w0=$(agent)
	((insn == 0)) || : >"$mark.0"
	((profiled == 0)) || : >"$BATON_OUT/insn-snap.2"
	# TTFB sampler alongside the load: one curl, up to ttfb_n sequential
	# requests (new connection each with Connection: close, else reused),
	# stopped with the load.
	(
		nap 0.3
		args=()
		for ((i = 0; i < ttfb_n; i++)); do args+=(-o /dev/null "$url"); done
		exec timeout "$((duration + 5))" curl -gs "${hdr[@]}" \
			-w '%{time_connect} %{time_starttransfer} %{time_total} %{http_code}\n' "${args[@]}"
	) >"$work/ttfb" 2>/dev/null &
	curl_pid=$!
	out=$(BENCH_CLOSE=$close BENCH_ADDRS=$addrs BENCH_HOST=$host BENCH_HOSTS=$hosts BENCH_HOSTS_FIXED=$fixed \
		timeout $((duration + 90)) \
		wrk -t "$threads" -c "$conc" -d "${duration}s" --timeout "$wrk_timeout" -s "$here/wrk.lua" "$url" 2>&1) ||
		log "wrk exit $? ($mode $conn $size c$conc)"
	((profiled == 0)) || : >"$BATON_OUT/insn-snap.3"
	((insn == 0)) || : >"$mark.1"
	w1=$(agent)
	c1=$(client_tcp)
	b11=$(agent stat "$be1")
	b21=$(agent stat "$be2")
	if [ -n "$hosts" ] && [ "$mode" = baton ]; then
		fb1=$(agent baton | jq -c '.baton // null') || fb1=null
	fi
	[ -n "$fb0" ] || fb0=null
	[ -n "$fb1" ] || fb1=null
	kill "$curl_pid" 2>/dev/null || true
	wait "$curl_pid" 2>/dev/null || true
	ttfb=$(awk '$4 == 200 { print $1, $2, $3 }' "$work/ttfb" | jq -R -s -c 'split("\n") | map(select(length > 0) | split(" ") | map(tonumber))')
	local wrkj
	wrkj=$(sed -n 's/^BENCH //p' <<<"$out" | tail -n 1)
	[ -n "$wrkj" ] || { log "no wrk result: $out"; wrkj=null; }
	# The other workloads' lines stay as they were.
	local extra='{}'
	[ -z "$hosts" ] ||
		extra=$(jq -n -c --arg hosts "$hosts" --arg pick "$pick" --argjson fb0 "$fb0" --argjson fb1 "$fb1" \
			'{hosts: $hosts, pick: $pick} + if $fb0 != null and $fb1 != null then {fe_baton: [$fb0, $fb1]} else {} end')
	jq -n -c --arg mode "$mode" --arg conn "$conn" --arg size "$size" --argjson round "$round" \
		--argjson bytes "$(bytes_of "$size")" --argjson conc "$conc" \
		--argjson duration "$duration" --argjson wrk "$wrkj" --argjson ttfb "$ttfb" \
		--argjson idle0 "$idle0" --argjson idle1 "$idle1" --argjson w0 "$w0" --argjson w1 "$w1" \
		--argjson b10 "$b10" --argjson b11 "$b11" --argjson b20 "$b20" --argjson b21 "$b21" \
		--argjson c0 "$c0" --argjson c1 "$c1" --argjson extra "$extra" \
		'{kind: "workload", mode: $mode, round: $round, conn: $conn, size: $size, bytes: $bytes, conc: $conc,
		  duration: $duration, wrk: $wrk, ttfb: $ttfb, idle0: $idle0, idle1: $idle1, w0: $w0, w1: $w1,
		  be: [[$b10, $b11], [$b20, $b21]], client_tcp: [$c0, $c1]} + $extra' \
		>>"$BATON_OUT/results.jsonl"
	[ "$fb0" = null ] || [ "$fb1" = null ] ||
		moved=$(jq -n -r --argjson a "$fb0" --argjson b "$fb1" \
			'", moved \($b.moved - $a.moved), refused \($b["moves-refused"] - $a["moves-refused"]), failed \($b["moves-failed"] - $a["moves-failed"])"') ||
		moved=''
	log "$mode $conn $size c$conc: $(jq -r '"\(.requests) req, p50 \(.lat_p50_us) us, errors \(.err_connect + .err_read + .err_write + .err_status + .err_timeout) (timeouts \(.err_timeout))"' <<<"$wrkj" 2>/dev/null || echo none)$moved"
}

# wait_flows_gone WHAT: wait until the front-end's baton holds no flow (the
# closed connections of a burst or scale size), so that the next part
# starts from an empty table.
wait_flows_gone() {
	wait_for -t 120 sh -c "curl -s http://$fe:$agent_port/baton | jq -e '.baton.active == 0'" ||
		log "$1: flows still active on the front-end"
}

# The burst workload (issue 14): bench.burst kept-alive connections opened at
# once, 1 KB requests, with baton and directly to the back-ends (wrk's two
# threads one at each back-end, like the other direct workloads). One
# client address is enough: each connection is opened once and kept.
client_burst() {
	local mode=$1 n
	for n in ${burst//,/ }; do
		log "burst: $n connections ($mode)"
		workload "$mode" burst 1k "$n"
		[ "$mode" != baton ] || wait_flows_gone "burst $n"
	done
}

# The mixed-Host workload (issue 16): kept-alive connections whose every
# request names a.example or b.example at random, which HAProxy's ACLs
# (haproxy_conf) and baton's rules (mode_setup) send to back-end 1 and 2:
# HAProxy routes each request on its own, baton moves a connection at
# each request that names the other back-end. mixed-same (baton only),
# each connection one Host, is the same load without moves: the cost of
# one move is the difference. direct (nginx ignores the Host) is the
# ceiling.
client_mixed() {
	local mode=$1 size conc kind
	case $mode in direct | haproxy | baton) ;; *) return 0 ;; esac
	for size in ${mixed//,/ }; do
		for conc in ${mixed_concs//,/ }; do
			for kind in mixed mixed-same; do
				[ "$kind" = mixed ] || [ "$mode" = baton ] || continue
				workload "$mode" "$kind" "$size" "$conc"
			done
		done
	done
}

client_mode() {
	local mode=$1 conn size conc
	for conn in ${conns//,/ }; do
		for size in ${sizes//,/ }; do
			for conc in ${concs//,/ }; do
				workload "$mode" "$conn" "$size" "$conc"
			done
		done
	done
	client_mixed "$mode"
	case $mode-$round in direct-1 | baton-1) client_burst "$mode" ;; esac
}

client_scale() {
	local n
	for n in ${scale//,/ }; do
		log "scale: $n connections"
		# 100 000 connections take minutes to open under TCG.
		timeout $((600 + n / 50)) python3 "$here/scale.py" --vip "$vip" --src "$scale_srcs" \
			--agent "http://$fe:$agent_port" --n "$n" |
			jq -c '{kind: "scale"} + .' >>"$BATON_OUT/results.jsonl" ||
			log "scale $n: failed"
		log "scale $n: $(tail -n 1 "$BATON_OUT/results.jsonl" | jq -c '{n, open_ok, open_errors, open_s, list_lines: .list.lines, list_s: .list.s, active_requests, active_errors, active_s}')"
		# Let the closed connections' flows go before the next size.
		wait_flows_gone "scale $n"
	done
}

# --- the run --------------------------------------------------------------------

case $BATON_GUEST in
0)
	for a in ${scale_srcs//,/ }; do ip addr add "$a/24" dev eth0; done
	jq -n -c --arg modes "$modes" --arg sizes "$sizes" --arg conc "$concs" --arg conn "$conns" \
		--arg scale "$scale" --arg burst "$burst" --argjson burst_duration "$burst_duration" \
		--arg mixed "$mixed" --arg mixed_conc "$mixed_concs" \
		--argjson duration "$duration" --argjson ttfb "$ttfb_n" --argjson rounds "$rounds" \
		--argjson idle "$idle_s" --arg kernel "$(uname -r)" --arg wrk "$(wrk -v 2>&1 | head -n 1)" \
		--arg nginx "$(nginx -v 2>&1)" --arg haproxy "$(haproxy -v | head -n 1)" \
		--arg ipvsadm "$(ipvsadm -v 2>&1 | head -n 1)" --arg cpus "$(nproc)" \
		'{kind: "meta", modes: $modes, sizes: $sizes, conc: $conc, conn: $conn, scale: $scale,
		  burst: $burst, burst_duration: $burst_duration, mixed: $mixed, mixed_conc: $mixed_conc, duration: $duration, rounds: $rounds, ttfb_samples: $ttfb, idle_window: $idle, kernel: $kernel,
		  wrk: $wrk, nginx: $nginx, haproxy: $haproxy, ipvsadm: $ipvsadm, guest_cpus: $cpus}' \
		>"$BATON_OUT/results.jsonl"
	;;
1)
	baton_frontend - "$vip"
	ip addr add "$vip6/128" dev eth0 nodad
	# baton6 forwards the client packets it rewrites to the back-ends.
	sysctl -qw net.ipv6.conf.all.forwarding=1
	;;
2 | 3)
	sysctl -qw net.ipv4.conf.all.accept_redirects=0 net.ipv4.conf.eth0.accept_redirects=0
	start_nginx
	;;
esac
if ((BATON_GUEST >= 1)); then
	BATONCTL=$BATONCTL python3 "$here/agent.py" "$(guest_addr "$BATON_GUEST")" "$agent_port" \
		>"$BATON_OUT/agent.$BATON_GUEST.log" 2>&1 &
	defer kill $!
	wait_listen - "$agent_port" || fail "agent not listening"
fi
case $BATON_GUEST in
*) ;;
esac
if ((pcap > 0)); then
	tcpdump -i eth0 -s 128 -c "$pcap" -w "$BATON_OUT/pcap.$BATON_GUEST" 'tcp port 80 or tcp port 8080 or tcp port 7300' \
		2>/dev/null &
	defer kill $!
fi
slow_barrier ready 300

for round in $(seq "$rounds"); do
	for mode in ${modes//,/ }; do
		mode_setup "$mode"
		perf_pid=
		if (((BATON_GUEST == 1 || BATON_GUEST == 2) && perf && round == 1)); then
			perf record -q -a -g -F "$perf_hz" -o "$work/perf.data" -- sleep 3000 2>/dev/null &
			perf_pid=$!
		fi
		slow_barrier "setup-$mode-$round" 300
		if ((BATON_GUEST == 0)); then
			log "mode $mode, round $round of $rounds"
			client_mode "$mode"
			[ "$mode-$round" != baton-1 ] || [ -z "$scale" ] || client_scale
		fi
		slow_barrier "done-$mode-$round" 3300
		# The symbols the profile's addresses are named by (baton.ko's
		# move when it is loaded again).
		[ "$round.$mode" != "1.${insn_profile%%.*}" ] ||
			awk '$2 ~ /^[tT]$/' /proc/kallsyms >"$BATON_OUT/kallsyms.$BATON_GUEST"
		if [ -n "$perf_pid" ]; then
			kill -INT "$perf_pid"
			wait "$perf_pid" || true
			timeout 300 perf report -i "$work/perf.data" --stdio --no-children --sort sym \
				--percent-limit 0.5 >"$BATON_OUT/perf.$mode.$BATON_GUEST.txt" 2>&1 || true
			{
				timeout 300 perf report -i "$work/perf.data" --stdio --no-children --sort comm -g none
				timeout 300 perf report -i "$work/perf.data" --stdio --children --sort sym -g none \
					--percent-limit 0.3
				timeout 300 perf report -i "$work/perf.data" --stdio --no-children --sort sym -g none \
					--percent-limit 0.1
			} >"$BATON_OUT/perf.$mode.$BATON_GUEST.flat.txt" 2>&1 || true
			timeout 300 perf script -i "$work/perf.data" -F comm,ip,sym 2>/dev/null |
				gzip >"$BATON_OUT/perf.$mode.$BATON_GUEST.script.gz" || true
			rm -f "$work/perf.data"
		fi
		mode_teardown "$mode"
		slow_barrier "down-$mode-$round" 300
	done
done
if ((BATON_GUEST >= 1)) && [ -n "$last_baton" ]; then
	# Measured state for the report: whatever is left, then unload.
	batonctl -j stats >"$BATON_OUT/baton-stats.$BATON_GUEST.json" || true
fi
log "bench done"
