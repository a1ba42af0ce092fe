#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Conformance of the module with its YNL spec: the kernel tree's own generic
# YNL client (tools/net/ynl/cli.py of the pinned 6.12 source) drives the
# family from Documentation/netlink/specs/baton.yaml alone, after validating
# the spec against the tree's genetlink schema. Covers every command, the
# policy (range check, read-only attributes, nested attributes), handler
# extack messages, and the peer commands (nested request, multi-attr nested
# reply with an enum and an IPv4 address).
#
# guests: 1
# memory: 512M
# timeout: 300
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd python3 jq
: "${BATON_KDIR:?run.sh passes the kernel build directory}"
ksrc=$(readlink -f "$BATON_KDIR/source")
[ -f "$ksrc/tools/net/ynl/cli.py" ] || skip "no tools/net/ynl in $ksrc"
python3 -c 'import yaml, jsonschema' 2>/dev/null || skip "python3-yaml or python3-jsonschema missing"

# ynl ARGS...: cli.py with our spec and the tree's schema; JSON on stdout.
ynl() {
	python3 "$ksrc/tools/net/ynl/cli.py" --output-json \
		--spec "$BATON_REPO/Documentation/netlink/specs/baton.yaml" \
		--schema "$ksrc/Documentation/netlink/genetlink.yaml" "$@"
}

# ynl_err ERRNO MSG ARGS...: the request fails with -ERRNO and extack MSG.
ynl_err() {
	local want_errno=$1 want_msg=$2 out
	shift 2
	if out=$(ynl "$@" 2>&1); then
		fail "ynl $* succeeded: $out"
	fi
	grep -q "error: -$want_errno" <<<"$out" || fail "ynl $*: want errno -$want_errno, got: $out"
	grep -q "$want_msg" <<<"$out" || fail "ynl $*: want extack '$want_msg', got: $out"
	log "ok: ynl $* -> -$want_errno '$want_msg'"
}

baton_load
check_eq "status-get version" "$(ynl --do status-get | jq -r .version)" \
	"$(cat "$BATON_REPO/VERSION")"
ping -c 3 -i 0.2 127.0.0.1 >/dev/null
check_ge "status-get hooks.local-out" "$(ynl --do status-get | jq -r '.hooks."local-out"')" 3
check_eq "config-get" "$(ynl --do config-get | jq -c .)" '{"ctrl-port":7300,"node-id":0}'
ynl --do config-set --json '{"ctrl-port": 7400, "node-id": 42}' >/dev/null
check_eq "config-get after config-set" "$(ynl --do config-get | jq -c .)" \
	'{"ctrl-port":7400,"node-id":42}'
check_eq "batonctl agrees" "$(batonctl -j config show)" '{"ctrl-port":7400,"node-id":42}'
ynl_err 34 "integer out of range" --do config-set --json '{"ctrl-port": 0}'
ynl_err 22 "no configuration attribute given" --do config-set --json '{}'
ynl_err 22 "attribute is read-only" --do config-set --json '{"version": "x"}'
check_eq "config unchanged by refused requests" "$(ynl --do config-get | jq -c .)" \
	'{"ctrl-port":7400,"node-id":42}'

# Peers: a nested request attribute, a multi-attr nested reply with an enum
# and a big-endian IPv4 address.
addr_int=$(((198 << 24) | (18 << 16) | 2)) # 198.18.0.2
ynl --do peer-add --json "{\"peer\": {\"node-id\": 7, \"addr\": $addr_int}}" >/dev/null
ynl --do peer-add --json "{\"peer\": {\"node-id\": 8, \"addr\": $addr_int, \"port\": 7500}}" >/dev/null
peers=$(ynl --do peer-get)
log "peer-get: $peers"
check_eq "peer-get node ids" "$(jq -c '[.peer[]."node-id"]' <<<"$peers")" '[7,8]'
check_eq "peer-get ports (default: ctrl-port)" "$(jq -c '[.peer[].port]' <<<"$peers")" '[7400,7500]'
check_eq "peer-get address" "$(jq -r '.peer[0].addr' <<<"$peers")" 198.18.0.2
check_eq "peer-get state" "$(jq -r '.peer[0].state' <<<"$peers")" down
check_eq "batonctl agrees" "$(batonctl -j peer list | jq -c '[.[] | [."node-id", .addr, .port]]')" \
	'[[7,"198.18.0.2",7400],[8,"198.18.0.2",7500]]'
ynl_err 17 "a peer with this node-id exists" --do peer-add --json "{\"peer\": {\"node-id\": 7, \"addr\": $addr_int}}"
ynl_err 22 "peer node-id is this node's own node-id" --do peer-add --json "{\"peer\": {\"node-id\": 42, \"addr\": $addr_int}}"
ynl_err 22 "peer addr must be a unicast IPv4 address" --do peer-add --json '{"peer": {"node-id": 9, "addr": 2130706433}}'
ynl_err 22 "attribute is read-only" --do peer-add --json "{\"peer\": {\"node-id\": 9, \"addr\": $addr_int, \"msgs-in\": 1}}"
ynl --do peer-del --json '{"peer": {"node-id": 7}}' >/dev/null
ynl_err 2 "no peer with this node-id" --do peer-del --json '{"peer": {"node-id": 7}}'
check_eq "peer-get after del" "$(ynl --do peer-get | jq -c '[.peer[]."node-id"]')" '[8]'
baton_unload
log "all checks passed"
