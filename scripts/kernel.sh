#!/usr/bin/env bash
# Fetch, configure and build the pinned guest kernel, cached outside the clone.
#
#   scripts/kernel.sh [--config base|debug] [--path]
#
# The build directory is keyed by the Debian package version, the config
# fragments, this script and the toolchain versions, so a fresh clone reuses a
# finished build and any change to one of those makes a new one.  Prints the
# build directory (usable as KDIR) on its last line.
set -euo pipefail

KPKG=linux-source-6.12
KPKG_VERSION=6.12.117-1~deb12u1
LLVM_SUFFIX=-19

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/baton
config=base
print_only=0
while (($#)); do
	case $1 in
	--config) config=$2; shift 2 ;;
	--path) print_only=1; shift ;;
	*) echo "usage: $0 [--config base|debug] [--path]" >&2; exit 2 ;;
	esac
done

fragments=("$here/tests/vm/config/base.config")
case $config in
base) ;;
debug) fragments+=("$here/tests/vm/config/debug.config") ;;
*) echo "kernel.sh: unknown config '$config' (base, debug)" >&2; exit 2 ;;
esac

toolchain="$(rustc --version) $(bindgen --version 2>/dev/null) $(clang$LLVM_SUFFIX --version | head -1)"
key=$( { echo "$KPKG_VERSION $toolchain"; cat "${fragments[@]}" "$0"; } | sha256sum | cut -c1-16)
src=$cache/src/$KPKG-$KPKG_VERSION
out=$cache/kbuild/$KPKG_VERSION-$config-$key

if ((print_only)); then
	echo "$out"
	exit 0
fi

log() { printf 'kernel: %s\n' "$*" >&2; }
mkdir -p "$cache/src" "$cache/kbuild"
exec 9>"$cache/kernel.lock"
flock 9

if [ -f "$out/.baton-built" ]; then
	log "cached build $out"
	echo "$out"
	exit 0
fi

if [ ! -f "$src/.baton-extracted" ]; then
	log "fetching $KPKG=$KPKG_VERSION"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download "$KPKG=$KPKG_VERSION" >/dev/null)
	dpkg-deb -x "$tmp"/"$KPKG"_*.deb "$tmp/deb"
	rm -rf "$src"
	mkdir -p "$src"
	tar -xf "$tmp/deb/usr/src/$KPKG.tar.xz" -C "$src" --strip-components=1
	touch "$src/.baton-extracted"
fi

log "configuring $config in $out"
rm -rf "$out"
mkdir -p "$out"
kmake() { make -s -C "$src" O="$out" LLVM="$LLVM_SUFFIX" LIBCLANG_PATH="/usr/lib/llvm${LLVM_SUFFIX}/lib" "$@"; }
kmake rustavailable >&2
kmake tinyconfig >/dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${fragments[@]}" >/dev/null
kmake olddefconfig >/dev/null

# merge_config only warns; an option that silently dropped out is an error here.
# A later fragment overrides an earlier one (debug's hung-task timeout), so each
# option is checked at the value it was last given.
bad=0
declare -A want=()
for f in "${fragments[@]}"; do
	while IFS= read -r line; do
		case $line in CONFIG_*=*) ;; *) continue ;; esac
		want[${line%%=*}]=$line
	done <"$f"
done
for line in "${want[@]}"; do
	grep -qx "$line" "$out/.config" || { log "option not in final .config: $line"; bad=1; }
done
((bad == 0)) || exit 1

log "building (this takes a few minutes the first time)"
kmake -j"$(nproc)" >&2
touch "$out/.baton-built"
log "built $out"
echo "$out"
