// SPDX-License-Identifier: GPL-2.0

//! Where a member of a front-end group passes the packets of a connection
//! it has no state for (issue 15, point 5; seed 004's handing off to the
//! owner): the live members of its view and their addresses, as the group
//! last published them, read by the packet path without a lock.
//!
//! The packet goes to the first member of the connection's ranking
//! ([`cluster::pass_to`]), which holds it as owner or first backup with
//! any number of copies, or to the second when the first has been silent
//! (a frame from each member is due every [`cluster::MEMBER_HEARTBEAT_MS`]),
//! over a directly connected link with its addresses unchanged (as IPVS's
//! direct routing passes packets to a real server); that member's hooks
//! take it as if the upstream had sent it there. Each pass lowers the
//! packet's TTL, so members whose views disagree for a moment cannot pass
//! a packet around for ever.

use crate::{
    proto::{
        cluster::{self, FlowId, Pass, MAX_MEMBERS},
        packet::Family,
    },
    sys::kthread,
};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use kernel::{new_mutex, prelude::*, sync::Mutex};

/// Members (id, address) and how many of them are used.
pub(crate) type Members = ([(u32, [u8; 4]); MAX_MEMBERS], usize);

/// Where [`Relay::target`] sends a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// To the member with this id, at this address.
    Member(u32, [u8; 4]),
    /// Nowhere for now ([`Pass::Hold`]): dropped.
    Hold,
    /// Here: this node ranks first, so it holds the connection, or will
    /// once its owner's copy comes.
    First,
}

/// The members a packet may be passed to. Written on a view change, one
/// writer at a time; a reader that meets a change half made picks from a
/// mix of both views, which costs at most one misplaced packet (its TTL
/// bounds where it goes next).
#[pin_data]
pub(crate) struct Relay {
    /// Held by the writer; how many of `members` it wrote last (`len`
    /// without its lower bound).
    #[pin]
    writer: Mutex<usize>,
    /// This node's id in the group; 0 without a group.
    me: AtomicU32,
    /// How many of `members` are in use (this node among them).
    len: AtomicU32,
    /// Sorted by id: `id << 32 | address` (the address's wire bytes as a
    /// native `u32`), so that an id is never read with another's address.
    members: [AtomicU64; MAX_MEMBERS],
    /// When each of `members` was last heard from ([`kthread::now_ms`]).
    heard: [AtomicU64; MAX_MEMBERS],
}

/// A member as [`Relay::members`] holds it.
fn packed(id: u32, addr: [u8; 4]) -> u64 {
    (u64::from(id) << 32) | u64::from(u32::from_ne_bytes(addr))
}

/// The id of a member [`packed`].
fn id_of(member: u64) -> u32 {
    (member >> 32) as u32
}

/// The address of a member [`packed`], its wire bytes as a native `u32`.
fn addr_of(member: u64) -> u32 {
    member as u32
}

