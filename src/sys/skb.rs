// SPDX-License-Identifier: GPL-2.0

//! Socket buffers: the IP and TCP headers of a packet in a netfilter
//! hook, or the headers of an ICMP error, read or rewritten in place, and
//! packets built by baton delivered to the stack (the role of
//! `include/linux/skbuff.h` for baton).

use super::{bindings, netfilter::SkBuff, netns::Net, route::Route, socket};
use crate::proto::service::{Endpoint, Ip};
use core::ptr::NonNull;
use kernel::prelude::*;

/// How the TCP checksum of a packet is kept (`skb->ip_summed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Csum {
    /// The check field is complete (`CHECKSUM_NONE`, `_UNNECESSARY`,
    /// `_COMPLETE`).
    Full,
    /// `CHECKSUM_PARTIAL`: the device (or GSO) completes it.
    Partial,
}

/// The length of a packet's IP and TCP headers, found by
/// [`SkBuff::tcp_ports`], for [`SkBuff::tcp_headers_at`].
///
/// # Invariants
///
/// Non-zero, and made linear by `baton_skb_tcp_ports` for the skb of the
/// hook call that returned it.
#[derive(Clone, Copy)]
pub(crate) struct TcpHeadersLen(u32);

impl SkBuff {
    /// The IP header and the TCP ports of a TCP packet that is not a
    /// later fragment, whatever its TCP header holds (see
    /// [`crate::proto::packet::addresses`]), and the length of its IP and
    /// TCP headers, if [`SkBuff::tcp_headers_mut`] would take it.
    pub(crate) fn tcp_ports(&mut self) -> Option<(&[u8], Option<TcpHeadersLen>)> {
        let mut data = core::ptr::null_mut();
        let (mut len, mut hdr_len) = (0, 0);
        // SAFETY: `as_ptr` is the valid skb this hook call owns; `data`,
        // `len` and `hdr_len` are valid out pointers.
        let ret = unsafe {
            bindings::baton_skb_tcp_ports(self.as_ptr(), &mut data, &mut len, &mut hdr_len)
        };
        if ret != 0 || data.is_null() {
            return None;
        }
        // INVARIANT: non-zero, made linear by the helper for this skb.
        let headers = (hdr_len != 0).then_some(TcpHeadersLen(hdr_len));
        // SAFETY: on success `len` linear bytes of this skb, borrowed with
        // it.
        Some((
            unsafe { core::slice::from_raw_parts(data, len as usize) },
            headers,
        ))
    }

    /// Whether this host forwarded the packet (`IPSKB_FORWARDED`): at
    /// post-routing, one routed through it, not sent by one of its
    /// sockets.
    pub(crate) fn forwarded(&self) -> bool {
        // SAFETY: `as_ptr` is a valid skb; the helper only reads its
        // control block.
        unsafe { bindings::baton_skb_forwarded(self.as_ptr()) }
    }

    /// Copies the packet's bytes from `off` bytes after its IP header's
    /// start into `buf`, as many as there are and fit (from its fragments
    /// too): how many.
    pub(crate) fn copy_from_ip(&self, off: usize, buf: &mut [u8]) -> usize {
        let (Ok(off), Ok(len)) = (u32::try_from(off), u32::try_from(buf.len())) else {
            return 0;
        };
        // SAFETY: `as_ptr` is a valid skb; the helper writes at most `len`
        // bytes to `buf`, which is valid for them.
        unsafe { bindings::baton_skb_copy(self.as_ptr(), off, buf.as_mut_ptr(), len) as usize }
    }

    /// The packet's bytes from `off` bytes after its IP header's start, as
    /// many as there are up to `len`, in place, if they all lie in its
    /// linear part (as a small segment's do) or all in one of its page
    /// fragments; `None` if they do not (see [`SkBuff::copy_from_ip`]) or
    /// there are none.
    pub(crate) fn linear_from_ip(&self, off: usize, len: usize) -> Option<&[u8]> {
        let (Ok(off), Ok(len)) = (u32::try_from(off), u32::try_from(len)) else {
            return None;
        };
        let mut got = 0u32;
        // SAFETY: `as_ptr` is a valid skb; the helper only reads it and
        // writes `got`.
        let data = unsafe { bindings::baton_skb_linear(self.as_ptr(), off, len, &mut got) };
        if data.is_null() {
            return None;
        }
        // SAFETY: the helper returned `got` bytes of the skb's linear data
        // or of one of its mapped page fragments, which stay as they are
        // while `self` is borrowed (changing them takes `&mut self`, and
        // the skb holds its pages).
        Some(unsafe { core::slice::from_raw_parts(data, got as usize) })
    }

