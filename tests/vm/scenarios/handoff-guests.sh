#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A live TCP handoff between separate guests (own kernels, virtio-net with
# its offloads: GRO, TSO and partial checksums on real NICs) on one L2
# segment: guest 0 is the client, guest 1 the front-end with the VIP,
# guests 2 and 3 back-ends with an ordinary HTTP server each; content rules
# send Host a.example to back-end 1 and path /b/ to back-end 2. Checks:
#   - 10 MB download (Host a.example) from back-end 1 and 10 MB upload
#     (POST /b/...) to back-end 2, byte-exact (sha256 on both ends);
#   - each server logged its request, from the client's own address;
#   - the client opened one connection per transfer and saw no reset;
#   - the front-end's NIC sent less than 10% of the download, the
#     back-end's at least all of it;
#   - no TCP socket for the client on the front-end afterwards;
#   - a kept-alive connection's first request (Host a.example) served by
#     back-end 1, its second (path /b/, another Host) by back-end 2: the
#     connection moved between guests at the request boundary (stats
#     moved), one connection, the second body back-end 2's (here the
#     request lies in the packet's linear part, where the front-end reads
#     it in place; in namespaces it comes in page fragments);
#   - the same again over IPv6 (VIP 2001:db8::100, the guests' IPv6
#     addresses, the same rules, the control channel still IPv4): both
#     transfers exact, logged from the client's IPv6 address, one
#     connection each, no reset, the front-end's NIC under 10%;
#   - rmmod on every guest is clean.
#
# guests: 4
# memory: 384M
# timeout: 400
#
#   guest0 client 198.18.0.1 -- bridge -- 198.18.0.2 front-end guest1
#                                 |       VIP 198.18.0.100, node 1
#                                 +------ 198.18.0.3 back-end 1 guest2, node 2
#                                 +------ 198.18.0.4 back-end 2 guest3, node 3
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip curl python3 sha256sum jq ss

readonly vip=198.18.0.100 be_port=8080
readonly size=$((10 * 1024 * 1024))
readonly httpd="$BATON_REPO/tests/vm/tools/httpd.py"
work=$(mktemp -d)
defer rm -rf "$work"

tx() {
	link_stat - eth0 tx_bytes
}

setup_guest_net
baton_load

case $BATON_GUEST in
1)
	baton_frontend - "$vip"
	batonctl config set node-id 1 key "$BATON_TEST_KEY"
	batonctl peer add 2 "$(guest_addr 2)"
	batonctl peer add 3 "$(guest_addr 3)"
	wait_for -t $((60 * BATON_SLOW)) sh -c "$BATONCTL -j peer list | jq -e 'map(.state == \"up\") | all' >/dev/null" ||
		fail "channels to the back-ends not up"
	batonctl service add "$vip:80"
	batonctl backend add "$vip:80" "$(guest_addr 2):$be_port" peer 2
	batonctl backend add "$vip:80" "$(guest_addr 3):$be_port" peer 3
	batonctl rule add "$vip:80" host a.example to "$(guest_addr 2):$be_port"
	batonctl rule add "$vip:80" path /b/ to "$(guest_addr 3):$be_port"
	batonctl rule list
	wait_listen - 80
	;;
2 | 3)
	mkdir -p "$work/www/b"
	head -c "$size" /dev/urandom >"$work/www/big"
	echo "back-end $((BATON_GUEST - 1))" >"$work/www/b/name"
	publish big-sha256 "$(sha256sum <"$work/www/big" | cut -d' ' -f1)"
	python3 "$httpd" "$(guest_addr "$BATON_GUEST")" "$be_port" "$work/www" \
		>"$BATON_OUT/httpd.$BATON_GUEST.log" 2>&1 &
	defer kill $!
	wait_listen - "$be_port"
	batonctl config set node-id "$BATON_GUEST" key "$BATON_TEST_KEY"
	batonctl peer add 1 "$(guest_addr 1)"
	;;
esac
barrier ready $((180 * BATON_SLOW))

