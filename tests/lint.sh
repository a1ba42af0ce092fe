#!/usr/bin/env bash
# Style gates, each counted as one test: well-formed reStructuredText in
# Documentation/ (tests/rst.py), rustfmt, the one-way layering of
# its files (tests/layers.py) and clippy on the module (CLIPPY=1 Kbuild
# build, no warning allowed, objtool's included), on the userspace crates and
# on the fuzz targets (userspace/fuzz, a workspace of its own),
# systemd-analyze verify on dist/baton.service, and a module build with
# dkms.conf's own command.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

KCONFIG=${KCONFIG:-base}
LLVM_SUFFIX=-19
KDIR=${KDIR:-$(scripts/kernel.sh --config "$KCONFIG" --path)}
log=build/lint
mkdir -p "$log"
passed=0
failed=0

gate() {
	local name=$1
	shift
	if "$@" >"$log/$name.log" 2>&1; then
		echo "PASS lint: $name"
		passed=$((passed + 1))
	else
		echo "FAIL lint: $name (build/lint/$name.log)"
		tail -n 30 "$log/$name.log" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
}

module_rustfmt() {
	git ls-files -z 'src/*.rs' | xargs -0 rustfmt --edition 2021 --check
}

module_clippy() {
	# Touch the crate root so that the clippy driver really runs.
	touch src/baton.rs
	local out
	out=$(make -C "$KDIR" M="$PWD" LLVM="$LLVM_SUFFIX" CLIPPY=1 modules 2>&1) || { echo "$out"; return 1; }
	echo "$out"
	# objtool's warnings name the object first ("baton.o: warning: objtool").
	! grep -qE '^(warning|error)|: warning: objtool' <<<"$out"
}

# dist/baton.service as systemd reads it, its batonctl this tree's build:
# no warning (an unknown key is only one), every program there.
systemd_unit() {
	local dir out
	dir=$(mktemp -d) || return 1
	sed "s|/usr/local/sbin/batonctl|$PWD/userspace/target/release/batonctl|g" \
		dist/baton.service >"$dir/baton.service"
	out=$(systemd-analyze verify --man=no "$dir/baton.service" 2>&1)
	local rc=$?
	rm -rf "$dir"
	echo "$out"
	[ "$rc" -eq 0 ] && [ -z "$out" ]
}

# dkms.conf as DKMS reads it (kernel_source_dir, dkms_tree set, then
# sourced): its version is VERSION's, and its MAKE builds baton.ko from the
# tree copied where DKMS puts it.
dkms_build() {
	local tree ver rc
	ver=$(cat VERSION)
	tree=$(mktemp -d) || return 1
	mkdir -p "$tree/baton/$ver/build"
	git ls-files -z | xargs -0 cp --parents -t "$tree/baton/$ver/build" || return 1
	(
		# shellcheck disable=SC2034 # read by dkms.conf
		kernel_source_dir=$KDIR dkms_tree=$tree BATON_LLVM=$LLVM_SUFFIX
		# shellcheck source=dkms.conf
		. ./dkms.conf
		[ "$PACKAGE_VERSION" = "$ver" ] || {
			echo "dkms.conf: PACKAGE_VERSION $PACKAGE_VERSION, VERSION $ver"
			exit 1
		}
		eval "${MAKE[0]}" && test -e "$tree/baton/$ver/build/${BUILT_MODULE_NAME[0]}.ko"
	)
	rc=$?
	rm -rf "$tree"
	return "$rc"
}

gate module-rustfmt module_rustfmt
gate module-layers python3 tests/layers.py
gate docs-rst python3 tests/rst.py
gate module-clippy module_clippy
userspace_fmt() {
	(cd userspace && cargo fmt --all --check)
}

gate userspace-fmt userspace_fmt
gate userspace-clippy cargo clippy --manifest-path userspace/Cargo.toml --all-targets -- -D warnings

fuzz_fmt() {
	(cd userspace/fuzz && cargo fmt --check)
}

gate fuzz-fmt fuzz_fmt
gate fuzz-clippy cargo clippy --manifest-path userspace/fuzz/Cargo.toml --all-targets -- -D warnings
gate systemd-unit systemd_unit
gate dkms dkms_build

echo "lint: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
