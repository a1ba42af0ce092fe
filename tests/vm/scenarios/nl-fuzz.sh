#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Bad netlink input (issue 5, point 4): baton-nlfuzz sends seeded random and
# mutated generic netlink requests to the family (well-formed commands with
# random values, random attribute trees with wrong types, lengths and
# nesting, unknown attributes and commands, byte mutations, dump requests)
# from a namespace that has only loopback, so nothing it configures can
# send a packet anywhere. Checks:
#   - every request is answered (an error or an acknowledged reply);
#   - as an unprivileged user, every mutating command gets EPERM;
#   - afterwards the configuration is consistent: it lists, it is within
#     its limits, every rule targets a back-end of its service, every
#     front-end group member is a peer, timeouts
#     are in range, and save/restore reproduces it;
#   - deleting the namespace and rmmod leave the kernel clean (the harness
#     fails on any warning, and on kmemleak reports on the debug kernel).
#
# BATON_FUZZ_SEED (default 1) and BATON_FUZZ_COUNT (default 100000) change
# the run; the seed is logged.
#
# guests: 1
# memory: 768M
# timeout: 900
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip jq setpriv

readonly fuzz="$BATON_REPO/userspace/target/release/baton-nlfuzz"
readonly seed=${BATON_FUZZ_SEED:-1} count=${BATON_FUZZ_COUNT:-100000}
[ -x "$fuzz" ] || fail "$fuzz not built (make userspace)"

baton_load
ns_create fz
log "fuzzing with seed $seed, $count requests"
ip netns exec fz "$fuzz" --seed "$seed" --count "$count" || fail "requests left unanswered"
ip netns exec fz setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$fuzz" --seed "$((seed + 1))" --count 5000 --expect-eperm ||
	fail "an unprivileged mutating command was not refused with EPERM"

# The configuration the fuzzer left is consistent.
b() {
	ip netns exec fz "$BATONCTL" "$@"
}
b config show
b peer list
b service list
b rule list
check_ge "services listed" "$(b -j service list | jq length)" 0
[ "$(b -j service list | jq length)" -le 64 ] || fail "more than 64 services"
[ "$(b -j peer list | jq length)" -le 64 ] || fail "more than 64 peers"
b cluster show
# Every member of the front-end group is a peer, and none is this node.
peers=$(b -j peer list | jq -c '[.[]."node-id"]')
b -j cluster show | jq -e --argjson peers "$peers" \
	'all(.members[]; .state == "self" or (."node-id" as $m | $peers | index($m)))' >/dev/null ||
	fail "a member of the front-end group is not a peer"
b -j service list | jq -e 'all(.[]; (.backends | length) <= 256 and (.rules | length) <= 64)' >/dev/null ||
	fail "a service is over its limits"
b -j service list | jq -e 'all(.[]; . as $s | all(.rules[]; .backend as $t |
	any($s.backends[]; "\(.addr):\(.port)" == $t)))' >/dev/null ||
	fail "a rule targets something that is not a back-end of its service"
b -j config show | jq -e '."request-timeout-ms" >= 100 and ."request-timeout-ms" <= 60000 and
	."handoff-timeout-ms" >= 100 and ."handoff-timeout-ms" <= 30000 and
	."idle-timeout-ms" >= 1000 and ."idle-timeout-ms" <= 86400000 and
	."heartbeat-timeout-ms" >= 2000 and ."heartbeat-timeout-ms" <= 60000 and ."ctrl-port" >= 1 and
	.copies >= 1 and .copies <= 63' >/dev/null ||
	fail "a setting is out of its range"
b save >"$BATON_OUT/fuzzed.conf"
ns_create fz2
ip netns exec fz2 "$BATONCTL" restore -f "$BATON_OUT/fuzzed.conf" ||
	fail "the fuzzed configuration does not restore"
# A key is never saved (save says so in a comment when one is set): the
# restored namespace has none.
check_eq "save after restore" "$(ip netns exec fz2 "$BATONCTL" save)" \
	"$(grep -v '^# a control-channel key is set' "$BATON_OUT/fuzzed.conf")"

ip netns del fz2
ip netns del fz
baton_unload
log "all checks passed"
