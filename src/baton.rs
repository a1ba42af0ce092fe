// SPDX-License-Identifier: GPL-2.0

//! baton: hand live TCP connections from a front-end to a back-end server.
//!
//! Module entry: registers the per-namespace state (with its netfilter
//! hooks) and then the `baton` generic netlink family; unloading undoes both
//! in the reverse order. See `Documentation/architecture.rst`.

// Only `sys` may hold unsafe code; the compiler holds every other module
// to it.
#![deny(unsafe_code)]
// `pin_init!` expands a struct's fields one macro step each: the peers of
// `ctrl/` have more than the default limit allows.
#![recursion_limit = "256"]

use kernel::prelude::*;

mod arrival;
mod back;
mod common;
mod conn;
mod ctrl;
mod events;
mod front;
mod gc;
mod group;
mod hold;
mod migrate;
mod netlink;
mod node;
// Shared with the host crate `userspace/baton-proto`, which uses all of it.
#[allow(
    dead_code,
    unreachable_pub,
    reason = "public for the host crate; the module uses a subset"
)]
mod proto;
mod relay;
mod replay;
mod replica;
mod sched;
mod state;
#[allow(unsafe_code, reason = "thin wrappers of the kernel's C API")]
mod sys;
mod teardown;
mod utcp;

module! {
    type: BatonModule,
    name: "baton",
    author: "The baton developers",
    description: "TCP connection handoff between cluster nodes",
    license: "GPL",
}

struct BatonModule {
    /// Taken in `drop`, so that "unloaded" is logged after everything went.
    genl: Option<sys::genl::Registration<netlink::Baton>>,
}

impl kernel::Module for BatonModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let port = sys::param::ctrl_port();
        if port == 0 {
            pr_err!("ctrl_port must be between 1 and 65535\n");
            return Err(EINVAL);
        }
        let bits = sys::param::conn_tab_bits();
        if !sys::param::CONN_TAB_BITS.contains(&bits) {
            pr_err!("conn_tab_bits must be between 8 and 20\n");
            return Err(EINVAL);
        }
        let max = sys::param::conn_max();
        if !sys::param::CONN_MAX.contains(&max) {
            pr_err!("conn_max must be between 1 and 4194304\n");
            return Err(EINVAL);
        }
        let pernet = sys::netns::Registration::new()?;
        let genl = sys::genl::Registration::new(netlink::Baton::new(pernet), module)?;
        pr_info!(
            "loaded, version {}, control port {}, {} flow buckets, at most {} flows per namespace\n",
            sys::param::version().to_str().unwrap_or("?"),
            port,
            1u32 << bits,
            max
        );
        Ok(Self { genl: Some(genl) })
    }
}

impl Drop for BatonModule {
    fn drop(&mut self) {
        drop(self.genl.take());
        // The flows removed last are freed by RCU callbacks, which are
        // this module's code.
        sys::rcuhash::barrier();
        pr_info!("unloaded\n");
    }
}
