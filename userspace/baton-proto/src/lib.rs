// SPDX-License-Identifier: GPL-2.0

//! baton's protocol code for the host: the very files of the kernel module's
//! `src/proto` (the generic netlink numbers, configuration validation, the
//! Internet checksum), compiled as an ordinary crate so that `batonctl` shares
//! the numbers and `cargo test` and proptest exercise the code that runs in the
//! kernel.
//!
//! The crate is `no_std` like the kernel: the shared files may only use
//! `core`, which this also checks on every host build.

#![no_std]

#[path = "../../../src/proto/mod.rs"]
mod proto;

pub use proto::*;
