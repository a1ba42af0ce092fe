// SPDX-License-Identifier: GPL-2.0

//! Where a member of a front-end group passes the packets of a connection
//! it has no state for (issue 15, point 5; seed 004's handing off to the
//! owner): the live members of its view and their addresses, as the group
//! last published them, read by the packet path without a lock.
//!
//! The packet goes to the first member of the connection's ranking
//! ([`cluster::relay_to`]), which holds it as owner or first backup with
//! any number of copies, over a directly connected link with its addresses
//! unchanged (as IPVS's direct routing passes packets to a real server);
//! that member's hooks take it as if the upstream had sent it there. Each
//! pass lowers the packet's TTL, so members whose views disagree for a
//! moment cannot pass a packet around for ever.

use crate::proto::{
    cluster::{self, FlowId, MAX_MEMBERS},
    packet::Family,
};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use kernel::{new_mutex, prelude::*, sync::Mutex};

/// Members (id, address) and how many of them are used.
pub(crate) type Members = ([(u32, [u8; 4]); MAX_MEMBERS], usize);

/// The members a packet may be passed to. Written on a view change, one
/// writer at a time; a reader that meets a change half made picks from a
/// mix of both views, which costs at most one misplaced packet (its TTL
/// bounds where it goes next).
#[pin_data]
pub(crate) struct Relay {
    /// Held by the writer.
    #[pin]
    writer: Mutex<()>,
    /// This node's id in the group; 0 without a group.
    me: AtomicU32,
    /// How many of `members` are in use (this node among them).
    len: AtomicU32,
    /// Sorted by id: `id << 32 | address` (the address's wire bytes as a
    /// native `u32`), so that an id is never read with another's address.
    members: [AtomicU64; MAX_MEMBERS],
}

impl Relay {
    /// No group: nothing is passed on.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            writer <- new_mutex!((), "baton_relay"),
            me: AtomicU32::new(0),
            len: AtomicU32::new(0),
            members: [const { AtomicU64::new(0) }; MAX_MEMBERS],
        })
    }

    /// Publishes a view: `view` gives this node's id, the live members with
    /// their addresses (this node's own address unused) and how many there
    /// are; it runs under the writer's lock, so that of two writers the
    /// later one's view stays. Fewer than two members: nothing to pass
    /// packets to.
    pub(crate) fn set(&self, view: impl FnOnce() -> (u32, Members)) {
        let _w = self.writer.lock();
        let (me, (live, n)) = view();
        let n = n.min(MAX_MEMBERS);
        self.len.store(0, Ordering::Release);
        for (slot, &(id, addr)) in self.members.iter().zip(&live[..n]) {
            let v = (u64::from(id) << 32) | u64::from(u32::from_ne_bytes(addr));
            slot.store(v, Ordering::Relaxed);
        }
        self.me.store(me, Ordering::Relaxed);
        let n = if n >= 2 && me != 0 { n } else { 0 };
        // `n <= MAX_MEMBERS`: fits.
        self.len.store(n as u32, Ordering::Release);
    }

    /// Whether there is anyone to pass packets to.
    pub(crate) fn active(&self) -> bool {
        self.len.load(Ordering::Relaxed) != 0
    }

    /// The address of the member that `flow`'s packets go to when this
    /// node has no state for it; `None` when this node ranks first (or has
    /// no group).
    pub(crate) fn target<A: Family>(&self, flow: &FlowId<A>) -> Option<[u8; 4]> {
        let n = (self.len.load(Ordering::Acquire) as usize).min(MAX_MEMBERS);
        if n == 0 {
            return None;
        }
        let mut ids = [0u32; MAX_MEMBERS];
        let mut addrs = [0u32; MAX_MEMBERS];
        for i in 0..n {
            let v = self.members[i].load(Ordering::Relaxed);
            ids[i] = (v >> 32) as u32;
            addrs[i] = v as u32;
        }
        let me = self.me.load(Ordering::Relaxed);
        let to = cluster::relay_to(&ids[..n], me, flow.hash())?;
        let i = ids[..n].iter().position(|&id| id == to)?;
        Some(addrs[i].to_ne_bytes())
    }
}
