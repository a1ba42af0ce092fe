#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# PID 1 of a baton test guest.  See Documentation/testing.rst.
#
# tests/vm/run.sh boots the guest kernel with the host's root filesystem as the
# guest's root (read-only, virtio-9p) and init=<this script>, passing:
#
#   baton.scenario=PATH   scenario script to run (a path on the host's root)
#   baton.guest=N         index of this guest, 0-based
#   baton.guests=N        number of guests in this run
#   baton.repo=PATH       repository root (same path as on the host)
#   baton.kdir=PATH       kernel build directory the guest booted from
#   baton.timeout=SECS    guest-side limit for the scenario
#   baton.epoch=SECS      host time at boot (the guest has no RTC)
#
# It mounts the pseudo and scratch filesystems and the read-write 9p share
# "baton-out" (the run's output directory on the host), runs the scenario with
# a timeout, writes its exit status to $BATON_OUT/guest<N>.rc and the kernel
# log to $BATON_OUT/guest<N>.dmesg, and powers off with `reboot -f` (QEMU runs
# with -no-reboot, so the reset ends it).
#
# No `set -e` here: PID 1 exiting panics the kernel.  Every step that can fail
# says so on the console and the run ends without an .rc file, which the host
# reports as a failure.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp TERM=dumb LANG=C.UTF-8 LC_ALL=C.UTF-8
umask 022

say() { echo "baton-vm: $*"; }

poweroff_now() {
	sync
	# util-linux/systemd `reboot` needs a running init system; busybox's does not.
	busybox reboot -f
	say "reboot -f failed; waiting for the host to time out"
	while :; do sleep 3600; done
}

die() {
	say "init: $*"
	poweroff_now
}

mount -t proc -o nosuid,nodev,noexec proc /proc || die "cannot mount /proc"
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys || die "cannot mount /sys"
# CONFIG_DEVTMPFS_MOUNT normally did this already.
grep -q ' /dev devtmpfs ' /proc/mounts || mount -t devtmpfs devtmpfs /dev || die "cannot mount /dev"
exec </dev/null >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts 2>/dev/null
mount -t tmpfs -o nosuid,nodev tmpfs /dev/shm
[ -d /sys/kernel/debug ] && mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null

scenario='' guest=0 guests=1 repo='' kdir='' timeout=300 epoch=''
read -r -a words </proc/cmdline
for w in "${words[@]}"; do
	case $w in
	baton.scenario=*) scenario=${w#*=} ;;
	baton.guest=*) guest=${w#*=} ;;
	baton.guests=*) guests=${w#*=} ;;
	baton.repo=*) repo=${w#*=} ;;
	baton.kdir=*) kdir=${w#*=} ;;
	baton.timeout=*) timeout=${w#*=} ;;
	baton.epoch=*) epoch=${w#*=} ;;
	esac
done
if [ -z "$scenario" ] || [ -z "$repo" ]; then
	die "baton.scenario= and baton.repo= are required"
fi

# Writable scratch space over the read-only host directories. The host paths
# the run needs (repository, kernel build and source, scenario) stay visible
# even when they live below one of these (a clone in /tmp, say): each is
# bind-mounted aside first and moved back on top of the new tmpfs.
keep=("$repo" "$(dirname "$scenario")")
if [ -n "$kdir" ]; then
	keep+=("$kdir")
	[ -e "$kdir/source" ] && keep+=("$(readlink -f "$kdir/source")")
fi
for d in /tmp /run /var/tmp /var/log /var/lib /var/cache; do
	[ -d "$d" ] || continue
	case $d in
	/tmp | /var/tmp) mode=1777 ;;
	*) mode=0755 ;;
	esac
	moved=()
	for p in "${keep[@]}"; do
		case $p in
		"$d"/*)
			stash=/dev/shm/keep${#moved[@]}
			mkdir -p "$stash"
			mount -n --bind "$p" "$stash" || die "cannot keep $p"
			moved+=("$p")
			;;
		esac
	done
	mount -t tmpfs -o "nosuid,nodev,mode=$mode" tmpfs "$d" || die "cannot mount tmpfs on $d"
	for i in "${!moved[@]}"; do
		mkdir -p "${moved[i]}"
		mount -n --move "/dev/shm/keep$i" "${moved[i]}" || die "cannot put back ${moved[i]}"
	done
done
# Programs the scenarios run expect these (nginx-light's compiled-in paths).
mkdir -p /run/netns /run/lock /var/lib/nginx /var/log/nginx /var/cache/nginx

out=/run/baton/out
mkdir -p "$out"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 baton-out "$out" ||
	die "cannot mount the 9p share baton-out"

echo "guest$guest" >/proc/sys/kernel/hostname
ip link set lo up || die "cannot bring up lo"
[ -n "$epoch" ] && date -s "@$epoch" >/dev/null

export BATON_REPO=$repo BATON_OUT=$out BATON_GUEST=$guest BATON_GUESTS=$guests
export BATON_KDIR=$kdir BATON_TIMEOUT=$timeout BATON_SCENARIO
BATON_SCENARIO=$(basename "$scenario" .sh)

read -r uptime _ </proc/uptime
say "guest $guest of $guests up after ${uptime}s, running $BATON_SCENARIO (limit ${timeout}s)"
cd /tmp || die "cannot cd /tmp"
# timeout(1) puts the scenario in its own process group and kills all of it.
started=$SECONDS
timeout -k 10 "$timeout" bash "$scenario"
rc=$?
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
	if [ $((SECONDS - started)) -ge "$timeout" ]; then
		say "scenario timed out after ${timeout}s"
		rc=124
	else
		# A timeout(1) inside the scenario ended it, not ours.
		say "scenario exit $rc after $((SECONDS - started))s: a command in it timed out"
		rc=1
	fi
fi
echo "$rc" >"$out/guest$guest.rc" || say "cannot write $out/guest$guest.rc"

# Debug kernels: report leaks now instead of at the next periodic scan.
if [ -w /sys/kernel/debug/kmemleak ]; then
	say "kmemleak scan"
	echo scan >/sys/kernel/debug/kmemleak
	timeout 60 cat /sys/kernel/debug/kmemleak
fi
dmesg >"$out/guest$guest.dmesg" 2>/dev/null || busybox dmesg >"$out/guest$guest.dmesg"

read -r uptime _ </proc/uptime
say "guest $guest done: rc=$rc after ${uptime}s"
poweroff_now
