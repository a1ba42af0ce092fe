# SPDX-License-Identifier: GPL-2.0
#
# baton: top-level driver. `make help` lists the targets.
# The module itself is built by Kbuild (see ./Kbuild) against the pinned
# kernel tree that scripts/kernel.sh builds and caches outside the clone.

KCONFIG ?= base
LLVM_SUFFIX := -19
# Evaluated when used, after `deps` has installed the toolchain it hashes.
KDIR = $(shell scripts/kernel.sh --config $(KCONFIG) --path)
CARGO ?= cargo
CARGO_MANIFEST := userspace/Cargo.toml
# Seconds each fuzz target runs in `make fuzz` (tests/check.sh runs 15).
FUZZ_SECONDS ?= 300
KMAKE = $(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=$(LLVM_SUFFIX)

.PHONY: help deps kernel module clippy userspace build install uninstall test-host test-vm check fuzz soak demo bench bench-cluster fmt lint clean

help:
	@echo 'baton make targets:'
	@echo '  demo        set everything up (packages, kernel, module, CLI) and run the demo in QEMU guests'
	@echo '  bench       benchmark baton vs direct, HAProxy, IPVS NAT/DR on a 4-guest cluster (~75 min;'
	@echo '              BENCH_QUICK=1: ~10 min), then the front-end group part; writes'
	@echo '              bench/results/<date>.json, <date>-cluster.json and PNG plots'
	@echo '  bench-cluster  the front-end group part alone (~5 min): copies on/off, failover'
	@echo '  check       run all tests: lint, host (cargo test), fuzz (15 s a target), VM scenarios; ends with "N passed, N failed"'
	@echo '  fuzz        run each cargo-fuzz target (packet, packet6, icmp, icmp6, ctrl, http, rules) FUZZ_SECONDS seconds (default 300)'
	@echo '  deps        install the Debian packages, rust-src, bindgen-cli and cargo-fuzz the project needs'
	@echo '  kernel      build (or reuse from the cache) the pinned guest kernel'
	@echo '  module      build baton.ko against it'
	@echo '  clippy      build baton.ko with CLIPPY=1'
	@echo '  userspace   build batonctl and the test tools (release)'
	@echo '  install     install what build built: baton.ko (extra/, depmod), batonctl, its man page and'
	@echo '              completions, the systemd unit (DESTDIR, PREFIX=/usr/local, KVER=`uname -r`)'
	@echo '  uninstall   remove all of it'
	@echo '  test-host   cargo test of the pure protocol crate and batonctl'
	@echo '  test-vm     run the VM scenarios (tests/vm/scenarios), or SCENARIO=name for one'
	@echo '  soak        build, then run the long VM scenarios of tests/vm/soak (not part of check)'
	@echo '  lint        rustfmt and clippy on the module, the userspace crates and the fuzz targets'
	@echo '  fmt         format all Rust sources'
	@echo '  clean       remove build outputs of the module and userspace (not the kernel cache)'
	@echo 'Variables: KCONFIG=base|debug (debug: KASAN, kmemleak, lockdep, DEBUG_NET), KDIR=<kernel build dir>,'
	@echo '           FUZZ_SECONDS=<seconds per fuzz target>,'
	@echo '           BENCH_QUICK=1, BENCH_DURATION=<seconds per workload> (bench/run.sh -h: more)'

deps:
	scripts/deps.sh

kernel: deps
	scripts/kernel.sh --config $(KCONFIG) >/dev/null

module: kernel
	$(KMAKE) modules

clippy: kernel
	$(KMAKE) CLIPPY=1 modules

userspace: deps
	$(CARGO) build --release --manifest-path $(CARGO_MANIFEST)

build: module userspace

# No build here: installing from a tree that `make build` built, also a
# read-only one.
install:
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" KVER="$(KVER)" scripts/install.sh install

uninstall:
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" KVER="$(KVER)" scripts/install.sh uninstall

test-host: deps
	$(CARGO) test --manifest-path $(CARGO_MANIFEST)

test-vm: build
	tests/vm/run.sh -k $(KDIR) $(SCENARIO)

check:
	KCONFIG=$(KCONFIG) tests/check.sh

fuzz: deps
	tests/fuzz.sh $(FUZZ_SECONDS)

soak: build
	tests/vm/run.sh -k $(KDIR) tests/vm/soak/*.sh

demo: build
	tests/vm/run.sh -k $(KDIR) --show tests/vm/demo/cluster.sh

# Benchmarks measure the base kernel (a debug kernel would measure its checks).
bench: build
	BENCH_QUICK=$(BENCH_QUICK) BENCH_DURATION=$(BENCH_DURATION) bench/run.sh -k $(KDIR)

bench-cluster: build
	BENCH_DURATION=$(BENCH_DURATION) bench/run.sh -k $(KDIR) --cluster-only

fmt:
	rustfmt --edition 2021 $$(git ls-files 'src/*.rs' 'src/**/*.rs')
	cd userspace && $(CARGO) fmt --all
	cd userspace/fuzz && $(CARGO) fmt

lint: kernel
	tests/lint.sh

clean:
	-$(KMAKE) clean
	rm -f src/sys/bindings_generated.rs
	$(CARGO) clean --manifest-path $(CARGO_MANIFEST)
	$(CARGO) clean --manifest-path userspace/fuzz/Cargo.toml
