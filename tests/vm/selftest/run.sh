#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Self-test of the VM harness: runs tests/vm/run.sh on scenarios that must
# pass, fail or skip in known ways (kernel warning on the console, scenario
# exit status, guest-side timeout, kernel panic, hung guest), two of them
# side by side, and checks the verdict lines it prints.  Not part of the
# default scenario run.
#
#   tests/vm/selftest/run.sh [-k KDIR]      (about 1 minute)
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
vm=$here/..
repo=$(cd "$vm/../.." && pwd)
out=$repo/build/vm-logs/selftest
passed=0
failed=0

# expect NAME REGEX [ENV=VALUE...] -- RUN.SH-ARGS...: run.sh's verdict line for
# the scenario must match REGEX.
expect() {
	local name=$1 want=$2 envs=() got
	shift 2
	while [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	got=$(env "${envs[@]}" "$vm/run.sh" -o "$out" "$@" 2>&1 | grep -E '^(PASS|FAIL|SKIP) ' | head -n 1)
	if [[ $got =~ $want ]]; then
		echo "PASS selftest: $name"
		passed=$((passed + 1))
	else
		echo "FAIL selftest: $name"
		echo "    want: $want"
		echo "    got:  ${got:-<no verdict line>}"
		failed=$((failed + 1))
	fi
}

kargs=()
[ "${1:-}" = -k ] && kargs=(-k "$2")

expect "clean run passes" '^PASS pass \(' -- "${kargs[@]}" "$here/pass.sh"
expect "kernel WARNING on the console fails" "^FAIL kmsg-warning: guest0: kernel reported '.*WARNING: CPU" \
	-- "${kargs[@]}" "$here/kmsg-warning.sh"
expect "scenario exit status fails (guest1 of 2)" '^FAIL exit-fail: guest1: scenario exit 1 \(deliberate failure on guest 1\) \(' \
	-- "${kargs[@]}" "$here/exit-fail.sh"
expect "guest-side timeout fails" '^FAIL timeout: guest0: scenario timed out after [0-9]+s' \
	-- "${kargs[@]}" "$here/timeout.sh"
expect "missing tool skips" '^SKIP skip: baton-no-such-tool not installed' -- "${kargs[@]}" "$here/skip.sh"
expect "kernel panic fails" "^FAIL pass: guest0: no exit status .*Kernel panic - not syncing" \
	BATON_VM_APPEND=init=/bin/false -- "${kargs[@]}" "$here/pass.sh"
expect "hung guest is killed and fails" '^FAIL pass: guest0: killed after [0-9]+s' \
	BATON_VM_GRACE=3 "BATON_VM_APPEND=init=/bin/sleep -- 600" -- "${kargs[@]}" -t 5 "$here/pass.sh"

# Side by side (-j 2): both guests started at once (the epochs on their
# kernel command lines), each judged on its own, both counted.
got=$("$vm/run.sh" -o "$out" -j 2 "${kargs[@]}" "$here/pass.sh" "$here/kmsg-warning.sh" 2>&1)
epochs=$(grep -haoE 'baton\.epoch=[0-9]+' "$out"/pass/guest0.console "$out"/kmsg-warning/guest0.console |
	sort -u | cut -d= -f2 | tr '\n' ' ')
read -r e0 e1 <<<"$epochs"
if grep -qE '^PASS pass \(' <<<"$got" && grep -qE "^FAIL kmsg-warning: guest0: kernel reported '.*WARNING: CPU" <<<"$got" &&
	grep -qx 'vm: 1 passed, 1 failed' <<<"$got" && [ -n "$e0" ] && ((${e1:-$e0} - e0 <= 2)); then
	echo "PASS selftest: two scenarios side by side, each judged"
	passed=$((passed + 1))
else
	echo "FAIL selftest: two scenarios side by side, each judged"
	echo "    started at: ${epochs:-<no epochs>}"
	awk '{ print "    got: " $0 }' <<<"$got" | head -n 20
	failed=$((failed + 1))
fi

echo "selftest: $passed passed, $failed failed"
((failed == 0))
