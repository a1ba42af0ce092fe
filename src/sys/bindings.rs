// SPDX-License-Identifier: GPL-2.0

//! Bindings generated at build time by the Kbuild `baton_bindgen` rule from
//! `bindings_helper.h` and `bindgen_parameters`. Private to `crate::sys`:
//! nothing outside the abstractions touches them.

#![allow(
    dead_code,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    improper_ctypes,
    unreachable_pub,
    unsafe_op_in_unsafe_fn,
    unknown_lints,
    unnecessary_transmutes,
    clippy::all,
    clippy::undocumented_unsafe_blocks
)]

include!("bindings_generated.rs");