    /// Whether the packet, received, goes through `route` as it is: it,
    /// or each of its segments if it is a GSO packet, within the route's
    /// MTU.
    pub(crate) fn fits(&self, route: &Route) -> bool {
        // SAFETY: `as_ptr` is a valid skb; the route holds a reference on
        // its `rtable` while borrowed. The helper only reads both.
        unsafe { bindings::baton_route_fits(route.as_ptr(), self.as_ptr()) }
    }

    /// The packet's mark (`skb->mark`).
    pub(crate) fn mark(&self) -> u32 {
        // SAFETY: `as_ptr` is a valid skb; the helper only reads.
        unsafe { bindings::baton_skb_mark(self.as_ptr()) }
    }

    /// The IP and TCP headers (options, IPv6 extension headers included)
    /// of a TCP packet that is
    /// not a fragment, read-only; `None` for anything else or malformed
    /// headers.
    pub(crate) fn tcp_headers(&mut self) -> Option<&[u8]> {
        let mut data = core::ptr::null_mut();
        let mut len = 0;
        // SAFETY: `as_ptr` is the valid skb this hook call owns; `data` and
        // `len` are valid out pointers.
        let ret =
            unsafe { bindings::baton_skb_tcp_headers(self.as_ptr(), false, &mut data, &mut len) };
        if ret != 0 || data.is_null() {
            return None;
        }
        // SAFETY: on success `len` linear bytes of this skb, borrowed with
        // it.
        Some(unsafe { core::slice::from_raw_parts(data, len as usize) })
    }

    /// The IP and TCP headers (options, IPv6 extension headers included)
    /// of a TCP packet that is
    /// not a fragment, writable: the head is unshared first if it is
    /// cloned; `None` for anything else or malformed headers. After
    /// writing, call [`SkBuff::headers_changed`].
    pub(crate) fn tcp_headers_mut(&mut self) -> Option<(&mut [u8], Csum)> {
        let csum = self.csum();
        let mut data = core::ptr::null_mut();
        let mut len = 0;
        // SAFETY: `as_ptr` is the valid skb this hook call owns; `data` and
        // `len` are valid out pointers.
        let ret =
            unsafe { bindings::baton_skb_tcp_headers(self.as_ptr(), true, &mut data, &mut len) };
        if ret != 0 || data.is_null() {
            return None;
        }
        // SAFETY: on success the helper made `len` bytes from `data` linear
        // and unshared; they belong to this skb, which we borrow mutably for
        // the slice's lifetime, so nothing else moves or frees them
        // meanwhile.
        let h = unsafe { core::slice::from_raw_parts_mut(data, len as usize) };
        Some((h, csum))
    }

    /// As [`SkBuff::tcp_headers_mut`], for headers whose length
    /// [`SkBuff::tcp_ports`] found in this hook call: not walked again.
    pub(crate) fn tcp_headers_at(&mut self, len: TcpHeadersLen) -> Option<(&mut [u8], Csum)> {
        let csum = self.csum();
        let mut data = core::ptr::null_mut();
        // SAFETY: `as_ptr` is the valid skb this hook call owns; `data` is
        // a valid out pointer.
        let ret = unsafe { bindings::baton_skb_tcp_writable(self.as_ptr(), len.0, &mut data) };
        if ret != 0 || data.is_null() {
            return None;
        }
        // SAFETY: `len.0` bytes from the IP header are linear (type
        // invariant) and the helper made them writable; they belong to
        // this skb, which we borrow mutably for the slice's lifetime.
        let h = unsafe { core::slice::from_raw_parts_mut(data, len.0 as usize) };
        Some((h, csum))
    }

    /// A copy of this packet (sharing its data) to receive again later with
    /// [`HeldSkb::reinject`]; `None` without memory. Any context.
    pub(crate) fn hold_copy(&mut self) -> Option<HeldSkb> {
        // SAFETY: `as_ptr` is the valid skb this hook call owns.
        let copy = unsafe { bindings::baton_skb_hold(self.as_ptr()) };
        // INVARIANT: a clone we own, its device referenced by the helper.
        NonNull::new(copy).map(|skb| HeldSkb { skb })
    }

