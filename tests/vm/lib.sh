# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Shell library for the VM scenarios, sourced inside the guest:
#
#   . "$(dirname "$0")/../lib.sh"
#
# guest-init.sh has exported BATON_REPO, BATON_OUT, BATON_GUEST, BATON_GUESTS,
# BATON_TIMEOUT and BATON_SCENARIO.  In the manner of the kernel's
# tools/testing/selftests/net/netfilter/ipvs.sh: namespaces built by helpers,
# a skip when a tool is missing, cleanup on exit, one function per check.
# Documentation/testing.rst lists every helper.
#
# Addresses: only 198.18.0.0/15 (RFC 2544 benchmarking).  198.18.0.0/24 is the
# segment between guests (guest N is 198.18.0.N+1, see guest_addr);
# 198.18.S.0/24 with S >= 1 are the namespace LANs inside a guest (lan_setup).

: "${BATON_REPO:?lib.sh: run the scenario through tests/vm/run.sh}"
: "${BATON_OUT:?}" "${BATON_GUEST:?}" "${BATON_GUESTS:?}"
BATON_SCENARIO=${BATON_SCENARIO:-$(basename "$0" .sh)}

# Exit status that run.sh reports as SKIP (the kselftest convention).
readonly ksft_skip=4

BATON_KO=${BATON_KO:-$BATON_REPO/baton.ko}
BATONCTL=${BATONCTL:-$BATON_REPO/userspace/target/release/batonctl}

# --- reporting --------------------------------------------------------------

# log MSG...: one line on the console (stderr, so that it also shows from
# inside $(...)), prefixed with the guest's uptime, the scenario and the guest.
log() {
	local _up _
	read -r _up _ </proc/uptime
	printf '[%8s] %s/g%s: %s\n' "$_up" "$BATON_SCENARIO" "$BATON_GUEST" "$*" >&2
}

# fail MSG...: the scenario fails with this reason.  Exits the current shell,
# so call it from the scenario's shell, not from a $(...) or a pipeline.
fail() {
	log "FAIL: $*"
	exit 1
}

# skip MSG...: the scenario cannot run here (missing tool...): run.sh says SKIP.
skip() {
	log "SKIP: $*"
	echo "$*" >"$BATON_OUT/guest$BATON_GUEST.skip"
	exit "$ksft_skip"
}

# require_cmd CMD...: skip unless every command exists.
require_cmd() {
	local _c
	for _c in "$@"; do
		command -v "$_c" >/dev/null 2>&1 || skip "$_c not installed on the host"
	done
}

# check_eq NAME GOT WANT: fail unless GOT = WANT (compared as strings).
check_eq() {
	if [ "$2" = "$3" ]; then
		log "ok: $1 = $2"
	else
		fail "$1: got '$2', want '$3'"
	fi
}

# check_ge NAME GOT MIN: fail unless the integer GOT >= MIN.
check_ge() {
	if [ "$2" -ge "$3" ] 2>/dev/null; then
		log "ok: $1 = $2 (>= $3)"
	else
		fail "$1: got '$2', want >= $3"
	fi
}

# check_le NAME GOT MAX: fail unless the integer GOT <= MAX.
check_le() {
	if [ "$2" -le "$3" ] 2>/dev/null; then
		log "ok: $1 = $2 (<= $3)"
	else
		fail "$1: got '$2', want <= $3"
	fi
}

# --- cleanup ----------------------------------------------------------------

# defer CMD...: run CMD when the scenario exits, last deferred first.  Use this
# instead of `trap ... EXIT`, which would replace the library's handler.
_baton_deferred=()
defer() {
	_baton_deferred+=("$(printf '%q ' "$@")")
}

