#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Two-guest smoke test, no module needed: both guests on the host's private
# bridge (tests/vm/run.sh), rendezvous with barriers, ping each other, check
# the peer's echo requests arrived, then a byte-exact TCP transfer from
# guest 1 to guest 0.
#
# guests: 2
# memory: 512M
# timeout: 180
#
#   guest0 eth0 198.18.0.1/24 --- tap0 -- br0 -- tap1 --- eth0 198.18.0.2/24 guest1
#                                 (private netns on the host)
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip ping socat cmp

readonly count=4
readonly port=8080
readonly peer=$(((BATON_GUEST + 1) % BATON_GUESTS))
peer_addr=$(guest_addr "$peer")
readonly peer_addr

test_ping() {
	local req0 out sent
	req0=$(snmp_get - Icmp InEchos)
	barrier net-up

	out=$(ping -c "$count" -i 0.2 -W 5 "$peer_addr") || fail "no answer from guest$peer ($peer_addr)"
	sent=$(sed -n 's/^\([0-9]\+\) packets transmitted.*/\1/p' <<<"$out")
	log "ping guest$peer: $(tail -n 1 <<<"$out")"
	publish echos-sent "$sent"
	barrier ping-done

	check_eq "Icmp InEchos delta (guest$peer sent)" \
		$(($(snmp_get - Icmp InEchos) - req0)) "$(fetch "$peer" echos-sent)"
	check_ge "eth0 rx_packets" "$(link_stat - eth0 rx_packets)" "$count"
}

# test_tcp: guest1 sends 1 MiB to a socat listener on guest0; the bytes and
# their checksum travel separately (TCP vs. the out share).
test_tcp() {
	local f=/tmp/smoke2.data
	if ((BATON_GUEST == 0)); then
		socat -u TCP-LISTEN:$port,reuseaddr STDOUT >"$f" &
		local pid=$!
		wait_listen - $port || fail "socat did not listen"
		barrier listening
		wait "$pid" || fail "socat listener failed"
		check_eq "sha256 of received bytes" "$(sha256sum <"$f" | cut -d' ' -f1)" "$(fetch 1 sha256)"
	else
		dd if=/dev/urandom of="$f" bs=64k count=16 status=none
		publish sha256 "$(sha256sum <"$f" | cut -d' ' -f1)"
		barrier listening
		timeout 60 socat -u STDIN "TCP:$(guest_addr 0):$port" <"$f" || fail "socat to guest0 failed"
		log "sent 1 MiB to guest0"
	fi
}

setup_guest_net
test_ping
test_tcp
barrier finished
log "all checks passed"
