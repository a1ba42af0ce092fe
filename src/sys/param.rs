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

/// The module version (`modinfo -F version`).
pub(crate) fn version() -> &'static CStr {
    // SAFETY: `baton_version` returns a pointer to a NUL-terminated string
    // literal, which lives as long as the module.
    unsafe { CStr::from_ptr(bindings::baton_version()) }
}
