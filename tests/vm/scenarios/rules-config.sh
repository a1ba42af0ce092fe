#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Content rules, timeouts and save/restore as configuration, through
# batonctl (the traffic side of rules is in handoff-guests and
# handoff-netns):
#   - rule add/list/del keep the order (append, insert at an index, delete
#     by index; host, host *.DOMAIN, domain, path), rule list text and JSON,
#     of every service or one;
#   - every bad rule is refused naming the field: by batonctl before the
#     kernel (exit 2) or by the kernel with its extack message (exit 1):
#     back-end of another service, index out of range, unknown service, a
#     65th rule, a back-end that a rule targets; refusals change nothing;
#   - the three timeouts: defaults, set one or all (also abbreviated),
#     config show text and JSON, out-of-range values refused naming the
#     setting, nothing changed;
#   - batonctl save prints commands that batonctl restore (stdin or -f)
#     replays into a fresh namespace, and into the module after rmmod and
#     insmod, giving the same save output; restore --check reads a file
#     and applies nothing; a line that is not a configuration command
#     fails with "FILE:N:" and a non-zero exit before anything is applied;
#     a command the kernel refuses fails the same way after the commands
#     before it were undone: the namespace is as it was.
#
# guests: 1
# memory: 512M
# timeout: 180
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd jq ip

# expect_error RC MESSAGE CMD...: CMD fails with exit code RC and MESSAGE in
# its output.
expect_error() {
	local want_rc=$1 want=$2 rc=0 msg
	shift 2
	msg=$("$@" 2>&1) || rc=$?
	check_eq "exit code of '$*'" "$rc" "$want_rc"
	grep -qF -- "$want" <<<"$msg" || fail "'$*': want '$want', got: $msg"
}

VIP=198.18.1.10:80
BE1=198.18.2.1:8080
BE2=198.18.2.2:80
BE3=198.18.2.3:80

baton_load
batonctl config set node-id 1
batonctl peer add 2 198.18.0.2
batonctl service add $VIP scheduler wrr
batonctl service add 198.18.1.11:80 scheduler sh
batonctl backend add $VIP $BE1
batonctl backend add $VIP $BE2 weight 3 peer 2
batonctl backend add 198.18.1.11:80 $BE3

# --- rules ------------------------------------------------------------------

# The rules of $VIP as [index, host, domain, path, backend].
rules_of_vip() {
	batonctl -j rule list $VIP | jq -c '[.[0].rules[] | [.index, .host, .domain, .path, .backend]]'
}

check_eq "no rules yet" "$(batonctl -j rule list | jq -c '[.[].rules | length]')" '[0,0]'
check_eq "rule list of one service" "$(batonctl -j rule list 198.18.1.11:80 | jq -c '[.[].service]')" \
	'["198.18.1.11:80"]'
expect_error 1 "service not found" batonctl rule list 198.18.1.99:80

batonctl rule add $VIP host '*.example.com' path /api/ to $BE2
batonctl rule add $VIP path /static to $BE1
batonctl rule add $VIP host www.example.com to $BE1 index 0
batonctl rule add $VIP domain example.net to $BE2 index 3
batonctl rule list
check_eq "rules in order" "$(rules_of_vip)" \
	"$(printf '%s' '[[0,"www.example.com",false,null,"198.18.2.1:8080"],' \
		'[1,"example.com",true,"/api/","198.18.2.2:80"],' \
		'[2,null,false,"/static","198.18.2.1:8080"],' \
		'[3,"example.net",true,null,"198.18.2.2:80"]]')"
batonctl rule list $VIP | grep -qE '^  1 +domain example.com path /api/ +-> 198\.18\.2\.2:80$' ||
	fail "text listing lacks the domain rule"
check_eq "the other service has none" "$(batonctl -j rule list 198.18.1.11:80 | jq '.[0].rules | length')" 0

# Refused by batonctl before the kernel sees them (usage errors, exit 2),
# each naming the field.
expect_error 2 "a rule needs 'host', 'domain' or 'path'" batonctl rule add $VIP to $BE1
expect_error 2 "a rule needs 'to ADDR:PORT'" batonctl rule add $VIP host a.example
expect_error 2 "host 'a b': invalid character" batonctl rule add $VIP host "a b" to $BE1
expect_error 2 "host '*.': empty host" batonctl rule add $VIP host '*.' to $BE1
expect_error 2 "host 'a.*.example': invalid character" batonctl rule add $VIP host 'a.*.example' to $BE1
expect_error 2 "path 'api': path prefix must start with /" batonctl rule add $VIP path api to $BE1
expect_error 2 "index 'x'" batonctl rule add $VIP path /a to $BE1 index x
expect_error 2 "to '198.18.2.1'" batonctl rule add $VIP path /a to 198.18.2.1
expect_error 2 "give one of 'host' and 'domain'" batonctl rule add $VIP host a domain b to $BE1