_baton_run_deferred() {
	local _i
	for ((_i = ${#_baton_deferred[@]} - 1; _i >= 0; _i--)); do
		eval "${_baton_deferred[_i]}" || true
	done
	_baton_deferred=()
}
trap _baton_run_deferred EXIT

# A command that fails outside a check ends the scenario (set -e) without a
# FAIL line: say which one, so that the console tail shows why.
trap 'log "FAIL: line $LINENO: exit status $? of: $BASH_COMMAND"' ERR

# --- waiting ----------------------------------------------------------------

# wait_for [-t SECS] CMD...: run CMD (output discarded) every 0.2 s until it
# succeeds; returns 1 after SECS (default 30: TCG guests are slow).
wait_for() {
	local _t=30 _deadline
	if [ "${1:-}" = -t ]; then
		_t=$2
		shift 2
	fi
	_deadline=$((SECONDS + _t))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= _deadline)); then
			log "gave up after ${_t}s waiting for: $*"
			return 1
		fi
		sleep 0.2
	done
}

# wait_listen NS PORT [SECS]: wait until a TCP socket listens on PORT in NS
# (default 60 s, times BATON_SLOW: a server's start, python's above all, is
# what a busy host or four debug guests on two cores slow down most).
wait_listen() {
	wait_for -t "${3:-$((60 * BATON_SLOW))}" _baton_listening "$1" "$2"
}

_baton_listening() {
	[ -n "$(ns_exec "$1" ss -Hltn "sport = :$2")" ]
}

# barrier NAME [SECS]: multi-guest rendezvous.  Each guest creates
# $BATON_OUT/barrier.NAME.<guest> and waits until all BATON_GUESTS exist;
# fails after SECS (default 120).  Use each NAME once per scenario.
barrier() {
	local _name=$1 _t=${2:-120} _i _deadline
	_deadline=$((SECONDS + _t))
	: >"$BATON_OUT/barrier.$_name.$BATON_GUEST"
	for ((_i = 0; _i < BATON_GUESTS; _i++)); do
		until [ -e "$BATON_OUT/barrier.$_name.$_i" ]; do
			((SECONDS < _deadline)) || fail "barrier $_name: guest $_i not there after ${_t}s"
			sleep 0.2
		done
	done
	log "barrier $_name: all $BATON_GUESTS guests"
}

# publish KEY VALUE / fetch GUEST KEY: pass a small value to other guests
# through the out share.  fetch waits for it like barrier does.
publish() {
	printf '%s\n' "$2" >"$BATON_OUT/value.$1.$BATON_GUEST.tmp"
	mv "$BATON_OUT/value.$1.$BATON_GUEST.tmp" "$BATON_OUT/value.$1.$BATON_GUEST"
}

fetch() {
	local _f=$BATON_OUT/value.$2.$1
	wait_for -t "${3:-120}" test -e "$_f" || fail "fetch $2: guest $1 did not publish it"
	cat "$_f"
}

# --- namespaces -------------------------------------------------------------

# ns_create NAME...: new network namespaces with lo up, deleted on exit.
ns_create() {
	local _ns
	for _ns in "$@"; do
		ip netns add "$_ns"
		defer ip netns del "$_ns"
		ip -n "$_ns" link set lo up
	done
}

# ns_exec NAME CMD...: run CMD in namespace NAME; NAME "-" is the guest's
# initial namespace (also for wait_listen, link_stat, snmp_get).
ns_exec() {
	local _ns=$1
	shift
	if [ "$_ns" = - ]; then
		"$@"
	else
		ip netns exec "$_ns" "$@"
	fi
}

# lan_create SWITCH: a "switch" namespace holding bridge br0.
lan_create() {
	ns_create "$1"
	ip -n "$1" link add br0 type bridge forward_delay 0
	ip -n "$1" link set br0 up
}

# lan_join SWITCH NS ADDR/PLEN: plug namespace NS into SWITCH's br0 with a veth
# pair; NS sees it as eth0 with address ADDR/PLEN.  NS must exist.
lan_join() {
	local _sw=$1 _ns=$2 _addr=$3 _port
	_port=$(printf "p-%.13s" "$_ns")
	ip link add eth0 netns "$_ns" type veth peer name "$_port" netns "$_sw"
	ip -n "$_sw" link set "$_port" master br0 up
	ip -n "$_ns" addr add "$_addr" dev eth0
	ip -n "$_ns" link set eth0 up
}

# lan_uplink SWITCH DEV: move the guest's DEV (e.g. eth0) into SWITCH's br0, so
# that namespaces on this LAN share the L2 segment between guests.
lan_uplink() {
	ip link set "$2" netns "$1"
	ip -n "$1" link set "$2" master br0 up
}

# lan_addr SUBNET I: address of host I (1-based) on LAN SUBNET: 198.18.SUBNET.I
lan_addr() {
	echo "198.18.$1.$2"
}

# lan_setup SUBNET SWITCH NS...: create SWITCH and namespaces NS..., the i-th
# (from 1) on eth0 with lan_addr SUBNET i /24.  SUBNET: 1..255.
lan_setup() {
	local _subnet=$1 _sw=$2 _i=1 _ns
	shift 2
	((_subnet >= 1 && _subnet <= 255)) || fail "lan_setup: SUBNET must be 1..255 (0 is the guests' segment)"
	lan_create "$_sw"
	for _ns in "$@"; do
		ns_create "$_ns"
		lan_join "$_sw" "$_ns" "$(lan_addr "$_subnet" "$_i")/24"
		_i=$((_i + 1))
	done
}

# --- guests -----------------------------------------------------------------

# guest_addr N: address of guest N on the segment between guests.
guest_addr() {
	echo "198.18.0.$(($1 + 1))"
}

# setup_guest_net [DEV]: bring up the guest's NIC (eth0) with guest_addr/24.
# shellcheck disable=SC2120 # DEV is optional
setup_guest_net() {
	local _dev=${1:-eth0}
	[ -e "/sys/class/net/$_dev" ] || fail "no $_dev: does the scenario header say 'guests: 2' or 'net: yes'?"
	ip addr add "$(guest_addr "$BATON_GUEST")/24" dev "$_dev"
	ip link set "$_dev" up
}

# --- counters ---------------------------------------------------------------

# link_stat NS DEV COUNTER: a /sys/class/net/DEV/statistics counter (rx_packets...).
link_stat() {
	ns_exec "$1" cat "/sys/class/net/$2/statistics/$3"
}

# snmp_get NS PROTO FIELD: a /proc/net/snmp counter, e.g. snmp_get h1 Icmp InEchos.
snmp_get() {
	local _val
	_val=$(ns_exec "$1" cat /proc/net/snmp | _baton_snmp "$2" "$3")
	[ -n "$_val" ] || fail "snmp_get: no counter $2 $3 in namespace $1"
	echo "$_val"
}

# netstat_get NS PROTO FIELD: a /proc/net/netstat counter, e.g. netstat_get h1
# TcpExt OutOfWindowIcmps.
netstat_get() {
	local _val
	_val=$(ns_exec "$1" cat /proc/net/netstat | _baton_snmp "$2" "$3")
	[ -n "$_val" ] || fail "netstat_get: no counter $2 $3 in namespace $1"
	echo "$_val"
}

# tcp_resets NS: connections NS's TCP saw reset (Tcp EstabResets and
# AttemptFails).
tcp_resets() {
	echo $(($(snmp_get "$1" Tcp EstabResets) + $(snmp_get "$1" Tcp AttemptFails)))
}

# rst_watch NS FILTER FILE: capture the RST segments of FILTER (tcpdump's)
# on NS's eth0 into FILE, until rst_none.
rst_watch() {
	ns_exec "$1" tcpdump -i eth0 -nn -U -w "$3" "($2) and tcp[tcpflags] & tcp-rst != 0" >/dev/null 2>&1 &
	_baton_rst_pid=$!
	defer kill "$_baton_rst_pid"
	sleep 1
}

# rst_none FILE: stop rst_watch's capture; fail if FILE holds a segment.
rst_none() {
	local _rsts
	kill "$_baton_rst_pid"
	sleep 1
	_rsts=$(tcpdump -nn -r "$1" 2>/dev/null)
	[ -z "$_rsts" ] || fail "RST segments: $_rsts"
	log "ok: no RST segment"
}

# running FILE: how many of the processes FILE lists (one pid a line) run.
running() {
	local _n=0 _pid
	while read -r _pid; do
		kill -0 "$_pid" 2>/dev/null && _n=$((_n + 1))
	done <"$1"
	echo "$_n"
}

# wait_all FILE: wait for the processes FILE lists (children of this
# shell: not in a command substitution); false if any failed.
wait_all() {
	local _ok=0 _pid
	while read -r _pid; do
		wait "$_pid" || _ok=1
	done <"$1"
	return "$_ok"
}

_baton_snmp() {
	awk -v p="$1:" -v f="$2" '
		$1 == p && !c { for (i = 2; i <= NF; i++) if ($i == f) c = i; next }
		$1 == p && c  { print $c; exit }'
}

# --- baton ------------------------------------------------------------------

# baton_load [PARAM=VALUE...]: insmod the repository's baton.ko.
# shellcheck disable=SC2120 # parameters are optional
baton_load() {
	[ -f "$BATON_KO" ] || fail "$BATON_KO not built (make module)"
	insmod "$BATON_KO" "$@" ||
		fail "insmod baton.ko failed (built against this kernel? e.g. make module KCONFIG=debug)"
	log "baton.ko loaded"
}

# baton_unload: rmmod baton.
baton_unload() {
	rmmod baton || fail "rmmod baton failed"
	log "baton.ko unloaded"
}

# expect_error MESSAGE CMD...: CMD fails with exit 1 and MESSAGE in its
# output (batonctl's kernel errors carry the extack message).
expect_error() {
	local _want=$1 _rc=0 _msg
	shift
	_msg=$("$@" 2>&1) || _rc=$?
	check_eq "exit code of '$*'" "$_rc" 1
	grep -qF "$_want" <<<"$_msg" || fail "'$*': want '$_want', got: $_msg"
}

# baton_frontend NS VIP: namespace NS ("-": the guest's own) carries the
# service address VIP on its eth0 and forwards the client packets baton
# rewrites toward back-ends, without ICMP redirects to the clients.
baton_frontend() {
	ns_exec "$1" ip addr add "$2/32" dev eth0
	baton_forwarder "$1"
}

# baton_forwarder NS...: namespaces NS forward the client packets baton
# rewrites toward back-ends, without ICMP redirects to the clients.
baton_forwarder() {
	local _ns
	for _ns; do
		ns_exec "$_ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 \
			net.ipv4.conf.eth0.send_redirects=0
	done
}

# ecmp_cluster VIP CLIENT: the topology of the cluster-ecmp test and of
# the benchmark's front-end group part: switch sw with rt (198.18.1.1),
# fe1-fe3 (.2-.4: VIP on lo, forwarding) and be1, be2 (.5, .6) on
# 198.18.1.0/24, and the client namespace cl (CLIENT/24) behind rt's eth1
# (198.18.10.1). rt forwards and hashes multipath routes on ports; rt is
# every namespace's default route. The routes to the VIP are the
# caller's.
ecmp_cluster() {
	local _vip=$1 _client=$2 _ns
	lan_setup 1 sw rt fe1 fe2 fe3 be1 be2
	ns_create cl
	ip link add eth0 netns cl type veth peer name eth1 netns rt
	ip -n cl addr add "$_client/24" dev eth0
	ip -n cl link set eth0 up
	ip -n rt addr add 198.18.10.1/24 dev eth1
	ip -n rt link set eth1 up
	ip -n cl route add default via 198.18.10.1
	ns_exec rt sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1 \
		net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0
	for _ns in fe1 fe2 fe3 be1 be2; do
		ip -n "$_ns" route add default via 198.18.1.1
	done
	for _ns in fe1 fe2 fe3; do
		ip -n "$_ns" addr add "$_vip/32" dev lo
	done
	baton_forwarder fe1 fe2 fe3
}

# cmdline_param NAME DEFAULT: the value of NAME=VALUE on the kernel command
# line (tests/vm/run.sh passes BATON_VM_APPEND there), else DEFAULT.
cmdline_param() {
	local _w
	for _w in $(</proc/cmdline); do
		case $_w in "$1="*) echo "${_w#*=}"; return ;; esac
	done
	echo "$2"
}

