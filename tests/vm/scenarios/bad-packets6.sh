#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Bad IPv6 packets for a live handed-off IPv6 connection (namespaces in one
# guest), as bad-packets for IPv4. A client holds a keep-alive connection
# handed to a back-end; from the client's address and port, a raw socket
# sends a TCP header with data offset 4, a malformed option, the first
# fragment of a segment, a segment behind hop-by-hop and destination
# options headers, one behind a chain of nine extension headers (more than
# the flow parses), data far out of window, an RST with a wrong sequence
# number and a SYN. Checks:
#   - the three that do not parse (data offset, option, fragment) are
#     dropped by the front-end's flow: none reaches the front-end's stack,
#     which has no socket for the connection and would reset the client;
#   - the long chain, which the kernel calls TCP and baton cannot parse,
#     passes untouched, counted (stats: malformed +4 in all); the
#     front-end's stack answers it with an RST (its OutRsts +1), which the
#     flow drops: the client sees none;
#   - first, the segment behind hop-by-hop and destination options headers
#     alone: forwarded (+1), not malformed; the others go on too, and the
#     back-end's stack keeps the connection (RFC 5961), the flows stay;
#   - a second request on the same connection is answered byte-exact; the
#     client saw no reset.
#
# guests: 1
# memory: 768M
# timeout: 240
#
#          switch ns "sw" (br0)        2001:db8:8::/64, 198.18.8.0/24
#        /               |               \
#   cl ::1 client    fe ::2 (VIP ::100)   be1 ::3 httpd
#   raw socket       node 1               node 2
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip python3 jq

readonly vip=2001:db8:8::100 client=2001:db8:8::1 be_port=8080
readonly clients="$BATON_REPO/tests/vm/tools/clients.py"
work=$(mktemp -d)
defer rm -rf "$work"

baton_load
lan_setup 8 sw cl fe be1
i=1
for ns in cl fe be1; do
	ns_exec "$ns" ip addr add "2001:db8:8::$i/64" dev eth0 nodad
	i=$((i + 1))
done
ns_exec fe ip addr add "$vip/128" dev eth0 nodad
ns_exec fe sysctl -qw net.ipv6.conf.all.forwarding=1
mkdir -p "$work/www"
ns_exec be1 python3 "$BATON_REPO/tests/vm/tools/httpd.py" 2001:db8:8::3 "$be_port" "$work/www" \
	>"$work/be1.log" 2>&1 &
defer kill $!
wait_listen be1 "$be_port"
baton_star fe 198.18.8.2 be1 198.18.8.3
bctl fe service add "[$vip]:80"
bctl fe backend add "[$vip]:80" "[2001:db8:8::3]:$be_port" peer 2
wait_listen fe 80

ns_exec cl timeout 180 python3 "$clients" keepalive "$vip" 80 200000 "$work/port" "$work/go" \
	>"$work/client" 2>&1 &
client_pid=$!
wait_for -t 60 test -s "$work/port" || fail "first response not received: $(cat "$work/client")"
port=$(cat "$work/port")
log "client connection [$client]:$port handed off"
check_eq "flows on the front-end" "$(bctl fe -j conn list | jq .total)" 1
check_eq "flows on the back-end" "$(bctl be1 -j conn list | jq .total)" 1

# A segment behind hop-by-hop and destination options headers: parsed and
# forwarded like any other.
malformed0=$(baton_stat fe malformed)
forwarded0=$(baton_stat fe forwarded)
log "$(ns_exec cl python3 "$clients" badpackets6 "$client" "$port" "$vip" 80 ext-headers)"
sleep 1
check_eq "extension headers: forwarded" "$(($(baton_stat fe forwarded) - forwarded0))" 1
check_eq "extension headers: not malformed" "$(($(baton_stat fe malformed) - malformed0))" 0

malformed0=$(baton_stat fe malformed)
rsts0=$(snmp_get fe Tcp OutRsts)
resets0=$(snmp_get cl Tcp EstabResets)
log "$(ns_exec cl python3 "$clients" badpackets6 "$client" "$port" "$vip" 80)"
# Longer than the flows' close linger: a flow closed by a bad packet
# would be gone by now.
sleep 4
check_eq "malformed packets dropped by the flow" "$(($(baton_stat fe malformed) - malformed0))" 4
check_eq "resets sent by the front-end's stack (to the long chain, dropped)" \
	"$(($(snmp_get fe Tcp OutRsts) - rsts0))" 1
check_eq "flows on the front-end after the bad packets" "$(bctl fe -j conn list | jq .total)" 1
check_eq "flows on the back-end after the bad packets" "$(bctl be1 -j conn list | jq .total)" 1

touch "$work/go"
wait "$client_pid" || fail "client: $(cat "$work/client")"
log "client: $(cat "$work/client")"
check_eq "resets seen by the client" "$(($(snmp_get cl Tcp EstabResets) - resets0))" 0
check_eq "requests served by the back-end" "$(grep -c "^$client:[0-9]* GET /gen/200000" "$work/be1.log")" 2
wait_for -t 30 sh -c "[ \$(ip netns exec fe $BATONCTL -j conn list | jq .total) -eq 0 ]" ||
	fail "front-end flow left after the close"
baton_unload
log "all checks passed"
