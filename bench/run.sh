#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: baton vs direct, HAProxy and IPVS (NAT, DR) on one 4-guest
# QEMU cluster in one boot (bench/guest.sh), then bench/analyze.py writes
# bench/results/<date>.json and the PNG plots. Documentation/benchmarks.rst
# describes what is measured and how.
#
#   bench/run.sh [-k KDIR] [-o OUTDIR] [-r RESULTS_DIR] [--quick] [--no-analyze]
#                [--cluster-only]
#
# Then the front-end group part (bench/cluster.sh: handoffs with and
# without copies, a front-end crashing under 200 connections; one guest,
# about 5 min) and bench/cluster_report.py (<date>-cluster.json, tables,
# plot); BENCH_CLUSTER=0 skips it, --cluster-only (`make bench-cluster`)
# runs it alone. Its one guest runs under QEMU's -icount shift=2
# (BENCH_CLUSTER_ICOUNT; empty: real time as the other parts): its clock
# counts instructions, 4 ns each, so that its figures do not move with
# the host's load.
#
# Environment: BENCH_DURATION (seconds per workload; default 5, quick 2),
# BENCH_QUICK=1 (same as --quick: sizes 1k and 1m, concurrency 1 and 16,
# scale 1000 only, no burst, mixed 1m at 16 connections), BENCH_MODES
# (default direct, haproxy, ipvs-nat, ipvs-dr, baton and the IPv6 modes
# direct6, haproxy6, ipvs-dr6, baton6: the close and kept-alive workloads
# over IPv6, issue 17),
# BENCH_SIZES, BENCH_CONC, BENCH_CONN, BENCH_SCALE (comma lists overriding
# the plan; BENCH_SCALE= skips the scale part, BENCH_CONN= the close and
# keep-alive workloads),
# BENCH_BURST (the burst workload, issue 14: that many kept-alive connections
# opened at once, `wrk -cN --timeout 10s` for /1k, in the direct and baton
# modes of BENCH_MODES; default 1000, none in the quick plan, where it
# would add about 40 s; a comma list runs each; BENCH_BURST= skips it),
# BENCH_BURST_DURATION (its seconds; default BENCH_DURATION, at least 10),
# BENCH_MIXED (the mixed-Host workload, issue 16: kept-alive requests for
# a.example and b.example at random, which HAProxy and baton route to
# back-end 1 and 2, in the direct, haproxy and baton modes of BENCH_MODES,
# and the same with one Host per connection in the baton mode; response
# sizes, default 100k,1m, quick 1m; BENCH_MIXED= skips it),
# BENCH_MIXED_CONC (its concurrencies; default 1,16, quick 16),
# BENCH_TTFB (curl TTFB samples per workload, default 10), BENCH_PCAP=N
# (each guest captures its first N HTTP packets to OUTDIR/guest/pcap.<guest>),
# BENCH_PERF=1 (profile of the front-end and a back-end per mode in
# OUTDIR/guest/perf.<mode>.<guest>.txt, .flat.txt and .script.gz, which
# bench/perf_share.py reads; BENCH_PERF=N above 1 samples N times a second
# instead of 499;
# it disturbs the figures), BENCH_ROUNDS=N (default 1: the workloads of
# every mode run N times in turn, modes interleaved, and each cell is the
# median of its rounds, so that the host's own load, which moves from
# minute to minute, weighs on every mode alike; the burst and scale parts
# run in the first round only), BENCH_INSN=1 (each guest's QEMU counts the
# instructions it executes, bench/insn.c, built here with gcc; the rows get
# each guest's instructions in every workload's CPU window, bench/insn.py,
# and the report instructions per request beside the CPU times: a figure
# the host's own load does not move; TCG runs slower with the plugin),
# BENCH_INSN_PROFILE=MODE.CONN.SIZE.cCONC (with BENCH_INSN=1: each guest's
# instructions by kernel function over that workload's first round,
# OUTDIR/guest/insn-profile.txt, bench/insn_profile.py).

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

kdir=${KDIR:-}
outdir=$repo/build/bench
results=$here/results
quick=${BENCH_QUICK:-0}
analyze=1
cluster=${BENCH_CLUSTER:-1}
cluster_icount=${BENCH_CLUSTER_ICOUNT-2}
main_part=1
while (($#)); do
	case $1 in
	-k) kdir=${2:?}; shift 2 ;;
	-o) outdir=${2:?}; shift 2 ;;
	-r) results=${2:?}; shift 2 ;;
	--quick) quick=1; shift ;;
	--no-analyze) analyze=0; shift ;;
	--cluster-only) main_part=0 cluster=1; shift ;;
	-h | --help) awk 'NR > 2 && /^#/ { sub(/^# ?/, ""); print; next } NR > 2 { exit }' "$0"; exit 0 ;;
	*) echo "bench/run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ -n "$kdir" ] || kdir=$("$repo/scripts/kernel.sh" --config "${KCONFIG:-base}" --path)