# BATON_TEST_KEY: the control-channel key of the test clusters.
readonly BATON_TEST_KEY=5e1c7a9db2f04e3c8a6b1d2f3e4c5b6a7d8e9f0a1b2c3d4e5f60718293a4b5c6

# baton_star FE FE_ADDR BE BE_ADDR...: namespace FE (control address
# FE_ADDR) becomes node 1 and each BE node 2, 3, ..., peers of FE and FE of
# them, their channels authenticated with BATON_TEST_KEY; returns once every
# channel is up.
baton_star() {
	local _fe=$1 _fe_addr=$2 _id=2
	shift 2
	ns_exec "$_fe" "$BATONCTL" config set node-id 1 key "$BATON_TEST_KEY"
	while (($# >= 2)); do
		ns_exec "$1" "$BATONCTL" config set node-id "$_id" key "$BATON_TEST_KEY"
		ns_exec "$_fe" "$BATONCTL" peer add "$_id" "$2"
		ns_exec "$1" "$BATONCTL" peer add 1 "$_fe_addr"
		_id=$((_id + 1))
		shift 2
	done
	wait_for -t 60 baton_peers_up "$_fe" || fail "control channels of $_fe not all up"
}

# lan_download N URL CLIENT: in the topology of handoff-netns and handoff6
# (namespaces cl, fe, be1, be2; each back-end serving its own
# $work/beI/big of $size bytes), the client cl downloads URL through the
# VIP into $work/out.N, with a capture of its SYN and RST segments, and
# checks the handoff as the design brief asks: the bytes are one
# back-end's file, the front-end sent under 1% of it and the back-end all
# of it, the client opened one connection and saw no reset (SNMP counters
# and the capture), and the front-end kept no socket for CLIENT (its IPv4
# or IPv6 address). Prints the back-end that served it (be1 or be2).
# shellcheck disable=SC2154 # work and size are the scenario's
lan_download() {
	local _n=$1 _url=$2 _client=$3 _cap="$work/cap.$1" _port _syn _rst _dst
	local _fe0 _be10 _be20 _fe1 _be11 _be21 _served _opens0 _resets0 _tcpd _sum
	_port=${_url##*:}
	_port=${_port%%/*}
	if [[ $_client == *:* ]]; then
		# tcpdump has no tcp[] for IPv6: the flags byte of a header
		# without extension headers.
		_syn='ip6[53] & 0x12 == 0x02' _rst='ip6[53] & 0x04 != 0' _dst="[$_client]"
	else
		_syn='tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0'
		_rst='tcp[tcpflags] & tcp-rst != 0' _dst=$_client
	fi
	_opens0=$(snmp_get cl Tcp ActiveOpens)
	_resets0=$(($(snmp_get cl Tcp EstabResets) + $(snmp_get cl Tcp AttemptFails)))
	ns_exec cl tcpdump -i eth0 -nn -U -w "$_cap" "tcp port $_port and (($_syn) or ($_rst))" \
		>/dev/null 2>&1 &
	_tcpd=$!
	sleep 1
	_fe0=$(link_stat fe eth0 tx_bytes) _be10=$(link_stat be1 eth0 tx_bytes)
	_be20=$(link_stat be2 eth0 tx_bytes)
	ns_exec cl timeout 70 curl -gsS --max-time 60 -o "$work/out.$_n" "$_url" ||
		fail "fetch $_n: curl failed"
	_fe1=$(link_stat fe eth0 tx_bytes) _be11=$(link_stat be1 eth0 tx_bytes)
	_be21=$(link_stat be2 eth0 tx_bytes)
	sleep 1
	kill "$_tcpd"
	wait "$_tcpd" 2>/dev/null || true
	_sum=$(sha256sum <"$work/out.$_n" | cut -d' ' -f1)
	if [ "$_sum" = "$(sha256sum <"$work/be1/big" | cut -d' ' -f1)" ]; then
		_served=be1
	elif [ "$_sum" = "$(sha256sum <"$work/be2/big" | cut -d' ' -f1)" ]; then
		_served=be2
	else
		fail "fetch $_n: response is neither back-end's file ($(stat -c %s "$work/out.$_n") bytes)"
	fi
	local _be_tx=$((_be11 - _be10)) _fe_tx=$((_fe1 - _fe0))
	[ "$_served" = be2 ] && _be_tx=$((_be21 - _be20))
	log "fetch $_n: served by $_served; front-end sent $_fe_tx bytes, back-end $_be_tx"
	((_fe_tx < size / 100)) || fail "fetch $_n: front-end sent $_fe_tx bytes (>= 1% of $size)"
	((_be_tx >= size)) || fail "fetch $_n: back-end sent only $_be_tx bytes"
	check_eq "fetch $_n: client connections opened" \
		$(($(snmp_get cl Tcp ActiveOpens) - _opens0)) 1
	check_eq "fetch $_n: client connections reset" \
		$(($(snmp_get cl Tcp EstabResets) + $(snmp_get cl Tcp AttemptFails) - _resets0)) 0
	check_eq "fetch $_n: SYNs sent by the client" \
		"$(ns_exec cl tcpdump -nn -r "$_cap" "$_syn" 2>/dev/null | wc -l)" 1
	check_eq "fetch $_n: RSTs on the client's wire" \
		"$(ns_exec cl tcpdump -nn -r "$_cap" "$_rst" 2>/dev/null | wc -l)" 0
	check_eq "fetch $_n: front-end sockets for the client" \
		"$(ns_exec fe ss -Htn state all "( sport = :$_port and dst $_dst )" | wc -l)" 0
	echo "$_served"
}

# baton_peers_up NS: whether NS has peers and every channel is up.
baton_peers_up() {
	ns_exec "$1" "$BATONCTL" -j peer list | jq -e 'length > 0 and (map(.state == "up") | all)' >/dev/null
}

# BATON_SLOW: how many times slower than the base kernel this one is, for
# the bounds a scenario puts on times: 5 on the debug config (KASAN,
# kmemleak, lockdep), else 1.
if [ -e /sys/kernel/debug/kmemleak ]; then
	BATON_SLOW=5
else
	BATON_SLOW=1
fi
readonly BATON_SLOW

# bctl NS ARGS...: batonctl in namespace NS ("-": the guest's own).
bctl() {
	ns_exec "$1" "$BATONCTL" "${@:2}"
}

# baton_stat NS NAME: counter NAME of namespace NS's `batonctl -j stats`.
baton_stat() {
	bctl "$1" -j stats | jq -er ".\"$2\""
}

# baton_sum STAT NS...: stats counter STAT summed over namespaces NS.
baton_sum() {
	local _stat=$1 _ns _n=0
	shift
	for _ns in "$@"; do
		_n=$((_n + $(baton_stat "$_ns" "$_stat")))
	done
	echo "$_n"
}

# baton_sum_is OP N STAT NS...: whether baton_sum STAT NS... compares to N
# as OP (-eq, -ge or -gt) says; for wait_for.
baton_sum_is() {
	local _n
	_n=$(baton_sum "${@:3}")
	case $1 in
	-eq) ((_n == $2)) ;;
	-ge) ((_n >= $2)) ;;
	-gt) ((_n > $2)) ;;
	*) fail "baton_sum_is: unknown comparison $1" ;;
	esac
}

# baton_idle SECS NS...: wait until no namespace NS keeps a connection
# (stats active 0), at most SECS times BATON_SLOW each; fail naming what
# is left.
baton_idle() {
	local _secs=$1 _ns
	shift
	for _ns; do
		wait_for -t $((_secs * BATON_SLOW)) sh -c "[ \$(ip netns exec $_ns $BATONCTL -j stats | jq .active) -eq 0 ]" ||
			fail "$_ns keeps $(baton_stat "$_ns" active) connections: $(bctl "$_ns" conn list)"
	done
}

# httpd_serve NS ADDR PORT DIR [PAUSE]: tests/vm/tools/httpd.py in
# namespace NS on ADDR:PORT (uploads to DIR, log DIR.log; PAUSE: see
# httpd.py), stopped on exit; returns once it listens.
httpd_serve() {
	mkdir -p "$4"
	ns_exec "$1" python3 "$BATON_REPO/tests/vm/tools/httpd.py" "$2" "$3" "$4" ${5:+"$5"} >"$4.log" 2>&1 &
	defer kill $!
	wait_listen "$1" "$3"
}

# vrrp_pair DIR VIP MASTER BACKUP [VIP6]: keepalived's VRRP moves VIP (and
# the IPv6 address VIP6 with it) between the eth0 of namespaces MASTER
# (priority 150: holds it while it lives) and BACKUP (100), adverts every
# second; configs and logs (keepalived.NS.log) in DIR. Returns once VIP
# (and VIP6, past duplicate address detection) is on MASTER.
vrrp_pair() {
	local _dir=$1 _vip=$2 _ns _prio=150 _v6=
	if [ -n "${5:-}" ]; then
		_v6="virtual_ipaddress_excluded {
		$5/128 dev eth0
	}"
	fi
	for _ns in "$3" "$4"; do
		cat >"$_dir/keepalived.$_ns.conf" <<EOF
global_defs {
	router_id $_ns
	vrrp_garp_master_delay 1
	vrrp_garp_master_repeat 3
}
vrrp_instance baton {
	state BACKUP
	interface eth0
	virtual_router_id 51
	priority $_prio
	advert_int 1
	virtual_ipaddress {
		$_vip/32 dev eth0
	}
	$_v6
}
EOF
		ns_exec "$_ns" keepalived --dont-fork --log-console --vrrp -f "$_dir/keepalived.$_ns.conf" \
			-p "$_dir/keepalived.$_ns.pid" -r "$_dir/vrrp.$_ns.pid" >"$_dir/keepalived.$_ns.log" 2>&1 &
		defer kill $!
		_prio=100
	done
	wait_for -t $((30 * BATON_SLOW)) sh -c "ip -n $3 -br addr show dev eth0 | grep -q '$_vip/32'" ||
		fail "keepalived did not put $_vip on $3: $(cat "$_dir/keepalived.$3.log")"
	[ -z "${5:-}" ] && return
	wait_for -t $((30 * BATON_SLOW)) sh -c "ip -n $3 -6 addr show dev eth0 | grep '$5/128' | grep -vq tentative" ||
		fail "keepalived did not put $5 on $3: $(ip -n "$3" -6 addr show dev eth0) $(cat "$_dir/keepalived.$3.log")"
}

# batonctl ARGS...: the repository's release build of batonctl.
batonctl() {
	[ -x "$BATONCTL" ] || fail "$BATONCTL not built (make userspace)"
	"$BATONCTL" "$@"
}