# round TAG VIP CLIENT LOG: the transfers through http://VIP (a bracketed
# IPv6 address, or IPv4), CLIENT guest 0's address of that family, LOG the
# suffix of the servers' log files: guest 0 downloads /big (Host
# a.example, back-end 1's) and uploads to /b/ (back-end 2's), exact on
# both ends, one connection each and no reset; each guest measures its
# NIC around the download; then each checks its side.
round() {
	local tag=$1 url=http://$2 client=$3 log=$4 tx0 delta sum opens0 resets0
	tx0=$(tx)
	barrier "measure$tag-start"
	if ((BATON_GUEST == 0)); then
		opens0=$(snmp_get - Tcp ActiveOpens)
		resets0=$(($(snmp_get - Tcp EstabResets) + $(snmp_get - Tcp AttemptFails)))
		timeout 200 curl -gsS --max-time 180 -H 'Host: a.example' -o "$work/down" "$url/big" ||
			fail "$tag download failed"
		check_eq "$tag download sha256 (back-end 1's file)" \
			"$(sha256sum <"$work/down" | cut -d' ' -f1)" "$(fetch 2 big-sha256)"
		publish "down$tag-done" 1
	else
		fetch 0 "down$tag-done" 300 >/dev/null
		delta=$(($(tx) - tx0))
		log "$tag: NIC sent $delta bytes during the download"
		case $BATON_GUEST in
		1) ((delta < size / 10)) || fail "$tag: front-end sent $delta bytes (>= 10% of $size)" ;;
		2) ((delta >= size)) || fail "$tag: back-end 1 sent only $delta bytes" ;;
		3) ((delta < size / 10)) || fail "$tag: back-end 2 sent $delta bytes for a download it did not serve" ;;
		esac
	fi
	# The upload waits until every NIC was read: the front-end forwards
	# it, and would count it as the download's.
	barrier "down$tag-measured" 300
	if ((BATON_GUEST == 0)); then
		sum=$(timeout 200 curl -gsS --max-time 180 --data-binary "@$work/up" "$url/b/upload") ||
			fail "$tag upload failed"
		check_eq "$tag upload sha256 at the server" "$sum" "$(sha256sum <"$work/up" | cut -d' ' -f1)"
		check_eq "$tag client connections opened" $(($(snmp_get - Tcp ActiveOpens) - opens0)) 2
		check_eq "$tag client connections reset" \
			$(($(snmp_get - Tcp EstabResets) + $(snmp_get - Tcp AttemptFails) - resets0)) 0
	fi
	barrier "transfers$tag-done" 400
	case $BATON_GUEST in
	1)
		local dst=$client
		[[ $client == *:* ]] && dst="[$client]"
		check_eq "$tag front-end sockets for the client" \
			"$(ss -Htn state all "( sport = :80 and dst $dst )" | wc -l)" 0
		;;
	2)
		check_eq "$tag back-end 1: the Host a.example download, from the client" \
			"$(grep -c "^$client:[0-9]* GET /big a.example 200 " "$BATON_OUT/httpd$log")" 1
		check_eq "$tag back-end 1: requests in all" "$(wc -l <"$BATON_OUT/httpd$log")" 1
		;;
	3)
		check_eq "$tag back-end 2: the /b/ upload, from the client" \
			"$(grep -c "^$client:[0-9]* POST /b/upload " "$BATON_OUT/httpd$log")" 1
		check_eq "$tag back-end 2: requests in all" "$(wc -l <"$BATON_OUT/httpd$log")" 1
		;;
	esac
	barrier "checked$tag"
}

if ((BATON_GUEST == 0)); then
	head -c "$size" /dev/urandom >"$work/up"
fi
round IPv4 "$vip" "$(guest_addr 0)" ".$BATON_GUEST.log"
if ((BATON_GUEST == 1)); then
	batonctl status
fi

# A connection moved between guests at its second request.
if ((BATON_GUEST == 1)); then
	moved0=$(batonctl -j stats | jq -er .moved)
fi
barrier move-start
if ((BATON_GUEST == 0)); then
	out=$(timeout 120 python3 "$BATON_REPO/tests/vm/tools/clients.py" requests "$vip" 80 \
		a.example/gen/5000 c.example/b/name) || fail "kept-alive requests failed: $out"
	log "kept-alive requests: $(echo "$out" | tr '\n' ' ')"
	check_eq "answers on one connection" "$(echo "$out" | awk '{print $1}' | sort -u | wc -l)" 1
	check_eq "answers (the first from back-end 1, exact; the second back-end 2's)" \
		"$(echo "$out" | cut -d' ' -f2- | tr '\n' ';')" "exact;back-end 2;"
fi
barrier move-done 200
if ((BATON_GUEST == 1)); then
	check_eq "connections moved by the front-end" "$(($(batonctl -j stats | jq -er .moved) - moved0))" 1
fi

# The same over IPv6, virtio's offloads included: IPv6 addresses beside the
# IPv4 ones, a second server on each back-end, an IPv6 service.
readonly vip6=2001:db8::100
addr6() {
	echo "2001:db8::$(($1 + 1))"
}
ip addr add "$(addr6 "$BATON_GUEST")/64" dev eth0 nodad
case $BATON_GUEST in
1)
	ip addr add "$vip6/128" dev eth0 nodad
	sysctl -qw net.ipv6.conf.all.forwarding=1
	batonctl service add "[$vip6]:80"
	batonctl backend add "[$vip6]:80" "[$(addr6 2)]:$be_port" peer 2
	batonctl backend add "[$vip6]:80" "[$(addr6 3)]:$be_port" peer 3
	batonctl rule add "[$vip6]:80" host a.example to "[$(addr6 2)]:$be_port"
	batonctl rule add "[$vip6]:80" path /b/ to "[$(addr6 3)]:$be_port"
	batonctl service list
	;;
2 | 3)
	python3 "$httpd" "$(addr6 "$BATON_GUEST")" "$be_port" "$work/www" \
		>"$BATON_OUT/httpd6.$BATON_GUEST.log" 2>&1 &
	defer kill $!
	wait_for -t 20 sh -c "ss -Hltn 'sport = :$be_port' | grep -qF '[$(addr6 "$BATON_GUEST")]'" ||
		fail "the IPv6 server does not listen"
	;;
esac
barrier ready6 60
round IPv6 "[$vip6]" "$(addr6 0)" "6.$BATON_GUEST.log"
baton_unload
log "all checks passed"
