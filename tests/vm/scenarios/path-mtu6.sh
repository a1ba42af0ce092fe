#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Path MTU through an IPv6 VIP (ICMPv6 "packet too big" about handed-off
# connections), in namespaces of one guest; path-mtu proves it for IPv4.
# The client sits behind a router whose link toward it has an MTU of 1280
# (IPv6's least); the client announces an MSS for 1500, so the back-end's
# full-sized segments (source the VIP) make the router send "packet too
# big" to the VIP, that is to the front-end, which passes each to the
# back-end serving the connection, rewritten into its view (the ICMPv6
# checksum over the new pseudo-header), and the back-end's stack lowers its
# path MTU. Checks:
#   - the back-end's route cache flushed first (no path MTU for the client);
#   - a 10 MB download through the VIP is byte-exact (sha256), and the
#     server logged the client's address;
#   - the router sent "packet too big", the front-end forwarded them (stats
#     icmp-forwarded), the back-end's stack received them, and its route
#     cache now holds 1280 for the client; the back-end's own hooks
#     forwarded nothing; nothing was malformed; no state is left.
# Without the forwarding the download stalls: the back-end retransmits
# full-sized segments until the client gives up.
#
# guests: 1
# memory: 768M
# timeout: 300
#
#              switch ns "sw" (br0)     2001:db8:12::/64, 198.18.12.0/24
#        /              |                 \
#   rt ::1          fe ::2 (VIP ::100)   be ::3
#   router          node 1               node 2, httpd
#     | eth1 2001:db8:13::1, MTU 1280
#     | eth0 2001:db8:13::2, MTU 1500
#   cl client (curl)
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip curl python3 sha256sum jq

readonly vip=2001:db8:12::100 port=80 be_port=8080 client=2001:db8:13::2
readonly size=$((10 * 1024 * 1024))
declare -A addr=([rt]=2001:db8:12::1 [fe]=2001:db8:12::2 [be]=2001:db8:12::3)
work=$(mktemp -d)
defer rm -rf "$work"

# snmp6 NS NAME: counter NAME of NS's /proc/net/snmp6.
snmp6() {
	ns_exec "$1" awk -v n="$2" '$1 == n {print $2}' /proc/net/snmp6
}

baton_load
lan_setup 12 sw rt fe be
for ns in rt fe be; do
	ns_exec "$ns" ip addr add "${addr[$ns]}/64" dev eth0 nodad
done
ns_create cl
ip link add eth1 netns rt type veth peer name eth0 netns cl
ip -n rt addr add 2001:db8:13::1/64 dev eth1 nodad
ip -n rt link set eth1 mtu 1280
ip -n rt link set eth1 up
ip -n cl addr add "$client/64" dev eth0 nodad
ip -n cl link set eth0 up
ip -n cl route add default via 2001:db8:13::1
ns_exec rt sysctl -qw net.ipv6.conf.all.forwarding=1
for ns in fe be; do
	ip -n "$ns" route add 2001:db8:13::/64 via "${addr[rt]}"
done
ns_exec fe ip addr add "$vip/128" dev eth0 nodad
ns_exec fe sysctl -qw net.ipv6.conf.all.forwarding=1

mkdir "$work/www"
head -c "$size" /dev/urandom >"$work/www/big"
want=$(sha256sum <"$work/www/big" | cut -d' ' -f1)
ns_exec be python3 "$BATON_REPO/tests/vm/tools/httpd.py" "${addr[be]}" "$be_port" "$work/www" \
	>"$work/be.log" 2>&1 &
defer kill $!
wait_listen be "$be_port"

baton_star fe 198.18.12.2 be 198.18.12.3
bctl fe service add "[$vip]:$port"
bctl fe backend add "[$vip]:$port" "[${addr[be]}]:$be_port" peer 2
wait_listen fe "$port"

# route_mtu: the path MTU the back-end's route cache holds for the client,
# or "none".
route_mtu() {
	local out
	out=$(ip -n be -6 route get "$client")
	if [[ $out =~ mtu\ ([0-9]+) ]]; then
		echo "${BASH_REMATCH[1]}"
	else
		echo none
	fi
}

ip -n be -6 route flush cache
check_eq "the back-end's path MTU to the client after the flush" "$(route_mtu)" none
out0=$(snmp6 rt Icmp6OutPktTooBigs)
in0=$(snmp6 be Icmp6InPktTooBigs)
fwd0=$(baton_stat fe icmp-forwarded)
resets0=$(($(snmp_get cl Tcp EstabResets) + $(snmp_get cl Tcp AttemptFails)))
took=$SECONDS
ns_exec cl timeout 90 curl -gsS --max-time 80 -o "$work/out" "http://[$vip]:$port/big" ||
	fail "download failed after $((SECONDS - took))s (stalled?)"
check_eq "download: sha256" "$(sha256sum <"$work/out" | cut -d' ' -f1)" "$want"
log "download exact in $((SECONDS - took))s"
grep -q "^$client:[0-9]* GET /big " "$work/be.log" ||
	fail "the server did not log the client: $(tail -n 1 "$work/be.log")"
check_eq "client connections reset" \
	$(($(snmp_get cl Tcp EstabResets) + $(snmp_get cl Tcp AttemptFails) - resets0)) 0
check_ge "packet too big sent by the router" $(($(snmp6 rt Icmp6OutPktTooBigs) - out0)) 1
check_ge "ICMPv6 errors forwarded by the front-end" $(($(baton_stat fe icmp-forwarded) - fwd0)) 1
check_ge "packet too big received by the back-end's stack" $(($(snmp6 be Icmp6InPktTooBigs) - in0)) 1
check_eq "the back-end's path MTU to the client" "$(route_mtu)" 1280
check_eq "ICMP errors forwarded by the back-end's hooks" "$(baton_stat be icmp-forwarded)" 0
check_eq "malformed ICMP errors" "$(($(baton_stat fe icmp-malformed) + $(baton_stat be icmp-malformed)))" 0

active_is() {
	[ "$(baton_stat "$1" active)" = "$2" ]
}
for ns in fe be; do
	wait_for -t 15 active_is "$ns" 0 || fail "$ns still has $(baton_stat "$ns" active) connections"
done
bctl fe stats
baton_unload
log "all checks passed"
