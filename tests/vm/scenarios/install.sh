#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make install` and `make uninstall` (issue 18, point 3), into a staging
# root (DESTDIR) of the guest, for its running kernel. Checks:
#   - install puts baton.ko under lib/modules/KVER/extra with its modules.dep
#     entry, batonctl in usr/local/sbin, batonctl(8), the bash, zsh and fish
#     completions and the systemd unit (running the installed batonctl);
#   - `modprobe -d DESTDIR baton` loads that module (modinfo: this tree's
#     VERSION) and the installed batonctl talks to it; modprobe -r unloads;
#   - man renders the page (NAME, SYNOPSIS); bash completes `batonctl ser`
#     to service, fish the same, zsh's compinit takes _batonctl;
#   - uninstall leaves no file of baton's and no modules.dep entry.
#
# guests: 1
# memory: 512M
# timeout: 120
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd make depmod modprobe man bash zsh fish

dest=$(mktemp -d)
defer rm -rf "$dest" "$dest.log"
# The shells and man keep their state out of the read-only root.
HOME=$(mktemp -d)
export HOME XDG_CONFIG_HOME=$HOME/.config XDG_DATA_HOME=$HOME/.local/share XDG_CACHE_HOME=$HOME/.cache
defer rm -rf "$HOME"
kver=$(uname -r)
prefix=$dest/usr/local

make -s -C "$BATON_REPO" install DESTDIR="$dest" >"$dest.log" 2>&1 ||
	fail "make install: $(cat "$dest.log")"
log "make install: $(wc -l <"$dest.log") files"
for f in "lib/modules/$kver/extra/baton.ko" usr/local/sbin/batonctl usr/local/share/man/man8/batonctl.8 \
	usr/local/share/bash-completion/completions/batonctl usr/local/share/zsh/site-functions/_batonctl \
	usr/local/share/fish/vendor_completions.d/batonctl.fish usr/local/lib/systemd/system/baton.service; do
	[ -s "$dest/$f" ] || fail "make install did not install $f"
done
check_eq "batonctl is executable" "$(stat -c %a "$prefix/sbin/batonctl")" 755
check_eq "modules.dep entry" "$(grep -c '^extra/baton.ko:' "$dest/lib/modules/$kver/modules.dep")" 1
check_eq "the unit runs the installed batonctl" \
	"$(grep '^ExecStart=' "$prefix/lib/systemd/system/baton.service")" \
	"ExecStart=/usr/local/sbin/batonctl restore -f /etc/baton/baton.conf"

# The module, found by modprobe through the staged modules.dep.
lsmod | grep -q '^baton ' && fail "baton is loaded before modprobe"
check_eq "modinfo version" "$(modinfo -b "$dest" -F version baton)" "$(cat "$BATON_REPO/VERSION")"
modprobe -d "$dest" baton || fail "modprobe -d $dest baton failed"
lsmod | grep -q '^baton ' || fail "modprobe did not load baton"
"$prefix/sbin/batonctl" status | grep -q "^baton $(cat "$BATON_REPO/VERSION")$" ||
	fail "the installed batonctl does not talk to the module: $("$prefix/sbin/batonctl" status 2>&1)"
modprobe -d "$dest" -r baton || fail "modprobe -r baton failed"
lsmod | grep -q '^baton ' && fail "baton still loaded after modprobe -r"
log "ok: modprobe loads and unloads the installed module"

# The manual page and the completions, as their programs read them.
page=$(MANWIDTH=80 man -P cat -l "$prefix/share/man/man8/batonctl.8" 2>&1)
for want in '^NAME' '^SYNOPSIS' 'batonctl - Show and change the state of the baton kernel module'; do
	grep -q "$want" <<<"$page" || fail "man does not render batonctl(8) ($want): $page"
done
check_eq "bash completes 'batonctl ser'" "$(bash -c '
	. "$1"
	COMP_WORDS=(batonctl ser) COMP_CWORD=1 COMP_LINE="batonctl ser" COMP_POINT=12
	_batonctl batonctl ser batonctl
	echo "${COMPREPLY[*]}"' - "$prefix/share/bash-completion/completions/batonctl")" service
check_eq "fish completes 'batonctl ser'" \
	"$(fish -c "source '$prefix/share/fish/vendor_completions.d/batonctl.fish'; complete -C 'batonctl ser'" | cut -f1)" \
	service
# compinit with zsh's own completion functions and ours only: scanning
# every directory of fpath over 9p takes a guest 13 s.
check_eq "zsh's compinit takes _batonctl" "$(zsh -f -c "
	fpath=('$prefix/share/zsh/site-functions' /usr/share/zsh/functions/Completion)
	autoload -Uz compinit && compinit -u -D
	print -r -- \${_comps[batonctl]}")" _batonctl

make -s -C "$BATON_REPO" uninstall DESTDIR="$dest" >"$dest.log" 2>&1 ||
	fail "make uninstall: $(cat "$dest.log")"
left=$(find "$dest" \( -name 'baton*' -o -name '_batonctl' \) -print)
check_eq "files of baton left after uninstall" "$left" ""
check_eq "modules.dep entries left" "$(grep -c baton "$dest/lib/modules/$kver/modules.dep" || true)" 0
log "all checks passed"