if [ "$quick" = 1 ]; then
	duration=${BENCH_DURATION:-2}
	sizes=${BENCH_SIZES:-1k,1m}
	conc=${BENCH_CONC:-1,16}
	scale=${BENCH_SCALE-1000}
	burst=${BENCH_BURST-}
	mixed=${BENCH_MIXED-1m}
	mixed_conc=${BENCH_MIXED_CONC:-16}
else
	duration=${BENCH_DURATION:-5}
	sizes=${BENCH_SIZES:-1k,100k,1m,10m}
	conc=${BENCH_CONC:-1,16,64}
	scale=${BENCH_SCALE-1000,10000,100000}
	burst=${BENCH_BURST-1000}
	mixed=${BENCH_MIXED-100k,1m}
	mixed_conc=${BENCH_MIXED_CONC:-1,16}
fi
# The IPv6 modes (issue 17) run the close and kept-alive workloads only.
modes=${BENCH_MODES:-direct,haproxy,ipvs-nat,ipvs-dr,baton,direct6,haproxy6,ipvs-dr6,baton6}
# Set and empty: none of the close and keep-alive workloads (e.g. the mixed
# workload alone).
conn=${BENCH_CONN-close,keepalive}
burst_duration=${BENCH_BURST_DURATION:-}
ttfb=${BENCH_TTFB:-10}
pcap=${BENCH_PCAP:-0}
perf=${BENCH_PERF:-0}
insn=${BENCH_INSN:-0}
[[ $insn =~ ^[01]$ ]] || { echo "bench/run.sh: bad BENCH_INSN '$insn' (0 or 1)" >&2; exit 2; }
insn_profile=${BENCH_INSN_PROFILE:-}
[[ $insn_profile =~ ^([a-z0-9-]+\.(close|keepalive|mixed|mixed-same|burst)\.[0-9a-z]+\.c[0-9]+)?$ ]] ||
	{ echo "bench/run.sh: bad BENCH_INSN_PROFILE '$insn_profile' (MODE.CONN.SIZE.cCONC)" >&2; exit 2; }
[ -z "$insn_profile" ] || ((insn)) || { echo "bench/run.sh: BENCH_INSN_PROFILE needs BENCH_INSN=1" >&2; exit 2; }
rounds=${BENCH_ROUNDS:-1}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "bench/run.sh: bad BENCH_ROUNDS '$rounds'" >&2; exit 2; }
for v in "$modes" "$sizes" "$conc" "$conn" "$scale" "$burst" "$burst_duration" "$mixed" "$mixed_conc" "$duration" "$ttfb" "$pcap" "$perf"; do
	[[ $v =~ ^[a-z0-9,-]*$ ]] || { echo "bench/run.sh: bad value '$v'" >&2; exit 2; }
done
[[ $burst =~ ^([1-9][0-9]*(,|$))*$ ]] || { echo "bench/run.sh: bad BENCH_BURST '$burst'" >&2; exit 2; }
[[ $mixed =~ ^((1k|100k|1m|10m)(,|$))*$ ]] || { echo "bench/run.sh: bad BENCH_MIXED '$mixed'" >&2; exit 2; }
[[ $mixed_conc =~ ^([1-9][0-9]*(,|$))+$ ]] || { echo "bench/run.sh: bad BENCH_MIXED_CONC '$mixed_conc'" >&2; exit 2; }
# A burst's connections must have time to open and to reach the 10 s
# response timeout.
[ -n "$burst_duration" ] || burst_duration=$((duration > 10 ? duration : 10))
[[ $burst_duration =~ ^[1-9][0-9]*$ ]] || { echo "bench/run.sh: bad BENCH_BURST_DURATION '$burst_duration'" >&2; exit 2; }

count() { tr "," "\n" <<<"$1" | grep -c . || true; }
total() { tr "," "\n" <<<"$1" | awk '{ s += $1 } END { print s + 0 }'; }
nwork=$(($(count "$modes") * $(count "$sizes") * $(count "$conc") * $(count "$conn") * rounds))
# The burst runs in the direct and baton modes only.
nburst=$(($(tr "," "\n" <<<"$modes" | grep -cxE 'direct|baton' || true) * $(count "$burst")))
# The mixed workload: one cell per size and concurrency in the direct and
# haproxy modes, two (mixed, mixed-same) in the baton mode.
nmixed=$((($(tr "," "\n" <<<"$modes" | grep -cxE 'direct|haproxy' || true) +
	2 * $(tr "," "\n" <<<"$modes" | grep -cx baton || true)) * $(count "$mixed") * $(count "$mixed_conc") * rounds))
# Per workload (mixed cells too): the load, the idle window, the counter
# samples; per burst the same and up to 2 min for baton's flows to go; per
# scale size up to 10 min and 1 s per 50 connections (bench/guest.sh); boot
# and mode changes. (10 MB workloads run three times as long.)
limit=$(((nwork + nmixed) * (duration * 3 / 2 + 12) + nburst * (burst_duration * 3 / 2 + 12 + 120) +
	$(count "$scale") * 600 + $(total "$scale") / 50 + 600))
