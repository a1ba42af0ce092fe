#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Services and back-ends as configuration objects, through batonctl:
#   - add services with each scheduler, back-ends with weights and peers;
#     `service list` text (ipvsadm-like) and JSON show exactly what was set;
#   - every bad input is refused with the kernel's message naming the field
#     and changes nothing (duplicate, unknown service, unknown peer, bad
#     weight, bad address);
#   - deleting a back-end or a service removes exactly that object;
#   - an unprivileged user may list but not add;
#   - objects are per network namespace; rmmod with objects set is clean;
#   - timeouts are set and shown, out-of-range values refused;
#   - batonctl save, replayed by restore -f into an empty namespace, gives
#     the same configuration; restore stops at a failing line, names it
#     with a hint and undoes the lines before it;
#   - refusals carry a hint naming the command's objects and what to do.
#
# guests: 1
# memory: 512M
# timeout: 180
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd jq setpriv ip

svc_json() {
	batonctl -j service list
}

baton_load
batonctl config set node-id 1
batonctl peer add 2 198.18.0.2

batonctl service add 198.18.1.10:80
batonctl service add 198.18.1.10:443 scheduler wrr
batonctl service add 198.18.1.11:80 scheduler sh
batonctl backend add 198.18.1.10:80 198.18.2.1:8080
batonctl backend add 198.18.1.10:80 198.18.2.2:80 weight 3 peer 2
batonctl backend add 198.18.1.10:443 198.18.2.3:443 weight 0
batonctl service list

check_eq "service count" "$(svc_json | jq length)" 3
check_eq "first service" "$(svc_json | jq -c '.[0] | [.addr, .port, .scheduler]')" \
	'["198.18.1.10",80,"lc"]'
check_eq "schedulers" "$(svc_json | jq -c '[.[].scheduler]')" '["lc","wrr","sh"]'
check_eq "back-ends of :80" "$(svc_json | jq -c '.[0].backends')" \
	'[{"addr":"198.18.2.1","port":8080,"weight":1,"peer":0,"active":0,"draining":false},{"addr":"198.18.2.2","port":80,"weight":3,"peer":2,"active":0,"draining":false}]'
check_eq "weight 0 kept" "$(svc_json | jq '.[1].backends[0].weight')" 0
batonctl service list | grep -qE '^  -> 198\.18\.2\.2:80 +3 +2 +0$' ||
	fail "text listing lacks the peer back-end line"

expect_error "service exists" batonctl service add 198.18.1.10:80
expect_error "service not found" batonctl backend add 198.18.1.99:80 198.18.2.1:80
expect_error "backend exists" batonctl backend add 198.18.1.10:80 198.18.2.1:8080
expect_error "not a configured peer" batonctl backend add 198.18.1.10:80 198.18.2.9:80 peer 9
expect_error "backend not found" batonctl backend del 198.18.1.10:80 198.18.2.9:80
expect_error "peer serves a backend" batonctl peer del 2
# The hints name this command's objects and what to do.
expect_error "hint: 198.18.1.10:80 is a service already: batonctl service del 198.18.1.10:80 first" \
	batonctl service add 198.18.1.10:80
expect_error "hint: no peer 9: batonctl peer add 9 ADDR[:PORT] first" \
	batonctl backend add 198.18.1.10:80 198.18.2.9:80 peer 9
expect_error "hint: peer 2 serves back-ends: batonctl backend del 198.18.1.10:80 198.18.2.2:80 first" \
	batonctl peer del 2
rc=0
batonctl backend add 198.18.1.10:80 198.18.2.9:80 weight 70000 2>/dev/null || rc=$?
check_eq "weight out of range is a usage error" "$rc" 2
rc=0
batonctl service add 224.0.0.1:80 2>/dev/null || rc=$?
[ "$rc" -ne 0 ] || fail "multicast VIP accepted"
check_eq "nothing changed by refused commands" "$(svc_json | jq '[.[].backends | length] | add')" 3

rc=0
setpriv --reuid=65534 --regid=65534 --clear-groups "$BATONCTL" service list >/dev/null ||
	fail "unprivileged service list failed"
setpriv --reuid=65534 --regid=65534 --clear-groups "$BATONCTL" service add 198.18.1.12:80 \
	2>/dev/null || rc=$?
check_eq "unprivileged service add: exit code" "$rc" 4

batonctl backend del 198.18.1.10:80 198.18.2.1:8080
check_eq "back-ends after del" "$(svc_json | jq -c '[.[0].backends[].addr]')" '["198.18.2.2"]'
batonctl service del 198.18.1.10:443
check_eq "services after del" "$(svc_json | jq -c '[.[] | "\(.addr):\(.port)"]')" \
	'["198.18.1.10:80","198.18.1.11:80"]'

ip netns add other
check_eq "other netns has no services" "$(ip netns exec other "$BATONCTL" -j service list | jq length)" 0
ip netns exec other "$BATONCTL" service add 198.18.1.10:80
check_eq "init netns still has two" "$(svc_json | jq length)" 2
ip netns del other

# Timeouts: set, shown, range-checked by batonctl and by the kernel.
batonctl config set request-timeout-ms 1500 idle-timeout 60000
check_eq "timeouts" "$(batonctl -j config show | jq -c '[."request-timeout-ms", ."handoff-timeout-ms", ."idle-timeout-ms"]')" \
	'[1500,2500,60000]'
rc=0
batonctl config set handoff-timeout-ms 50 2>/dev/null || rc=$?
check_eq "handoff timeout below 100 ms is a usage error" "$rc" 2

# Rules, then save / restore into an empty namespace gives the same
# configuration back.
batonctl rule add 198.18.1.10:80 host a.example to 198.18.2.2:80
batonctl rule add 198.18.1.10:80 domain img.example path /static/ to 198.18.2.2:80
batonctl save | tee "$BATON_OUT/saved.txt"
ip netns add restored
ip netns exec restored "$BATONCTL" restore -f "$BATON_OUT/saved.txt"
check_eq "save after restore equals the saved configuration" \
	"$(ip netns exec restored "$BATONCTL" save)" "$(cat "$BATON_OUT/saved.txt")"
# A failing line stops the restore, is named, and what came before it is
# undone.
printf 'service add 198.18.1.20:80\n\n# comment\nbackend add 198.18.1.21:80 198.18.2.1:80\nservice add 198.18.1.22:80\n' \
	>"$BATON_OUT/bad.txt"
rc=0
ip netns exec restored "$BATONCTL" restore <"$BATON_OUT/bad.txt" 2>"$BATON_OUT/restore.err" || rc=$?
check_eq "restore with a bad line: exit code" "$rc" 1
grep -qF "restore: <stdin>:4: service not found; the command before it was undone" "$BATON_OUT/restore.err" ||
	fail "restore error does not name the line: $(cat "$BATON_OUT/restore.err")"
grep -qF "hint: no service 198.18.1.21:80 here" "$BATON_OUT/restore.err" ||
	fail "restore error has no hint: $(cat "$BATON_OUT/restore.err")"
check_eq "services after the failed restore" \
	"$(ip netns exec restored "$BATONCTL" -j service list | jq -c '[.[] | select(.addr != "198.18.1.10" and .addr != "198.18.1.11") | .addr]')" '[]'
ip netns exec restored "$BATONCTL" -j service list | jq -e 'map(.port) | index(80) != null' >/dev/null
ip netns del restored

baton_unload
log "all checks passed"
