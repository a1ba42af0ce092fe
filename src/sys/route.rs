// SPDX-License-Identifier: GPL-2.0

//! IPv4 output routes: the route to a neighbour on a directly connected
//! link, over which a received packet is passed on with its addresses
//! unchanged (IPVS's direct routing, `ip_vs_dr_xmit`): an IPv4 packet
//! through the route, an IPv6 one to the neighbour's link-layer address on
//! the route's link.
//!
//! C header: [`include/net/route.h`].
//!
//! [`include/net/route.h`]: srctree/include/net/route.h

use super::{bindings, netns::Net};
use core::ptr::NonNull;

/// A route to a host on a directly connected link, held by a reference.
///
/// # Invariants
///
/// `rt` points to a valid `struct rtable` on which this value owns one
/// reference (from `baton_route_direct` for `via`), dropped exactly once:
/// by `Drop`, or by sending a packet through it ([`Route::into_raw`]).
#[derive(Debug)]
pub(crate) struct Route {
    rt: NonNull<bindings::rtable>,
    via: [u8; 4],
}

// SAFETY: a reference on a route may be dropped on any CPU.
unsafe impl Send for Route {}
// SAFETY: `Route` offers no access to the route through `&self`.
unsafe impl Sync for Route {}

impl PartialEq for Route {
    fn eq(&self, other: &Self) -> bool {
        self.rt == other.rt
    }
}

impl Eq for Route {}

impl Route {
    /// The route of `net` to `via` (wire order) as the next hop of packets
    /// addressed to someone else: `None` unless `via` is a unicast host on
    /// a directly connected link (not reached through a gateway, not this
    /// host). Any context.
    pub(crate) fn direct(net: &Net, via: [u8; 4]) -> Option<Self> {
        // SAFETY: `net` is alive; the address is passed by value. The
        // helper returns a route with a reference, or NULL.
        let rt = unsafe { bindings::baton_route_direct(net.as_ptr(), u32::from_ne_bytes(via)) };
        // INVARIANT: a non-NULL route comes with a reference we now own.
        NonNull::new(rt).map(|rt| Self { rt, via })
    }

    /// The neighbour the route leads to (wire order).
    pub(super) fn via(&self) -> [u8; 4] {
        self.via
    }

    /// The route, still ours.
    pub(super) fn as_ptr(&self) -> *mut bindings::rtable {
        self.rt.as_ptr()
    }

    /// The route, its reference handed to the caller.
    pub(super) fn into_raw(self) -> *mut bindings::rtable {
        let rt = self.rt.as_ptr();
        core::mem::forget(self);
        rt
    }
}

impl Drop for Route {
    fn drop(&mut self) {
        // SAFETY: we own one reference on `rt` (type invariant).
        unsafe { bindings::baton_rt_put(self.rt.as_ptr()) };
    }
}
