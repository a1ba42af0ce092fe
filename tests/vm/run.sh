#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Run VM scenarios: boot the pinned guest kernel in QEMU (TCG) with the host's
# root filesystem read-only over virtio-9p, run a scenario script in each guest
# (tests/vm/guest-init.sh is PID 1) and judge exit status and console.
# Documentation/testing.rst describes the harness.
#
#   tests/vm/run.sh [-k KDIR] [-o OUTDIR] [-t TIMEOUT] [-j CPUS] [--show] [SCENARIO...]
#
# Prints "PASS name (Ns)", "SKIP name: reason" or "FAIL name: reason" per
# scenario as each ends, then "vm: N passed, N failed".  Exits 1 if any
# failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

usage() {
	cat <<EOF
usage: tests/vm/run.sh [options] [SCENARIO...]

SCENARIO is a name in tests/vm/scenarios/ (smoke, smoke-2guests...) or a path
to a scenario script; none runs every tests/vm/scenarios/*.sh.

  -k KDIR     kernel build directory (default: \$KDIR, else scripts/kernel.sh --path)
  -o OUTDIR   logs and guest output (default: build/vm-logs); one directory per scenario
  -t SECS     scenario time limit, overriding the scenarios' "# timeout:" headers
              (which are for the base kernel: a debug kernel multiplies them by 4)
  -j CPUS     run scenarios side by side while their guests' CPUs add up to at
              most CPUS (default \$BATON_VM_JOBS, else 1: one at a time); one
              that needs more runs alone
  --show      also stream the guests' consoles (from init on) to stdout while they run
  -l, --list  list the scenarios and their headers
  -h, --help  this text

Environment: QEMU (binary, default qemu-system-x86_64), BATON_VM_APPEND (extra
kernel command line), BATON_VM_GRACE (seconds QEMU gets beyond the scenario
limit for boot and shutdown before it is killed, default 90),
BATON_VM_TIMEOUT_SCALE (multiplier for the headers' timeouts; default 4 for a
kernel with KASAN or lockdep, else 1), BATON_VM_TSC_KHZ (the guests' TSC
frequency, default the host's "cpu MHz"; empty: the guests calibrate it),
BATON_VM_PLUGIN (a QEMU TCG plugin that every guest loads with the argument
out=OUTDIR/<scenario>/insn.<guest>.tsv, as bench/insn.c takes),
BATON_VM_PLUGIN_ARGS (more of its arguments, comma separated; @OUT@ in them
stands for OUTDIR/<scenario>), BATON_VM_ICOUNT=N (QEMU's -icount shift=N:
the guests' clocks count executed instructions, 2^N ns each, so that a
guest's CPU times are its instructions whatever the host's load; one host
thread runs all of a guest's CPUs; for one-guest benchmarks).
EOF
}

die() {
	echo "run.sh: $*" >&2
	exit 2
}

kdir=${KDIR:-}
outdir=$repo/build/vm-logs
timeout_override=
jobs=${BATON_VM_JOBS:-1}
show=0
list=0
args=()
while (($#)); do
	case $1 in
	-k) kdir=${2:?-k needs a directory}; shift 2 ;;
	-o) outdir=${2:?-o needs a directory}; shift 2 ;;
	-t) timeout_override=${2:?-t needs seconds}; shift 2 ;;
	-j) jobs=${2:?-j needs a number of CPUs}; shift 2 ;;
	--show) show=1; shift ;;
	-l | --list) list=1; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; args+=("$@"); break ;;
	-*) usage >&2; exit 2 ;;
	*) args+=("$1"); shift ;;
	esac
done

qemu=${QEMU:-qemu-system-x86_64}
grace=${BATON_VM_GRACE:-90}
append=${BATON_VM_APPEND:-}
plugin=${BATON_VM_PLUGIN:-}
# The guests' TSC frequency, given rather than measured: under TCG a
# guest's TSC is the host's, and a guest that calibrated it against the PIT
# while the host was busy (scenarios side by side) once found 148 MHz for
# 2445: its clock ran 16 times too fast and its own time limits expired in
# seconds. Empty: the guest calibrates.
tsc_khz=${BATON_VM_TSC_KHZ-$(awk -F: '/^cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo)}
plugin_args=${BATON_VM_PLUGIN_ARGS:-}
icount=${BATON_VM_ICOUNT:-}
[[ -z $icount || $icount =~ ^([0-9]|10)$ ]] || die "BATON_VM_ICOUNT must be a shift from 0 to 10"
# Under icount QEMU's TSC counts virtual nanoseconds: 1 GHz.
[ -z "$icount" ] || [ -n "${BATON_VM_TSC_KHZ+set}" ] || tsc_khz=1000000
[ -z "$plugin" ] || [ -f "$plugin" ] || die "BATON_VM_PLUGIN: no file $plugin"
[[ ${timeout_override:-1} =~ ^[1-9][0-9]*$ ]] || die "-t needs a number of seconds"
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "-j (BATON_VM_JOBS) needs a positive number of CPUs"
[[ -z $tsc_khz || $tsc_khz =~ ^[1-9][0-9]*$ ]] || die "BATON_VM_TSC_KHZ must be a frequency in kHz"
[[ $grace =~ ^[0-9]+$ ]] || die "BATON_VM_GRACE must be a number of seconds"

# Console lines that fail a run whatever the exit status.  kmemleak's own
# start-up lines are not failures, its reports are.
crash_patterns=(
	'Oops'
	'BUG:'
	'WARNING:'
	'KASAN'
	'UBSAN:'
	'Kernel panic'
	'Call Trace'
	'general protection fault'
	'blocked for more than [0-9]* seconds'
	'soft lockup'
	'kmemleak: .*suspected memory leak'
	'unreferenced object 0x'
)

# header FILE KEY DEFAULT: value of "# KEY: value" in the leading comment block.
header() {
	local v
	v=$(awk -v k="$2" '
		!/^#/ { exit }
		{ line = $0; sub(/^#[ \t]*/, "", line) }
		index(line, k ":") == 1 { sub(/^[^:]*:[ \t]*/, "", line); sub(/[ \t]+$/, "", line); print line; exit }
	' "$1")
	echo "${v:-$3}"
}