plan_burst=none
((nburst == 0)) || plan_burst="'$burst' (${burst_duration}s)"
plan_mixed=none
((nmixed == 0)) || plan_mixed="$nmixed ('$mixed' at '$mixed_conc')"
echo "bench: $nwork workloads of ${duration}s ($rounds round(s)), burst $plan_burst, mixed $plan_mixed, scale '${scale:-none}'; at most $((limit / 60)) min"

date=$(date -u +%Y-%m-%d)
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
host_json=$outdir/host.json
# Host load average through the run (the host's cores are shared): start,
# every 30 s, end.
loadavg() { printf '{"t": %s, "loadavg": [%s]}\n' "$(date +%s)" "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,)"; }
loadavg >"$outdir/loadavg.jsonl"
(
	end=$((SECONDS + limit + 300))
	while ((SECONDS < end)); do
		sleep 30
		loadavg >>"$outdir/loadavg.jsonl"
	done
) &
sampler=$!
trap 'kill $sampler 2>/dev/null || true' EXIT

# The guest kernel finds no HPET/PM timer to calibrate the TSC against and
# falls back to the jiffies clocksource (4 ms steps in every latency). Under
# TCG the guest's TSC is the host's: give its frequency.
tsc_khz=${BENCH_TSC_KHZ:-$(awk -F: '/^cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo)}
[[ $tsc_khz =~ ^[0-9]+$ ]] || { echo "bench/run.sh: bad BENCH_TSC_KHZ '$tsc_khz'" >&2; exit 2; }
clock="tsc_early_khz=$tsc_khz tsc=reliable clocksource=tsc"

plugin=
if ((insn)); then
	plugin=$outdir/insn.so
	gcc -shared -fPIC -O2 -Wall -fvisibility=hidden -o "$plugin" "$here/insn.c" -lpthread ||
		{ echo "bench/run.sh: cannot build bench/insn.c" >&2; exit 1; }
fi

rc=0
if ((main_part)); then
BATON_VM_PLUGIN=$plugin BATON_VM_PLUGIN_ARGS=${insn_profile:+snap=@OUT@/insn-snap} \
BATON_VM_APPEND="$clock bench.duration=$duration bench.modes=$modes bench.sizes=$sizes bench.conc=$conc bench.conn=$conn bench.scale=$scale bench.burst=$burst bench.burst_duration=$burst_duration bench.mixed=$mixed bench.mixed_conc=$mixed_conc bench.ttfb=$ttfb bench.pcap=$pcap bench.perf=$perf bench.rounds=$rounds bench.insn=$insn bench.insn_profile=$insn_profile" \
	"$repo/tests/vm/run.sh" -k "$kdir" -o "$outdir" -t "$limit" "$here/guest.sh" || rc=$?
if ((insn)) && [ -s "$outdir/guest/results.jsonl" ]; then
	/usr/bin/python3 "$here/insn.py" "$outdir/guest" || rc=1
fi
if [ -n "$insn_profile" ]; then
	/usr/bin/python3 "$here/insn_profile.py" "$outdir/guest" "$insn_profile" >"$outdir/guest/insn-profile.txt" &&
		cat "$outdir/guest/insn-profile.txt" || rc=1
fi
kill "$sampler" 2>/dev/null || true
loadavg >>"$outdir/loadavg.jsonl"
cat >"$host_json" <<EOF
{"date": "$date", "host_cpus": $(nproc), "host_cpu_model": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')",
 "accel": "tcg", "commit": "$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)", "vm_rc": $rc}
EOF

if ((analyze)); then
	mkdir -p "$results"
	/usr/bin/python3 "$here/analyze.py" --results "$outdir/guest/results.jsonl" \
		--host "$host_json" --loadavg "$outdir/loadavg.jsonl" --out "$results" --name "$date"
fi
fi

if [ "$cluster" = 1 ]; then
	crc=0
	# Under icount the TSC counts virtual nanoseconds: tests/vm/run.sh
	# gives the guest that frequency, not the host's.
	cluster_clock=$clock
	[ -z "$cluster_icount" ] || cluster_clock="tsc=reliable clocksource=tsc"
	BATON_VM_ICOUNT=$cluster_icount \
		BATON_VM_APPEND="$cluster_clock bench.duration=$((duration > 5 ? duration : 5)) bench.rounds=$((rounds > 3 ? rounds : 3))" \
		"$repo/tests/vm/run.sh" -k "$kdir" -o "$outdir" -t 1800 "$here/cluster.sh" || crc=$?
	((crc == 0)) || rc=$crc
	if ((analyze)) && [ -s "$outdir/cluster/cluster.jsonl" ]; then
		mkdir -p "$results"
		/usr/bin/python3 "$here/cluster_report.py" --results "$outdir/cluster/cluster.jsonl" \
			--out "$results" --name "$date" --icount "$cluster_icount"
	fi
fi
exit "$rc"
