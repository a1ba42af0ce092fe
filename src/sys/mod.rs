// SPDX-License-Identifier: GPL-2.0

//! Thin safe abstractions over the kernel subsystems baton uses.
//!
//! This is the only place with `unsafe` code. One file per subsystem, in the
//! shape of the kernel's `rust/kernel/net/phy.rs`: a trait the user
//! implements, `extern "C"` trampolines, and a registration whose `Drop`
//! undoes it. The generated bindings stay private to this module.

pub(crate) mod bhlock;

mod bindings;
pub(crate) mod crypto;
pub(crate) mod genl;
pub(crate) mod kthread;
pub(crate) mod netfilter;
pub(crate) mod netns;
pub(crate) mod param;
pub(crate) mod percpu;
pub(crate) mod rcuarc;
pub(crate) mod rcuhash;
pub(crate) mod route;
pub(crate) mod skb;
pub(crate) mod socket;
pub(crate) mod vec;
