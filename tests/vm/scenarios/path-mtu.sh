#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Path MTU through the VIP (ICMP errors of handed-off connections), in
# namespaces of one guest. The client sits behind a router whose link
# toward it has a smaller MTU than the cluster's; the client announces MSS
# 1460, so the back-ends' full-sized segments (DF, source the VIP) make the
# router send "fragmentation needed" to the VIP, that is to the front-end.
# The front-end passes each error to the back-end serving the connection,
# rewritten into its view, and the back-end's stack lowers its path MTU.
# Checks, with the router's link at MTU 1280, then at 576:
#   - the route caches of every serving node flushed first (no path MTU for
#     the client);
#   - a 10 MB download through the VIP served by each back-end in turn (two
#     peers and the front-end's local one, rr) is byte-exact (sha256), and
#     the server logged the client's address;
#   - the router sent "fragmentation needed", the front-end forwarded them
#     (stats icmp-forwarded), each serving node's stack received them, and
#     its route cache now holds the router's MTU for the client;
#   - the back-ends' own hooks forwarded nothing (they let the error pass to
#     their stack untouched), and nothing was malformed;
# then, on a held keep-alive connection, ICMP errors from the router's
# address: three broken ones are counted (icmp-malformed +3) and passed, one
# about no connection passes untouched, and one about the connection with a
# sequence number the server never sent is forwarded and refused by the
# serving stack (TcpExt OutOfWindowIcmps +1, no path MTU cached); the
# connection still answers exactly; no state is left; clean rmmod.
# Without the forwarding the downloads stall: the back-end retransmits its
# full-sized segments until the client gives up.
#
# guests: 1
# memory: 768M
# timeout: 600
#
#              switch ns "sw" (br0)                  198.18.12.0/24
#        /              |                 |                \
#   rt .1          fe .2 (VIP .100)     be1 .3           be2 .4
#   router         node 1, httpd        node 2, httpd    node 3, httpd
#     | eth1 .1, MTU 1280 then 576                        198.18.13.0/24
#     | eth0 .2, MTU 1500
#   cl client (curl)
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip curl python3 sha256sum jq

readonly vip=198.18.12.100 port=80 be_port=8080 client=198.18.13.2
readonly size=$((10 * 1024 * 1024))
readonly clients="$BATON_REPO/tests/vm/tools/clients.py"
readonly nodes="fe be1 be2"
declare -A addr=([rt]=198.18.12.1 [fe]=198.18.12.2 [be1]=198.18.12.3 [be2]=198.18.12.4)
work=$(mktemp -d)
defer rm -rf "$work"

baton_load
lan_setup 12 sw rt fe be1 be2
ns_create cl
ip link add eth1 netns rt type veth peer name eth0 netns cl
ip -n rt addr add 198.18.13.1/24 dev eth1
ip -n rt link set eth1 up
ip -n cl addr add "$client/24" dev eth0
ip -n cl link set eth0 up
ip -n cl route add default via 198.18.13.1
ns_exec rt sysctl -qw net.ipv4.ip_forward=1
for ns in $nodes; do
	ip -n "$ns" route add 198.18.13.0/24 via "${addr[rt]}"
done
baton_frontend fe "$vip"

# Every node serves the same file.
mkdir "$work/www"
head -c "$size" /dev/urandom >"$work/www/big"
want=$(sha256sum <"$work/www/big" | cut -d' ' -f1)
for ns in $nodes; do
	ns_exec "$ns" python3 "$BATON_REPO/tests/vm/tools/httpd.py" "${addr[$ns]}" "$be_port" \
		"$work/www" >"$work/$ns.log" 2>&1 &
	defer kill $!
	wait_listen "$ns" "$be_port"
done

baton_star fe "${addr[fe]}" be1 "${addr[be1]}" be2 "${addr[be2]}"
bctl fe service add "$vip:$port" scheduler rr
bctl fe backend add "$vip:$port" "${addr[be1]}:$be_port" peer 2
bctl fe backend add "$vip:$port" "${addr[be2]}:$be_port" peer 3
bctl fe backend add "$vip:$port" "${addr[fe]}:$be_port"
wait_listen fe "$port"

# route_mtu NS: the path MTU NS's route cache holds for the client, or
# "none".
route_mtu() {
	local out
	out=$(ip -n "$1" route get "$client")
	if [[ $out =~ mtu\ ([0-9]+) ]]; then
		echo "${BASH_REMATCH[1]}"
	else
		echo none
	fi
}

# gets NS: the GET /big requests NS's server logged.
gets() {
	grep -c " GET /big " "$work/$1.log" || true
}

resets0=$(($(snmp_get cl Tcp EstabResets) + $(snmp_get cl Tcp AttemptFails)))