impl Relay {
    /// No group: nothing is passed on.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            writer <- new_mutex!(0, "baton_relay"),
            me: AtomicU32::new(0),
            len: AtomicU32::new(0),
            members: [const { AtomicU64::new(0) }; MAX_MEMBERS],
            heard: [const { AtomicU64::new(0) }; MAX_MEMBERS],
        })
    }

    /// Publishes a view: `view` gives this node's id, the live members with
    /// their addresses (this node's own address unused) and how many there
    /// are; it runs under the writer's lock, so that of two writers the
    /// later one's view stays. Fewer than two members: nothing to pass
    /// packets to. A member that stays keeps when it was last heard from;
    /// one that joins the view was heard from now (its channel came up).
    pub(crate) fn set(&self, view: impl FnOnce() -> (u32, Members)) {
        let mut written = self.writer.lock();
        let (me, (live, n)) = view();
        let n = n.min(MAX_MEMBERS);
        let mut before = [(0u32, 0u64); MAX_MEMBERS];
        for (b, i) in before.iter_mut().zip(0..*written) {
            let id = id_of(self.members[i].load(Ordering::Relaxed));
            *b = (id, self.heard[i].load(Ordering::Relaxed));
        }
        let now = kthread::now_ms();
        self.len.store(0, Ordering::Release);
        for (i, &(id, addr)) in live[..n].iter().enumerate() {
            let v = packed(id, addr);
            let heard = before[..*written]
                .iter()
                .find(|b| b.0 == id)
                .map_or(now, |b| b.1);
            self.members[i].store(v, Ordering::Relaxed);
            self.heard[i].store(heard, Ordering::Relaxed);
        }
        *written = n;
        self.me.store(me, Ordering::Relaxed);
        let n = if n >= 2 && me != 0 { n } else { 0 };
        // `n <= MAX_MEMBERS`: fits.
        self.len.store(n as u32, Ordering::Release);
    }

    /// Whether there is anyone to pass packets to.
    pub(crate) fn active(&self) -> bool {
        self.len.load(Ordering::Relaxed) != 0
    }

    /// A frame came from member `id` (any frame, on its control channel).
    pub(crate) fn heard(&self, id: u32) {
        let n = (self.len.load(Ordering::Acquire) as usize).min(MAX_MEMBERS);
        let now = kthread::now_ms();
        for (m, h) in self.members[..n].iter().zip(&self.heard) {
            if id_of(m.load(Ordering::Relaxed)) == id {
                h.store(now, Ordering::Relaxed);
            }
        }
    }

    /// When member `id` was last heard from ([`kthread::now_ms`]); `None`
    /// if it is not a member of the view other than this node.
    pub(crate) fn heard_at(&self, id: u32) -> Option<u64> {
        let n = (self.len.load(Ordering::Acquire) as usize).min(MAX_MEMBERS);
        if id == self.me.load(Ordering::Relaxed) {
            return None;
        }
        self.members[..n]
            .iter()
            .position(|m| id_of(m.load(Ordering::Relaxed)) == id)
            .map(|i| self.heard[i].load(Ordering::Relaxed))
    }

    /// Whether `id` is a member of the view other than this node.
    pub(crate) fn is_member(&self, id: u32) -> bool {
        self.heard_at(id).is_some()
    }

    /// Where `flow`'s packets go when this node has no state for it;
    /// `None` when this node has no group. Second: the first member was
    /// silent for [`cluster::SILENT_MS`].
    pub(crate) fn target<A: Family>(&self, flow: &FlowId<A>) -> Option<(Target, bool)> {
        let n = (self.len.load(Ordering::Acquire) as usize).min(MAX_MEMBERS);
        if n == 0 {
            return None;
        }
        let mut ids = [0u32; MAX_MEMBERS];
        let mut addrs = [0u32; MAX_MEMBERS];
        for i in 0..n {
            let v = self.members[i].load(Ordering::Relaxed);
            ids[i] = id_of(v);
            addrs[i] = addr_of(v);
        }
        let me = self.me.load(Ordering::Relaxed);
        let now = kthread::now_ms();
        let mut skipped = false;
        let silent = |id: u32| {
            let quiet = id != me
                && ids[..n].iter().position(|&m| m == id).is_some_and(|i| {
                    let heard = self.heard[i].load(Ordering::Relaxed);
                    now.saturating_sub(heard) > cluster::SILENT_MS
                });
            skipped |= quiet;
            quiet
        };
        let to = match cluster::pass_to(&ids[..n], me, flow.hash(), silent) {
            Some(Pass::To(to)) => {
                let i = ids[..n].iter().position(|&id| id == to)?;
                Target::Member(to, addrs[i].to_ne_bytes())
            }
            Some(Pass::Hold) => Target::Hold,
            // With members, only when this node ranks first.
            None => Target::First,
        };
        Some((to, skipped))
    }
}
