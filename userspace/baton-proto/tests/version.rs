// SPDX-License-Identifier: GPL-2.0

//! The module (`VERSION`, read by Kbuild into MODULE_VERSION and the
//! `status-get` reply) and the userspace crates carry one version.

#[test]
fn cargo_version_matches_module_version() {
    let module = include_str!("../../../VERSION").trim();
    assert_eq!(env!("CARGO_PKG_VERSION"), module);
}
