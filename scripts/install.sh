#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# install.sh install|uninstall: `make install` and `make uninstall`.
# Puts what `make build` built where a system looks for it, or takes it
# away: baton.ko under /lib/modules/KVER/extra (then depmod), batonctl in
# PREFIX/sbin, its manual page batonctl(8), its bash, zsh and fish
# completions, and the systemd unit dist/baton.service. Builds nothing and
# writes nothing in the tree (a VM scenario runs it from a read-only one).
#
# Variables: DESTDIR (a staging root; default none), PREFIX (default
# /usr/local), KVER (the kernel the module is for; default the running
# one: the module must have been built against it).
set -euo pipefail
cd "$(dirname "$0")/.."

DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr/local}
KVER=${KVER:-$(uname -r)}

ko=baton.ko
ctl=userspace/target/release/batonctl
moddir=$DESTDIR/lib/modules/$KVER/extra
sbin=$DESTDIR$PREFIX/sbin
man8=$DESTDIR$PREFIX/share/man/man8
bash_dir=$DESTDIR$PREFIX/share/bash-completion/completions
zsh_dir=$DESTDIR$PREFIX/share/zsh/site-functions
fish_dir=$DESTDIR$PREFIX/share/fish/vendor_completions.d
unit_dir=$DESTDIR$PREFIX/lib/systemd/system
files=("$moddir/baton.ko" "$sbin/batonctl" "$man8/batonctl.8" "$bash_dir/batonctl"
	"$zsh_dir/_batonctl" "$fish_dir/batonctl.fish" "$unit_dir/baton.service")

log() {
	echo "install.sh: $*"
}

# depmod for KVER, in DESTDIR if set (a staging root has none of the
# kernel's own lists, which depmod would warn about).
run_depmod() {
	if [ -n "$DESTDIR" ]; then
		depmod -b "$DESTDIR" "$KVER" 2>&1 |
			{ grep -v 'could not open modules\.\(order\|builtin\)' >&2 || true; }
	else
		depmod "$KVER"
	fi
}

# put MODE FILE: standard input into FILE (mode MODE), its directory made.
put() {
	install -d "$(dirname "$2")"
	cat >"$2"
	chmod "$1" "$2"
}

install_all() {
	local f
	for f in "$ko" "$ctl"; do
		[ -e "$f" ] || {
			echo "install.sh: $f is not built: run make build first" >&2
			exit 1
		}
	done
	install -D -m 0644 "$ko" "$moddir/baton.ko"
	install -D -m 0755 "$ctl" "$sbin/batonctl"
	"$ctl" man | put 0644 "$man8/batonctl.8"
	"$ctl" completions bash | put 0644 "$bash_dir/batonctl"
	"$ctl" completions zsh | put 0644 "$zsh_dir/_batonctl"
	"$ctl" completions fish | put 0644 "$fish_dir/batonctl.fish"
	# The unit runs batonctl where it is installed (DESTDIR is only staging).
	sed "s|/usr/local/sbin/batonctl|$PREFIX/sbin/batonctl|g" dist/baton.service |
		put 0644 "$unit_dir/baton.service"
	run_depmod
	for f in "${files[@]}"; do
		log "installed $f"
	done
}

uninstall_all() {
	local f
	for f in "${files[@]}"; do
		if [ -e "$f" ]; then
			rm -f "$f"
			log "removed $f"
		fi
	done
	if [ -d "$DESTDIR/lib/modules/$KVER" ]; then
		rmdir "$moddir" 2>/dev/null || true
		run_depmod
	fi
}

case ${1:-} in
install) install_all ;;
uninstall) uninstall_all ;;
*)
	echo "usage: $0 install|uninstall (DESTDIR, PREFIX, KVER from the environment)" >&2
	exit 2
	;;
esac