# Refused by the kernel with its extack message (exit 1).
expect_error 1 "rule backend is not a backend of this service" \
	batonctl rule add $VIP path /x to $BE3
expect_error 1 "rule index out of range" batonctl rule add $VIP path /x to $BE1 index 5
expect_error 1 "rule index out of range" batonctl rule del $VIP 4
expect_error 1 "hint: $VIP has 4 rules, indexes 0 to 3" batonctl rule del $VIP 4
expect_error 1 "service not found" batonctl rule add 198.18.1.99:80 path /x to $BE1
expect_error 1 "service not found" batonctl rule del 198.18.1.99:80 0
expect_error 1 "backend is the target of a rule" batonctl backend del $VIP $BE2
expect_error 1 "hint: rules of $VIP send to $BE2: batonctl rule del $VIP " batonctl backend del $VIP $BE2
check_eq "refusals changed nothing" "$(rules_of_vip | jq length),$(batonctl -j service list | jq '.[0].backends | length')" 4,2

# At most 64 rules per service.
for i in $(seq 0 63); do
	echo "rule add 198.18.1.11:80 path /p$i to $BE3"
done | batonctl restore
check_eq "64 rules" "$(batonctl -j rule list 198.18.1.11:80 | jq '.[0].rules | length')" 64
expect_error 1 "too many rules in this service (64 at most)" \
	batonctl rule add 198.18.1.11:80 path /p64 to $BE3
check_eq "64th rule last" "$(batonctl -j rule list 198.18.1.11:80 | jq -r '.[0].rules[63].path')" /p63
for i in $(seq 0 63); do
	echo "rule del 198.18.1.11:80 0"
done | batonctl restore
check_eq "all deleted" "$(batonctl -j rule list 198.18.1.11:80 | jq '.[0].rules | length')" 0

batonctl rule del $VIP 3
batonctl rule del $VIP 1
check_eq "rules after del" "$(rules_of_vip | jq -c '[.[] | .[0:2]]')" \
	'[[0,"www.example.com"],[1,null]]'

# --- timeouts ---------------------------------------------------------------

timeouts() {
	batonctl -j config show | jq -c '[."request-timeout-ms", ."handoff-timeout-ms", ."idle-timeout-ms", ."heartbeat-timeout-ms"]'
}

check_eq "timeout defaults" "$(timeouts)" '[3000,2500,300000,3000]'
batonctl config set request-timeout-ms 100
check_eq "request timeout set alone" "$(timeouts)" '[100,2500,300000,3000]'
batonctl config set request-timeout-ms 60000 handoff-timeout-ms 30000 idle-timeout-ms 86400000 heartbeat-timeout-ms 60000
check_eq "config show" "$(batonctl config show)" \
	"ctrl-port 7300 node-id 1 request-timeout-ms 60000 handoff-timeout-ms 30000 idle-timeout-ms 86400000 heartbeat-timeout-ms 60000 copies 1 auth off"
expect_error 2 "'request-timeout-ms'" batonctl config set request-timeout-ms 99
expect_error 2 "'handoff-timeout-ms'" batonctl config set handoff-timeout-ms 30001 node-id 5
expect_error 2 "'idle-timeout-ms'" batonctl config set idle-timeout-ms 999
expect_error 2 "'idle-timeout-ms'" batonctl config set idle-timeout-ms 86400001
expect_error 2 "'heartbeat-timeout-ms'" batonctl config set heartbeat-timeout-ms 1999
expect_error 2 "'heartbeat-timeout-ms'" batonctl config set heartbeat-timeout-ms 60001
expect_error 2 "'copies'" batonctl config set copies 64
expect_error 2 "'copies'" batonctl config set copies 0
check_eq "refused settings changed nothing" "$(timeouts),$(batonctl -j config show | jq '."node-id"')" \
	'[60000,30000,86400000,60000],1'
batonctl config set request-timeout 3000 handoff 1500 idle 5000 heartbeat 4000 ctrl 7400
check_eq "abbreviated keys" "$(batonctl -j config show | jq -c .)" \
	'{"ctrl-port":7400,"node-id":1,"request-timeout-ms":3000,"handoff-timeout-ms":1500,"idle-timeout-ms":5000,"heartbeat-timeout-ms":4000,"copies":1,"auth":false}'

# --- save and restore -------------------------------------------------------

