// SPDX-License-Identifier: GPL-2.0

//! Module parameters and build facts, declared in `helpers.c` (the 6.12
//! `module!` macro has no parameters).

use super::bindings;
use core::ffi::CStr;

/// The `ctrl_port` module parameter: control port of new namespaces.
pub(crate) fn ctrl_port() -> u16 {
    // SAFETY: reads a plain `ushort` that only changes at module load (the
    // parameter is read-only in sysfs).
    unsafe { bindings::baton_param_ctrl_port() }
}

/// Bucket bits of a namespace's flow table, as the `conn_tab_bits`
/// parameter allows them.
pub(crate) const CONN_TAB_BITS: core::ops::RangeInclusive<u32> = 8..=20;
/// Flows a namespace may keep, as the `conn_max` parameter allows them.
pub(crate) const CONN_MAX: core::ops::RangeInclusive<u32> = 1..=(1 << 22);

/// The `conn_tab_bits` module parameter: a namespace's flow table has
/// `2^bits` buckets.
pub(crate) fn conn_tab_bits() -> u32 {
    // SAFETY: reads a plain `uint` that only changes at module load (the
    // parameter is read-only in sysfs).
    unsafe { bindings::baton_param_conn_tab_bits() }
}

/// The `conn_max` module parameter: most flows a namespace keeps.
pub(crate) fn conn_max() -> u32 {
    // SAFETY: as for `conn_tab_bits`.
    unsafe { bindings::baton_param_conn_max() }
}

/// The module version (`modinfo -F version`).
pub(crate) fn version() -> &'static CStr {
    // SAFETY: `baton_version` returns a pointer to a NUL-terminated string
    // literal, which lives as long as the module.
    unsafe { CStr::from_ptr(bindings::baton_version()) }
}
