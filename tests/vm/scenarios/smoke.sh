#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Harness smoke test, no module needed: three namespaces on a bridge inside one
# guest ping each other in a ring (h1 -> h2 -> h3 -> h1) and the ICMP and link
# counters must grow by what was sent; then a byte-exact TCP transfer with socat.  Proves the guest
# boots, runs the host's programs and that netns/veth/bridge work.
#
# guests: 1
# memory: 512M
# timeout: 180
#
#   ns h1  eth0 198.18.1.1/24 --.
#   ns h2  eth0 198.18.1.2/24 ---+-- br0 in ns sw
#   ns h3  eth0 198.18.1.3/24 --'
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip ping socat cmp

readonly hosts=(h1 h2 h3)
readonly count=4
readonly port=8080

setup() {
	lan_setup 1 sw "${hosts[@]}"
	ns_exec sw ip -br link show master br0 >&2
}

# ping_pair FROM TO: FROM pings TO $count times; TO's echo requests received and
# FROM's echo replies received grow by exactly that, TO's eth0 by at least it.
ping_pair() {
	local from=$1 to=$2 i_to dst
	i_to=$((${to#h}))
	dst=$(lan_addr 1 "$i_to")

	local req0 rep0 rx0
	req0=$(snmp_get "$to" Icmp InEchos)
	rep0=$(snmp_get "$from" Icmp InEchoReps)
	rx0=$(link_stat "$to" eth0 rx_packets)

	ns_exec "$from" ping -q -c "$count" -i 0.2 -W 5 "$dst" >/dev/null ||
		fail "$from could not ping $to ($dst)"

	check_eq "$to Icmp InEchos delta" $(($(snmp_get "$to" Icmp InEchos) - req0)) "$count"
	check_eq "$from Icmp InEchoReps delta" $(($(snmp_get "$from" Icmp InEchoReps) - rep0)) "$count"
	check_ge "$to eth0 rx_packets delta" $(($(link_stat "$to" eth0 rx_packets) - rx0)) "$count"
}

test_ping() {
	local i n=${#hosts[@]}
	for ((i = 0; i < n; i++)); do
		ping_pair "${hosts[i]}" "${hosts[(i + 1) % n]}"
	done
}

# test_tcp: 1 MiB from h1 to a socat listener in h3, compared with cmp.
test_tcp() {
	local infile=/tmp/smoke.in outfile=/tmp/smoke.out pid
	dd if=/dev/urandom of="$infile" bs=64k count=16 status=none
	ns_exec h3 socat -u TCP-LISTEN:$port,reuseaddr STDOUT >"$outfile" &
	pid=$!
	wait_listen h3 $port || fail "socat did not listen in h3"
	ns_exec h1 timeout 60 socat -u STDIN "TCP:$(lan_addr 1 3):$port" <"$infile" ||
		fail "socat h1 -> h3 failed"
	wait "$pid" || fail "socat listener in h3 failed"
	cmp "$infile" "$outfile" || fail "h3 received different bytes than h1 sent"
	log "ok: 1 MiB h1 -> h3 byte-exact"
}

setup
test_ping
test_tcp
log "all checks passed"