batonctl peer add 3 198.18.0.3:7500
batonctl service add 198.18.1.12:443 scheduler rr
batonctl backend add 198.18.1.12:443 198.18.2.4:443 weight 0 peer 3
batonctl rule add 198.18.1.12:443 host '*.example.org' path / to 198.18.2.4:443
# An IPv6 service beside them: save and restore keep both families.
batonctl service add '[2001:db8:1::12]:443' scheduler wrr
batonctl backend add '[2001:db8:1::12]:443' '[2001:db8:2::4]:443' weight 2 peer 3
saved=$BATON_OUT/saved.conf
batonctl save >"$saved"
log "saved configuration:"
sed 's/^/    /' "$saved" >&2
check_eq "save: settings first" "$(head -n 1 "$saved")" \
	"config set ctrl-port 7400 node-id 1 request-timeout-ms 3000 handoff-timeout-ms 1500 idle-timeout-ms 5000 heartbeat-timeout-ms 4000 copies 1"
grep -qxF "peer add 2 198.18.0.2:7300" "$saved" || fail "save lacks peer 2"
grep -qxF "backend add $VIP $BE2 weight 3 peer 2" "$saved" || fail "save lacks back-end $BE2"
grep -qxF "backend add [2001:db8:1::12]:443 [2001:db8:2::4]:443 weight 2 peer 3" "$saved" ||
	fail "save lacks the IPv6 back-end"
check_eq "save: rules in order" "$(grep '^rule add' "$saved")" \
	"rule add $VIP host www.example.com to $BE1
rule add $VIP path /static to $BE1
rule add 198.18.1.12:443 domain example.org path / to 198.18.2.4:443"

# A fresh namespace, from a file.
ns_create fresh
check_eq "fresh namespace is empty" "$(ns_exec fresh "$BATONCTL" -j service list)" '[]'
ns_exec fresh "$BATONCTL" restore -f "$saved"
check_eq "fresh namespace: save after restore" "$(ns_exec fresh "$BATONCTL" save)" "$(cat "$saved")"

# The module reloaded, from standard input, with comments and blank lines.
baton_unload
baton_load
check_eq "reloaded module is empty" "$(batonctl -j service list)" '[]'
{
	echo "# batonctl save of $(hostname)"
	echo
	sed 's/^/  /' "$saved"
} | batonctl restore
check_eq "reloaded module: save after restore" "$(batonctl save)" "$(cat "$saved")"

# --check reads the file and applies nothing.
ns_create checked
ns_exec checked "$BATONCTL" restore --check -f "$saved" || fail "restore --check refused the saved file"
check_eq "restore --check applied nothing" \
	"$(ns_exec checked "$BATONCTL" -j service list),$(ns_exec checked "$BATONCTL" -j peer list)" '[],[]'

# A line the kernel refuses: the lines before it are undone, those after
# it not applied; the settings it changed are back.
ns_create partial
ns_exec partial "$BATONCTL" config set copies 2
bad=$BATON_OUT/bad.conf
printf '%s\n' "config set node-id 7 copies 3" "peer add 4 198.18.0.4" "service add 198.18.1.20:80" \
	"" "backend add 198.18.1.20:80 198.18.2.1:80 peer 4" "service add 198.18.1.20:80" \
	"service add 198.18.1.21:80" >"$bad"
expect_error 1 "$bad:6: service exists" ns_exec partial "$BATONCTL" restore -f "$bad"
expect_error 1 "the 4 commands before it were undone" ns_exec partial "$BATONCTL" restore -f "$bad"
check_eq "nothing left of the refused restore" \
	"$(ns_exec partial "$BATONCTL" -j service list),$(ns_exec partial "$BATONCTL" -j peer list),$(ns_exec partial "$BATONCTL" -j config show | jq -c '[."node-id", .copies]')" \
	'[],[],[0,2]'

# A line batonctl cannot parse, and one that is not a configuration
# command: refused before anything is applied, also by --check.
ns_create typo
printf 'config set node-id 9\nbackend add 198.18.1.30:80 198.18.2.1:80 weight 70000\n' >"$BATON_OUT/typo.conf"
expect_error 1 "$BATON_OUT/typo.conf:2: " ns_exec typo "$BATONCTL" restore -f "$BATON_OUT/typo.conf"
expect_error 1 "$BATON_OUT/typo.conf:2: " ns_exec typo "$BATONCTL" restore --check -f "$BATON_OUT/typo.conf"
check_eq "typo: nothing applied" "$(ns_exec typo "$BATONCTL" -j config show | jq '."node-id"')" 0
expect_error 1 "<stdin>:2: only configuration commands can be restored" \
	sh -c "printf 'config set node-id 9\nstats\n' | ip netns exec typo '$BATONCTL' restore"
check_eq "typo: still nothing applied" "$(ns_exec typo "$BATONCTL" -j config show | jq '."node-id"')" 0
expect_error 1 "<stdin>:1: " sh -c "echo 'save' | '$BATONCTL' restore"
expect_error 1 "cannot read" batonctl restore -f "$BATON_OUT/none.conf"

baton_unload
log "all checks passed"