    fn icmp(&mut self, writable: bool, max: usize) -> Option<&mut [u8]> {
        let max = u32::try_from(max).ok()?;
        let mut data = core::ptr::null_mut();
        let mut len = 0;
        // SAFETY: `as_ptr` is the valid skb this hook call owns; `data` and
        // `len` are valid out pointers.
        let ret = unsafe {
            bindings::baton_skb_icmp_headers(self.as_ptr(), writable, max, &mut data, &mut len)
        };
        if ret != 0 || data.is_null() {
            return None;
        }
        // SAFETY: on success `len` bytes from `data` are linear (and
        // unshared if `writable`) bytes of this skb, which we borrow mutably
        // for the slice's lifetime.
        Some(unsafe { core::slice::from_raw_parts_mut(data, len as usize) })
    }

    /// The first bytes of an ICMP or ICMPv6 packet from its IP header on: at
    /// most `max`, fewer if the packet is shorter; `None` for anything
    /// else (see [`crate::proto::icmp::parse`] for what they hold).
    pub(crate) fn icmp_headers(&mut self, max: usize) -> Option<&[u8]> {
        self.icmp(false, max).map(|h| &*h)
    }

    /// The same, writable: the head is unshared first if it is cloned.
    /// The [`Csum`] is the state of the ICMP checksum. After writing, call
    /// [`SkBuff::headers_changed`].
    pub(crate) fn icmp_headers_mut(&mut self, max: usize) -> Option<(&mut [u8], Csum)> {
        let csum = self.csum();
        self.icmp(true, max).map(|h| (h, csum))
    }

    /// How the packet's checksum is kept.
    fn csum(&self) -> Csum {
        // SAFETY: `as_ptr` is a valid skb; the helper only reads it.
        if unsafe { bindings::baton_skb_csum_partial(self.as_ptr()) } {
            Csum::Partial
        } else {
            Csum::Full
        }
    }

    /// Tells the stack that header bytes changed (checksum fields updated
    /// accordingly): a receive checksum over the old bytes is dropped.
    pub(crate) fn headers_changed(&mut self) {
        // SAFETY: `as_ptr` is a valid skb.
        unsafe { bindings::baton_skb_csum_changed(self.as_ptr()) };
    }
}

/// A received packet kept aside (see [`SkBuff::hold_copy`]): received
/// again by [`HeldSkb::reinject`], or freed when dropped.
///
/// # Invariants
///
/// `skb` is an skb this owns, with a non-null `dev` on which it holds a
/// reference; its headers are as the PRE_ROUTING hook saw them.
pub(crate) struct HeldSkb {
    skb: NonNull<bindings::sk_buff>,
}

// SAFETY: an skb that nothing else references may be freed or received
// from any thread; the device reference is a plain counter.
unsafe impl Send for HeldSkb {}

impl HeldSkb {
    /// Receives the packet again, from the start of the stack (the hooks
    /// see it anew). Any context.
    pub(crate) fn reinject(self) {
        let skb = self.skb.as_ptr();
        core::mem::forget(self);
        // SAFETY: we own `skb` and its device reference (type invariant),
        // both of which the helper consumes; `forget` keeps `Drop` from
        // freeing them again.
        unsafe { bindings::baton_skb_reinject(skb) };
    }
}

impl Drop for HeldSkb {
    fn drop(&mut self) {
        // SAFETY: we own the skb and its device reference (type invariant).
        unsafe { bindings::baton_skb_free_held(self.skb.as_ptr()) };
    }
}

/// Whether `addr` is an address of `net` itself.
pub(crate) fn is_local_addr(net: &Net, addr: impl Into<Ip>) -> bool {
    let raw = socket::raw_endpoint(Endpoint {
        addr: addr.into(),
        port: 0,
    });
    // SAFETY: `net` is alive; `raw` is valid for reads during the call.
    unsafe { bindings::baton_addr_is_local(net.as_ptr(), &raw) }
}

/// Delivers the IP packet `data` (IPv4 or IPv6, a complete packet with
/// valid checksums) to `net`'s stack as if it had arrived on the device
/// that routes to its source address. Process context only.
pub(crate) fn inject(net: &Net, data: &[u8]) -> Result {
    let len = u32::try_from(data.len()).map_err(|_| EINVAL)?;
    // SAFETY: `net` is alive; `data` is valid for `len` bytes, which the
    // helper copies into a new skb before returning.
    let ret = unsafe { bindings::baton_inject(net.as_ptr(), data.as_ptr(), len) };
    kernel::error::to_result(ret)
}
