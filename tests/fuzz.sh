#!/usr/bin/env bash
# Host-side fuzzing of the module's protocol code (userspace/fuzz, cargo-fuzz
# and libFuzzer): builds the targets, then runs each for a bounded time, one
# at a time, on its committed seeds (userspace/fuzz/seeds/<target>) plus a
# working corpus kept in build/fuzz/corpus/<target>.
#
#   tests/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 20 s, all)
#
# Prints "PASS <target> (Ns, N execs)" or "FAIL <target>: <reason> (<crash
# file>)" per target and ends with "fuzz: N passed, N failed". A crash file
# is replayed with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir userspace/fuzz -s none <target> <file>
#
# Environment: FUZZ_SANITIZER (default none, see below), FUZZ_RSS_MB
# (libFuzzer's memory limit, default 2048).
#
# cargo-fuzz passes nightly flags (-Zsanitizer, -Cpasses=sancov-module);
# the machine has only the stable toolchain, which takes them with
# RUSTC_BOOTSTRAP=1. AddressSanitizer works that way too, but the fuzzed
# code is safe Rust (src/proto has no unsafe), where it finds nothing the
# bounds checks do not, and it costs about 8x in executions per second, so
# the default is no sanitizer. Debug assertions and overflow checks stay on
# (cargo-fuzz's default build).
set -uo pipefail
cd "$(dirname "$0")/.."

secs=${1:-20}
shift $(($# > 0 ? 1 : 0))
san=${FUZZ_SANITIZER:-none}
rss=${FUZZ_RSS_MB:-2048}
fuzz_dir=userspace/fuzz
out=build/fuzz
export RUSTC_BOOTSTRAP=1

if ! [[ $secs =~ ^[1-9][0-9]*$ ]]; then
	echo "usage: tests/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
	exit 2
fi
mkdir -p "$out"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
	echo "FAIL fuzz: cargo-fuzz is not installed (make deps)"
	echo "fuzz: 0 passed, 1 failed"
	exit 1
fi
targets=("$@")
if ((${#targets[@]} == 0)); then
	mapfile -t targets < <(cargo fuzz list --fuzz-dir "$fuzz_dir")
fi

if ! cargo fuzz build --fuzz-dir "$fuzz_dir" -s "$san" >"$out/build.log" 2>&1; then
	echo "FAIL fuzz: build failed ($out/build.log)"
	tail -n 30 "$out/build.log" | sed 's/^/    /'
	echo "fuzz: 0 passed, 1 failed"
	exit 1
fi

passed=0
failed=0
for t in "${targets[@]}"; do
	corpus=$out/corpus/$t
	artifacts=$out/artifacts/$t
	log=$out/$t.log
	mkdir -p "$corpus" "$artifacts"
	start=$SECONDS
	# -timeout: one input running that long is a hang and a failure. The
	# outer timeout only guards against libFuzzer itself not stopping.
	# libFuzzer runs one process (no -jobs/-workers: those fork and write
	# fuzz-N.log files), so the targets run strictly one after another.
	timeout $((secs + 120)) cargo fuzz run --fuzz-dir "$fuzz_dir" -s "$san" "$t" \
		"$corpus" "$fuzz_dir/seeds/$t" -- \
		-max_total_time="$secs" -rss_limit_mb="$rss" -timeout=10 \
		-artifact_prefix="$artifacts/" \
		-print_final_stats=1 >"$log" 2>&1
	rc=$?
	took=$((SECONDS - start))
	execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ]; then
		echo "PASS $t (${took}s, ${execs:-?} execs)"
		passed=$((passed + 1))
		continue
	fi
	crash=$(sed -nE 's/.*Test unit written to (\S+).*/\1/p' "$log" | tail -n 1)
	# The panic message (the line after "panicked at"), else libFuzzer's
	# own verdict (timeout, out of memory, ...).
	reason=$(awk '/panicked at/ {getline; print; exit}' "$log")
	[ -n "$reason" ] || reason=$(grep -m1 -oE 'ERROR: libFuzzer: .*' "$log")
	[ -n "$reason" ] || reason="exit status $rc"
	((${#reason} <= 300)) || reason="${reason:0:300}..."
	echo "FAIL $t: $reason (${crash:-no crash file}, log $log)"
	if [ -n "$crash" ]; then
		echo "    replay: RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir $fuzz_dir -s $san $t $crash"
	fi
	failed=$((failed + 1))
done

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
