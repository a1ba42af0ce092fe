#!/usr/bin/env bash
# Install everything baton needs to build and test, idempotently.
# Debian 12 (bookworm) packages, the rust-src component, bindgen-cli and
# cargo-fuzz.
set -euo pipefail

BINDGEN_VERSION=0.72.1
# tests/fuzz.sh (`make fuzz`); builds from source in about a minute.
CARGO_FUZZ_VERSION=0.13.2

APT_PACKAGES=(
	# kernel build (LLVM 19 for the Rust build, see Documentation/build.rst)
	clang-19 lld-19 llvm-19 libclang-19-dev
	flex bison bc libelf-dev libssl-dev cpio kmod xz-utils make
	# guests
	qemu-system-x86 busybox-static
	# programs the scenarios run inside the guests (host root over 9p)
	iproute2 iputils-ping curl nginx-light socat tcpdump ethtool procps jq util-linux
	# front-end groups behind VRRP (cluster-failover) and BGP (cluster-bgp)
	keepalived frr
	# YNL (the kernel tree's tools/net/ynl) drives the family from its spec in a test
	python3 python3-yaml python3-jsonschema
	# tests/rst.py checks Documentation/ with docutils
	python3-docutils
	# cluster-members reads `batonctl stats --prometheus` with the client's parser
	python3-prometheus-client
	# tests/lint.sh checks dist/baton.service with systemd-analyze verify
	systemd
	# the install scenario renders batonctl(8) and loads its completions
	man-db zsh fish
	# `make bench`: the comparison modes, the load generator and the plots
	haproxy ipvsadm wrk python3-matplotlib
	# its optional profile of the front-end (BENCH_PERF=1)
	linux-perf
)

log() { printf 'deps: %s\n' "$*"; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	log "installing: ${missing[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	# nginx-light starts a service on install where systemd runs; we only use the binary.
	$SUDO systemctl disable --now nginx >/dev/null 2>&1 || true
	# Likewise haproxy: the benchmark starts its own in a guest.
	$SUDO systemctl disable --now haproxy >/dev/null 2>&1 || true
	# And keepalived: the scenarios start one per namespace.
	$SUDO systemctl disable --now keepalived >/dev/null 2>&1 || true
	# And FRR: cluster-bgp starts its daemons per namespace.
	$SUDO systemctl disable --now frr >/dev/null 2>&1 || true
else
	log "apt packages present"
fi

if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
	log "adding rust-src"
	rustup component add rust-src
fi

if ! command -v bindgen >/dev/null 2>&1 || ! bindgen --version 2>/dev/null | grep -q " $BINDGEN_VERSION\$"; then
	log "installing bindgen-cli $BINDGEN_VERSION"
	cargo install --quiet --locked bindgen-cli --version "$BINDGEN_VERSION"
fi

if ! cargo fuzz --version 2>/dev/null | grep -q " $CARGO_FUZZ_VERSION\$"; then
	log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
	cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

log "ok"