# downloads MTU: with the router's client-side link at MTU, one download
# served by each node, then the checks of the header.
downloads() {
	local mtu=$1 ns n served fwd0 out0 took
	local -A unreach0 gets0
	ip -n rt link set eth1 mtu "$mtu"
	for ns in $nodes; do
		ip -n "$ns" route flush cache
		check_eq "mtu $mtu: $ns's path MTU to the client after the flush" "$(route_mtu "$ns")" none
		unreach0[$ns]=$(snmp_get "$ns" Icmp InDestUnreachs)
	done
	fwd0=$(baton_stat fe icmp-forwarded)
	out0=$(snmp_get rt Icmp OutDestUnreachs)
	served=""
	for n in 1 2 3; do
		for ns in $nodes; do
			gets0[$ns]=$(gets "$ns")
		done
		took=$SECONDS
		ns_exec cl timeout $((150 * BATON_SLOW)) curl -sS --max-time $((120 * BATON_SLOW)) \
			-o "$work/out" "http://$vip:$port/big" ||
			fail "mtu $mtu fetch $n: curl failed after $((SECONDS - took))s (stalled?)"
		check_eq "mtu $mtu fetch $n: sha256" "$(sha256sum <"$work/out" | cut -d' ' -f1)" "$want"
		rm -f "$work/out"
		for ns in $nodes; do
			if (($(gets "$ns") > ${gets0[$ns]})); then
				served+=" $ns"
				tail -n 1 "$work/$ns.log" | grep -q "^$client:[0-9]* GET /big " ||
					fail "mtu $mtu fetch $n: $ns did not log the client: $(tail -n 1 "$work/$ns.log")"
			fi
		done
		log "mtu $mtu fetch $n: exact in $((SECONDS - took))s"
	done
	check_eq "mtu $mtu: servers" "$(tr ' ' '\n' <<<"$served" | sort | xargs)" "be1 be2 fe"
	check_ge "mtu $mtu: fragmentation needed sent by the router" \
		$(($(snmp_get rt Icmp OutDestUnreachs) - out0)) 3
	check_ge "mtu $mtu: ICMP errors forwarded by the front-end" \
		$(($(baton_stat fe icmp-forwarded) - fwd0)) 3
	for ns in $nodes; do
		check_ge "mtu $mtu: $ns's stack received the errors" \
			$(($(snmp_get "$ns" Icmp InDestUnreachs) - ${unreach0[$ns]})) 1
		check_eq "mtu $mtu: $ns's path MTU to the client" "$(route_mtu "$ns")" "$mtu"
	done
	for ns in be1 be2; do
		check_eq "mtu $mtu: ICMP errors forwarded by $ns" "$(baton_stat "$ns" icmp-forwarded)" 0
	done
	check_eq "mtu $mtu: malformed ICMP errors" "$(baton_stat fe icmp-malformed)" 0
}

downloads 1280
downloads 576

# Bad and forged ICMP errors about a held keep-alive connection. The
# router's link back at 1500 and the route caches flushed, so that a path
# MTU lowered by them would show.
ip -n rt link set eth1 mtu 1500
for ns in $nodes; do
	ip -n "$ns" route flush cache
done
ns_exec cl timeout $((200 * BATON_SLOW)) python3 "$clients" keepalive "$vip" "$port" 200000 \
	"$work/port" "$work/go" >"$work/client" 2>&1 &
held=$!
wait_for -t $((60 * BATON_SLOW)) test -s "$work/port" ||
	fail "first response not received: $(cat "$work/client")"
cport=$(cat "$work/port")
peer=$(bctl fe -j conn list | jq -r '.conns[0].peer')
case $peer in
0) server=fe ;;
2) server=be1 ;;
3) server=be2 ;;
*) fail "held connection: peer '$peer'" ;;
esac
log "held connection $client:$cport served by $server"
malformed0=$(baton_stat fe icmp-malformed)
fwd0=$(baton_stat fe icmp-forwarded)
oow0=$(netstat_get "$server" TcpExt OutOfWindowIcmps)
log "$(ns_exec rt python3 "$clients" badicmp "${addr[rt]}" "$vip" "$port" "$client" "$cport")"
# Counted once they passed the front-end's hook, forwarded or not.
forwarded_one() {
	(($(baton_stat fe icmp-forwarded) - fwd0 >= 1)) && (($(netstat_get "$server" TcpExt OutOfWindowIcmps) - oow0 >= 1))
}
wait_for -t 10 forwarded_one || true
check_eq "malformed ICMP errors counted" $(($(baton_stat fe icmp-malformed) - malformed0)) 3
check_eq "ICMP errors forwarded (the connection's)" $(($(baton_stat fe icmp-forwarded) - fwd0)) 1
check_eq "refused by $server's stack as out of window" \
	$(($(netstat_get "$server" TcpExt OutOfWindowIcmps) - oow0)) 1
check_eq "$server's path MTU to the client after the forged error" "$(route_mtu "$server")" none
touch "$work/go"
wait "$held" || fail "held connection: $(cat "$work/client")"
log "held connection: $(cat "$work/client")"
check_eq "client connections reset" \
	$(($(snmp_get cl Tcp EstabResets) + $(snmp_get cl Tcp AttemptFails) - resets0)) 0

active_is() {
	[ "$(baton_stat "$1" active)" = 0 ]
}
for ns in $nodes; do
	wait_for -t 15 active_is "$ns" || fail "$ns still has $(baton_stat "$ns" active) connections"
done
bctl fe stats
baton_unload
log "all checks passed"