# resolve NAME|PATH: absolute path of a scenario script.
resolve() {
	local s=$1
	if [ -f "$s" ]; then
		s=$(cd "$(dirname "$s")" && pwd)/$(basename "$s")
	elif [ -f "$here/scenarios/$s.sh" ]; then
		s=$here/scenarios/$s.sh
	elif [ -f "$here/scenarios/$s" ]; then
		s=$here/scenarios/$s
	else
		die "no scenario '$1' (see tests/vm/run.sh --list)"
	fi
	# guest-init.sh keeps the scenario's directory visible below the tmpfs
	# mounts of /tmp, /run and /var/*, but not below the pseudo filesystems.
	case $s in
	/dev/* | /proc/* | /sys/*)
		die "$s: the guest mounts its own /dev, /proc and /sys; put scenarios elsewhere" ;;
	*[[:space:]]*) die "$s: no whitespace in scenario paths (kernel command line)" ;;
	esac
	echo "$s"
}

scenarios=()
if ((${#args[@]})); then
	for a in "${args[@]}"; do
		scenarios+=("$(resolve "$a")")
	done
else
	for f in "$here"/scenarios/*.sh; do
		[ -e "$f" ] && scenarios+=("$f")
	done
fi

if ((list)); then
	for f in "${scenarios[@]}"; do
		printf '%-24s guests=%s memory=%s cpus=%s timeout=%s\n' "$(basename "$f" .sh)" \
			"$(header "$f" guests 1)" "$(header "$f" memory 512M)" \
			"$(header "$f" cpus 1)" "$(header "$f" timeout 300)"
	done
	exit 0
fi
((${#scenarios[@]})) || die "no scenarios in tests/vm/scenarios"

if [ -z "$kdir" ]; then
	kdir=$("$repo/scripts/kernel.sh" --config "${KCONFIG:-base}" --path)
fi
bzimage=$kdir/arch/x86/boot/bzImage
[ -f "$bzimage" ] || die "no kernel at $bzimage (make kernel)"
command -v "$qemu" >/dev/null || die "$qemu not found (scripts/deps.sh)"
command -v busybox >/dev/null || die "busybox not found (scripts/deps.sh): the guests power off with it"
case $repo in *[[:space:],]*) die "the repository path must not contain whitespace or commas" ;; esac
kdir=$(cd "$kdir" && pwd)
case $kdir in *[[:space:]]*) die "the kernel directory path must not contain whitespace" ;; esac
# Debug kernels (KASAN, lockdep) run the same scenario about five times slower.
scale=${BATON_VM_TIMEOUT_SCALE:-}
if [ -z "$scale" ]; then
	scale=1
	if grep -qE '^CONFIG_(KASAN|PROVE_LOCKING)=y' "$kdir/.config" 2>/dev/null; then
		scale=4
		echo "vm: debug kernel: scenario time limits x$scale"
	fi
fi
[[ $scale =~ ^[1-9][0-9]*$ ]] || die "BATON_VM_TIMEOUT_SCALE must be a positive integer"
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

# One run at a time per output directory: a second one would delete the
# first's results, and the guests of both would share the CPUs that -j
# counts for one.
exec 8>"$outdir/.lock"
if ! flock -n 8; then
	echo "vm: waiting for another tests/vm/run.sh using ${outdir#"$repo"/}"
	flock 8
fi

# Namespaces left by runs that were killed with SIGKILL (no trap ran):
# each is named after the process of the scenario that made it.
for n in $(ip netns list 2>/dev/null | grep -oE '^baton-vm-[0-9]+'); do
	kill -0 "${n#baton-vm-}" 2>/dev/null || ip netns del "$n" 2>/dev/null || true
done

# Host side of multi-guest runs: a private network namespace holding bridge br0
# and one tap device per guest.  Nothing in it routes anywhere else.
netns=
qemu_pids=()
show_pids=()

net_up() {
	local n=$1 i
	netns=baton-vm-$BASHPID
	ip netns add "$netns" || die "cannot create network namespace $netns (root needed)"
	ip -n "$netns" link set lo up
	ip -n "$netns" link add br0 type bridge forward_delay 0
	ip -n "$netns" link set br0 up
	for ((i = 0; i < n; i++)); do
		ip -n "$netns" tuntap add dev "tap$i" mode tap
		ip -n "$netns" link set "tap$i" master br0 up
	done
}

net_down() {
	[ -n "$netns" ] || return 0
	ip netns del "$netns" 2>/dev/null || true
	netns=
}

stop_guests() {
	local p
	for p in "${qemu_pids[@]}" "${show_pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${qemu_pids[@]}" "${show_pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	qemu_pids=()
	show_pids=()
}

cleanup() {
	stop_guests
	net_down
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# qemu_cmd DIR GUEST GUESTS TIMEOUT MEMORY CPUS NET SCENARIO: the guest's command line.
qemu_cmd() {
	local dir=$1 i=$2 n=$3 tmo=$4 mem=$5 cpus=$6 net=$7 scen=$8
	local cmdline
	# The root is read-only and lives for one run: let the guest cache it
	# (cache=loose, about a third faster).  The out share stays uncached:
	# guests meet through it.
	cmdline="root=/dev/root rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=512000,cache=loose ro"
	# no_timer_check: on a busy host, TCG is too slow for the boot-time
	# IO-APIC timer check, which then panics ("IO-APIC + timer doesn't
	# work"); the timer works, as on any VM.
	cmdline+=" init=$here/guest-init.sh console=ttyS0 panic=-1 oops=panic no_timer_check"
	cmdline+=" baton.scenario=$scen baton.guest=$i baton.guests=$n baton.repo=$repo"
	cmdline+=" baton.kdir=$kdir baton.timeout=$tmo baton.epoch=$(date +%s)"
	[ -z "$tsc_khz" ] || cmdline+=" tsc_early_khz=$tsc_khz"
	[ -z "$append" ] || cmdline+=" $append"
	cmd=(timeout -k 5 "$((tmo + grace))")
	((net)) && cmd+=(ip netns exec "$netns")
	cmd+=("$qemu" -nodefaults -no-user-config -nographic -serial stdio -monitor none
		-accel "tcg${icount:+,thread=single}" -cpu max -smp "$cpus" -m "$mem" -no-reboot
		-kernel "$bzimage" -append "$cmdline"
		-fsdev "local,id=root,path=/,security_model=none,readonly=on,multidevs=remap"
		-device "virtio-9p-pci,fsdev=root,mount_tag=/dev/root"
		-fsdev "local,id=out,path=${dir//,/,,},security_model=none,multidevs=remap"
		-device "virtio-9p-pci,fsdev=out,mount_tag=baton-out")
	[ -z "$icount" ] || cmd+=(-icount "shift=$icount,sleep=on")
	if [ -n "$plugin" ]; then
		local pargs="out=${dir//,/,,}/insn.$i.tsv"
		[ -z "$plugin_args" ] || pargs+=",${plugin_args//@OUT@/${dir//,/,,}}"
		cmd+=(-plugin "${plugin//,/,,},$pargs")
	fi
	if ((net)); then
		cmd+=(-netdev "tap,id=n0,ifname=tap$i,script=no,downscript=no"
			-device "virtio-net-pci,netdev=n0,mac=52:54:00:ba:70:$(printf %02x "$i")")
	fi
}

# tail_console FILE: the end of a console, indented, without terminal escapes.
tail_console() {
	tail -n 25 "$1" | sed -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' -e 's/\r$//' -e 's/^/    | /'
}

# cost SCENARIO: the guest CPUs it runs.
cost() {
	echo $(($(header "$1" guests 1) * $(header "$1" cpus 1)))
}

# run_scenario SCENARIO: boots its guests, waits for them and prints the
# verdict (which a side-by-side run collects from a file); streams of
# --show go to fd 9.
run_scenario() {
	local scen=$1 name guests mem cpus tmo net dir i start secs why
	name=$(basename "$scen" .sh)
	guests=$(header "$scen" guests 1)
	mem=$(header "$scen" memory 512M)
	cpus=$(header "$scen" cpus 1)
	tmo=$(header "$scen" timeout 300)
	net=$(header "$scen" net auto)
	[[ $guests =~ ^[1-9][0-9]?$ ]] || die "$name: bad 'guests: $guests'"
	[[ $cpus =~ ^[1-9][0-9]?$ ]] || die "$name: bad 'cpus: $cpus'"
	[[ $tmo =~ ^[1-9][0-9]*$ ]] || die "$name: bad 'timeout: $tmo'"
	tmo=${timeout_override:-$((tmo * scale))}
	[[ $mem =~ ^[1-9][0-9]*[MG]$ ]] || die "$name: bad 'memory: $mem'"
	case $net in
	auto) net=$((guests > 1)) ;;
	yes) net=1 ;;
	no) net=0 ;;
	*) die "$name: bad 'net: $net' (yes, no)" ;;
	esac

	dir=$outdir/$name
	rm -rf -- "$dir"
	mkdir -p "$dir"
	start=$SECONDS
	((net)) && net_up "$guests"

	local -a cmd qrc=()
	for ((i = 0; i < guests; i++)); do
		qemu_cmd "$dir" "$i" "$guests" "$tmo" "$mem" "$cpus" "$net" "$scen"
		"${cmd[@]}" </dev/null >"$dir/guest$i.console" 2>&1 &
		qemu_pids+=($!)
		if ((show)); then
			# From init on: the boot log is in the file, and in the tail on failure.
			tail -n +1 -F --pid="$!" "$dir/guest$i.console" 2>/dev/null |
				sed -un -e 's/\r$//' -e '/ as init process$/,$!d' -e "s/^/$name g$i| /p" >&9 &
			show_pids+=($!)
		fi
	done
	for ((i = 0; i < guests; i++)); do
		qrc[i]=0
		wait "${qemu_pids[i]}" || qrc[i]=$?
	done
	qemu_pids=()
	for i in "${show_pids[@]}"; do
		wait "$i" 2>/dev/null || true
	done
	show_pids=()
	net_down
	secs=$((SECONDS - start))

	# Judge: every guest wrote rc 0 (or 4: skip) and no console shows a crash.
	local -a reasons=() bad=() grep_args=()
	local -A crash=()
	local skips=0 nreasons rc hits pat l rel=${dir#"$repo"/}
	for pat in "${crash_patterns[@]}"; do
		grep_args+=(-e "$pat")
	done
	for ((i = 0; i < guests; i++)); do
		nreasons=${#reasons[@]}
		if ((qrc[i] == 124 || qrc[i] == 137)); then
			if [ -f "$dir/guest$i.rc" ]; then
				reasons+=("guest$i: hung after the scenario (exit $(<"$dir/guest$i.rc")), killed after $((tmo + grace))s")
			else
				reasons+=("guest$i: killed after $((tmo + grace))s (hung?)")
			fi
		elif [ ! -f "$dir/guest$i.rc" ]; then
			reasons+=("guest$i: no exit status (QEMU exit ${qrc[i]}: crash or boot failure)")
		else
			rc=$(<"$dir/guest$i.rc")
			case $rc in
			0) ;;
			4) skips=$((skips + 1)) ;;
			124) reasons+=("guest$i: scenario timed out after ${tmo}s") ;;
			*)
				# The scenario's first FAIL line, so that the summary says why.
				why=$(tr -d '\r' <"$dir/guest$i.console" | grep -am1 ': FAIL: ' | sed 's/.*: FAIL: //' || true)
				reasons+=("guest$i: scenario exit $rc${why:+ ($why)}")
				;;
			esac
		fi
		# The console has everything printed at console loglevel; the dmesg
		# file (written at the end of a run that did not crash) the rest.
		hits=$(cat "$dir/guest$i.console" "$dir/guest$i.dmesg" 2>/dev/null |
			tr -d '\r' | grep -aE "${grep_args[@]}" | awk '!seen[$0]++' | head -n 10 || true)
		if [ -n "$hits" ]; then
			reasons+=("guest$i: kernel reported '$(head -n 1 <<<"$hits")'")
			crash[$i]=$hits
		fi
		if ((${#reasons[@]} > nreasons)); then
			bad+=("$i")
		fi
	done

	if ((${#reasons[@]})); then
		local msg
		msg=$(printf '%s; ' "${reasons[@]}")
		echo "FAIL $name: ${msg%; } (${secs}s, logs in $rel/)"
		for i in "${bad[@]}"; do
			if [ -n "${crash[$i]:-}" ]; then
				echo "  guest$i crash lines:"
				while IFS= read -r l; do printf '    ! %s\n' "$l"; done <<<"${crash[$i]}"
			fi
			echo "  guest$i console tail ($rel/guest$i.console):"
			tail_console "$dir/guest$i.console"
		done
	elif ((skips)); then
		echo "SKIP $name: $(cat "$dir"/guest*.skip 2>/dev/null | head -n 1) (${secs}s)"
	else
		echo "PASS $name (${secs}s)"
	fi
}

passed=0
failed=0
skipped=0
exec 9>&1
# Each scenario in a subshell of its own (its guests, its network
# namespace, its trap), its verdict in a file printed when it ends, so
# that verdicts of scenarios side by side never interleave.
declare -A running=()
busy=0

start() {
	local s=$1 name
	name=$(basename "$s" .sh)
	(
		qemu_pids=()
		show_pids=()
		netns=
		trap cleanup EXIT
		trap 'exit 130' INT TERM
		run_scenario "$s" >"$outdir/.$name.verdict"
	) &
	running[$!]="$(cost "$s") $name"
	busy=$((busy + $(cost "$s")))
}

# reap: waits for a scenario to end, prints and counts its verdict.
reap() {
	local pid=0 rc=0 c name verdict
	wait -n -p pid "${!running[@]}" || rc=$?
	read -r c name <<<"${running[$pid]}"
	unset "running[$pid]"
	busy=$((busy - c))
	verdict=$outdir/.$name.verdict
	if ! [ -s "$verdict" ]; then
		echo "FAIL $name: the harness exited $rc before a verdict (logs in ${outdir#"$repo"/}/$name/)" >"$verdict"
	fi
	cat "$verdict"
	case $(head -c 4 "$verdict") in
	PASS) passed=$((passed + 1)) ;;
	SKIP) skipped=$((skipped + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
	rm -f "$verdict"
}

stop_all() {
	local p
	for p in "${!running[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${!running[@]}"; do
		wait "$p" 2>/dev/null || true
	done
}
trap stop_all EXIT

# In order, except that a scenario waits while the ones running leave too
# few CPUs for it and a later one that fits starts meanwhile; one needing
# more than CPUS starts when nothing runs.
pending=("${scenarios[@]}")
while ((${#pending[@]} + ${#running[@]})); do
	next=
	for i in "${!pending[@]}"; do
		if ((busy == 0 || busy + $(cost "${pending[i]}") <= jobs)); then
			next=$i
			break
		fi
	done
	if [ -n "$next" ]; then
		start "${pending[next]}"
		unset "pending[next]"
	else
		reap
	fi
done

summary="vm: $passed passed, $failed failed"
((skipped == 0)) || summary+=", $skipped skipped"
echo "$summary"
((failed == 0))
