#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# baton.ko in two guests on one L2 segment (tap devices on a bridge in a
# private host namespace). Each guest loads the module and sets its node id
# with batonctl; guest 0 pings guest 1, and both check that their hook
# counters grew by exactly the packets of that exchange; then both unload.
#
# guests: 2
# memory: 512M
# timeout: 240
#
#   guest0 eth0 198.18.0.1/24 --- tap0 -- br0 -- tap1 --- eth0 198.18.0.2/24 guest1
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip ping jq

readonly count=5

snapshot() {
	"$BATONCTL" -j status | jq -r '.hooks | [."pre-routing", ."local-in", ."local-out", ."post-routing"] | @tsv'
}

setup_guest_net
baton_load
batonctl config set node-id "$((BATON_GUEST + 1))"
check_eq "node-id" "$(batonctl -j config show | jq -r '."node-id"')" "$((BATON_GUEST + 1))"

read -r -a before <<<"$(snapshot)"
barrier loaded
if ((BATON_GUEST == 0)); then
	ping -c "$count" -i 0.2 -W 5 "$(guest_addr 1)" >/dev/null || fail "no answer from guest 1"
fi
barrier pinged
read -r -a after <<<"$(snapshot)"
batonctl status
i=0
for h in pre-routing local-in local-out post-routing; do
	# Guest 0 sent the requests and got the replies, guest 1 the reverse:
	# each hook of each guest saw exactly $count IPv4 packets.
	check_eq "guest$BATON_GUEST $h delta" $((after[i] - before[i])) "$count"
	i=$((i + 1))
done
barrier checked
baton_unload
log "all checks passed"
