#!/usr/bin/env bash
# `make check`: build everything, then run every test suite and sum them.
#   lint  - tests/lint.sh (rustfmt, clippy)
#   host  - cargo test (pure protocol crate, batonctl), incl. proptest
#   bench-analyze - bench/test_analyze.py (the benchmark's targets judged
#           right on synthetic results)
#   fuzz  - tests/fuzz.sh 15 (each cargo-fuzz target 15 s; `make fuzz`
#           runs them longer)
#   harness - tests/vm/selftest/run.sh (the VM harness fails crashed,
#             warning, hung and timed-out guests)
#   vm    - tests/vm/run.sh (QEMU guests booting the pinned kernel; as
#           many side by side as the host has CPUs, see below)
# Ends with one line "N passed, N failed" over all suites.
set -uo pipefail
cd "$(dirname "$0")/.."

KCONFIG=${KCONFIG:-base}
export KCONFIG
mkdir -p build
start=$SECONDS

if ! make -s deps kernel module userspace KCONFIG="$KCONFIG"; then
	echo "check: build failed"
	echo "0 passed, 1 failed"
	exit 1
fi
KDIR=$(scripts/kernel.sh --config "$KCONFIG" --path)
export KDIR

total_pass=0
total_fail=0

# Adds the counts of a suite from its output file; a suite that printed no
# count but failed counts as one failure.
count() {
	local name=$1 out=$2 rc=$3 p f
	case $name in
	host)
		p=$(grep -Eo 'test result: [A-Za-z]+\. [0-9]+ passed' "$out" | awk '{s += $4} END {print s + 0}')
		f=$(grep -Eo '[0-9]+ failed;' "$out" | awk '{s += $1} END {print s + 0}')
		;;
	*)
		read -r p f < <(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1 |
			awk '{print $1, $3}')
		;;
	esac
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	echo "check: $name: $p passed, $f failed"
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
}

tests/lint.sh 2>/dev/null | tee build/check-lint.log
count lint build/check-lint.log "${PIPESTATUS[0]}"

cargo test --manifest-path userspace/Cargo.toml 2>&1 | tee build/check-host.log
count host build/check-host.log "${PIPESTATUS[0]}"

python3 bench/test_analyze.py 2>&1 | tee build/check-bench-analyze.log
count bench-analyze build/check-bench-analyze.log "${PIPESTATUS[0]}"

tests/fuzz.sh 15 2>&1 | tee build/check-fuzz.log
count fuzz build/check-fuzz.log "${PIPESTATUS[0]}"

tests/vm/selftest/run.sh -k "$KDIR" 2>&1 | tee build/check-harness.log
count harness build/check-harness.log "${PIPESTATUS[0]}"

# Scenarios side by side, a guest CPU per host CPU, at most one per 2 GiB
# available (a guest's memory and its QEMU), unless BATON_VM_JOBS says.
vm_jobs=${BATON_VM_JOBS:-}
if [ -z "$vm_jobs" ]; then
	vm_jobs=$(nproc)
	mem_jobs=$(awk '/^MemAvailable:/ { print int($2 / 2097152) }' /proc/meminfo)
	((mem_jobs >= 1)) || mem_jobs=1
	((vm_jobs <= mem_jobs)) || vm_jobs=$mem_jobs
fi
tests/vm/run.sh -k "$KDIR" -j "$vm_jobs" 2>&1 | tee build/check-vm.log
count vm build/check-vm.log "${PIPESTATUS[0]}"

echo "check: took $((SECONDS - start))s (KCONFIG=$KCONFIG)"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
