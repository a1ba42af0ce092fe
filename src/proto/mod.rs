// SPDX-License-Identifier: GPL-2.0

//! Protocol logic shared by the kernel module and the host crate.
//!
//! Everything under `proto` is plain safe Rust on `core` only: no allocation,
//! no `unsafe`, no kernel API. The module reaches it as `crate::proto`; the
//! host crate `userspace/baton-proto` includes the same files with `#[path]`
//! so that `cargo test`, proptest and cargo-fuzz exercise exactly the code
//! that runs in the kernel.

pub mod cluster;
pub mod config;
pub mod csum;
pub mod ctrl;
pub mod dump;
pub mod flow;
pub mod http;
pub mod icmp;
pub mod mem;
pub mod packet;
pub mod rules;
pub mod sched;
pub mod seq;
pub mod service;
pub mod uapi;
