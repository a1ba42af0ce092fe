// SPDX-License-Identifier: GPL-2.0

//! Client packets held while their flow's handoff is under way. A frozen
//! flow's packets (the rest of a request, an ACK, a FIN) may reach neither
//! the front-end's socket, which would acknowledge bytes the back-end never
//! gets, nor the back-end, which has no connection yet. Dropped, they cost
//! the client a retransmission timeout (200 ms and more, a second early in
//! a connection); held, they are received again the moment the flow
//! forwards, and then go on to the back-end rewritten like any other.
//! So do a front-end group member's, for a copy of another member's
//! handoff, and those of a connection it ranks first for while the copy
//! is on its way ([`crate::proto::cluster::COPY_WAIT_MS`]); and copies of
//! the packets it passed to a member that may have failed, to pass them
//! again to the next should that member prove silent
//! ([`crate::proto::cluster::SUSPECT_MS`]).
//!
//! The holding area is one list per namespace, bounded per flow
//! ([`PER_FLOW`]) and in all ([`MAX`]), and the packets awaiting a copy
//! (of connections nobody here knows yet, which anyone can send) and the
//! copies of packets passed on to their shares of it
//! ([`cluster::AWAITING_MAX`], [`cluster::RELAYED_MAX`]): a packet beyond
//! a bound is dropped as before and counted (a copy of a packet passed on
//! is just not kept). Entries are taken out when their flow
//! forwards ([`Hold::release`]), when its handoff fails
//! ([`Hold::discard`]), or by the collector once older than any handoff can
//! last, or than a copy is awaited ([`Hold::expire`]).

use crate::{
    proto::{
        cluster,
        flow::Key,
        packet::{Family, V4},
    },
    sys::{
        bhlock::{new_bh_spinlock, BhSpinLock},
        skb::HeldSkb,
        vec,
    },
};
use kernel::prelude::*;

/// Packets held for one flow, at most: a window's worth of a request's
/// segments, and more than a client sends in the time a handoff takes.
const PER_FLOW: usize = 32;
/// Packets held in a namespace, at most.
pub(crate) const MAX: usize = 1024;
// Packets awaiting a copy, and copies of packets passed on, leave most of
// the area to handoffs under way.
const _: () = assert!(cluster::AWAITING_MAX + cluster::RELAYED_MAX <= MAX / 2);

/// Age after which a held packet is freed whatever became of its flow:
/// longer than the longest handoff (`handoff-timeout-ms` is at most 30 s).
const MAX_AGE_MS: u64 = 35_000;

struct Held<F: Family> {
    key: Key<F>,
    at_ms: u64,
    why: Why,
    skb: HeldSkb,
}

/// The entries, and how many of them await a copy or were passed on.
struct Area<F: Family> {
    list: KVec<Held<F>>,
    awaiting: usize,
    relayed: usize,
}

impl<F: Family> Area<F> {
    /// The count of entries held for `why`, if it has a share.
    fn share(&mut self, why: Why) -> Option<&mut usize> {
        match why {
            Why::Handoff => None,
            Why::AwaitingCopy => Some(&mut self.awaiting),
            Why::Relayed(_) => Some(&mut self.relayed),
        }
    }
}

/// The holding area of a namespace for the flows of one IP family.
#[pin_data]
pub(crate) struct Hold<F: Family = V4> {
    /// Room for [`MAX`] entries is reserved up front: the hooks add to it
    /// in softirq context without allocating.
    #[pin]
    area: BhSpinLock<Area<F>>,
}

/// Why a packet is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Why {
    /// Its flow, or this node's copy of another member's, is being handed
    /// off.
    Handoff,
    /// Its connection is of no flow here, and this node ranks first for it:
    /// it awaits the copy ([`cluster::awaits_copy`]).
    AwaitingCopy,
    /// Passed to this member, which was suspect ([`cluster::SUSPECT_MS`]):
    /// a copy kept to pass again should the member prove silent
    /// ([`Hold::again`]).
    Relayed(u32),
}

/// What [`Hold::keep`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kept {
    /// Held.
    Yes,
    /// Not held: a bound was reached or there was no memory; the packet is
    /// dropped.
    Full,
    /// Not held: the connection's wait for a copy is over
    /// ([`Why::AwaitingCopy`] only); the packet goes on.
    Over,
}

impl<F: Family> Hold<F> {
    /// An empty holding area.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            area <- new_bh_spinlock!(
                Area {
                    list: KVec::with_capacity(MAX, GFP_KERNEL)?,
                    awaiting: 0,
                    relayed: 0,
                },
                "baton_hold"
            ),
        }? Error)
    }

    /// Holds the packet `copy` makes (called only if it is held) for the
    /// flow of `key`. Any context.
    pub(crate) fn keep(
        &self,
        key: Key<F>,
        now_ms: u64,
        why: Why,
        copy: impl FnOnce() -> Option<HeldSkb>,
    ) -> Kept {
        let awaiting = why == Why::AwaitingCopy;
        let mut area = self.area.lock();
        // Checked first: a flood of such packets costs no walk of the list.
        let full = match why {
            Why::Handoff => false,
            Why::AwaitingCopy => !cluster::awaiting_admits(area.awaiting),
            Why::Relayed(_) => area.relayed >= cluster::RELAYED_MAX,
        };
        if full {
            return Kept::Full;
        }
        let (mut of_flow, mut first) = (0, None::<u64>);
        for h in area.list.iter().filter(|h| h.key == key) {
            of_flow += 1;
            first = Some(first.map_or(h.at_ms, |t| t.min(h.at_ms)));
        }
        if awaiting && !cluster::awaits_copy(first, now_ms) {
            return Kept::Over;
        }
        if area.list.len() >= area.list.capacity() || of_flow >= PER_FLOW {
            return Kept::Full;
        }
        let Some(skb) = copy() else {
            return Kept::Full;
        };
        // Within the capacity reserved: no allocation, cannot fail.
        let _ = area.list.push(
            Held {
                key,
                at_ms: now_ms,
                why,
                skb,
            },
            GFP_ATOMIC,
        );
        if let Some(n) = area.share(why) {
            *n += 1;
        }
        Kept::Yes
    }

    /// How many packets are held, and how many of them await a copy.
    pub(crate) fn occupancy(&self) -> (usize, usize) {
        let area = self.area.lock();
        (area.list.len(), area.awaiting)
    }

    /// Receives again, in the order they came, the packets held for the
    /// flow of `key`, which forwards now; how many. Process context.
    pub(crate) fn release(&self, key: &Key<F>) -> usize {
        let mut out = KVec::new();
        self.take(|h| h.key == *key, &mut out);
        let n = out.len();
        for h in out {
            h.skb.reinject();
        }
        n
    }

    /// Frees the packets held for the flow of `key` (its handoff failed:
    /// the client is reset). Process context.
    pub(crate) fn discard(&self, key: &Key<F>) {
        let mut out = KVec::new();
        self.take(|h| h.key == *key, &mut out);
    }

    /// Settles the packets kept as passed to a suspect member
    /// ([`Why::Relayed`]) as `fate` says for the member and the time the
    /// packet went: received again (so passed to the member the ranking now
    /// gives) or freed; how many were received again. Process context.
    pub(crate) fn again(&self, fate: impl Fn(u32, u64) -> cluster::Relayed) -> usize {
        let settled = |h: &Held<F>| match h.why {
            Why::Relayed(id) => fate(id, h.at_ms),
            _ => cluster::Relayed::Keep,
        };
        if self.area.lock().relayed == 0 {
            return 0;
        }
        let mut out = KVec::new();
        self.take(|h| settled(h) != cluster::Relayed::Keep, &mut out);
        let mut again = 0;
        for h in out {
            // Decided again: the member may have been heard from since.
            if settled(&h) == cluster::Relayed::Again {
                h.skb.reinject();
                again += 1;
            }
        }
        again
    }

    /// Frees the packets held longer than any handoff lasts or than a copy
    /// is awaited, and with `all` every packet (the namespace goes away).
    /// Process context.
    pub(crate) fn expire(&self, now_ms: u64, all: bool) {
        let mut out = KVec::new();
        self.take(
            |h| {
                all || now_ms.saturating_sub(h.at_ms) > MAX_AGE_MS
                    || (h.why == Why::AwaitingCopy && cluster::awaiting_expired(h.at_ms, now_ms))
            },
            &mut out,
        );
    }

    /// Moves the entries `pick` chooses to `out`, oldest first; their
    /// packets are freed or received by the caller, outside the lock. With
    /// no memory for `out` (allocated with bottom halves off, so
    /// `GFP_ATOMIC`) they stay, for the collector to free.
    fn take(&self, pick: impl Fn(&Held<F>) -> bool, out: &mut KVec<Held<F>>) {
        let mut area = self.area.lock();
        if !area.list.iter().any(&pick) || out.reserve(area.list.len(), GFP_ATOMIC).is_err() {
            return;
        }
        let from = out.len();
        vec::extract(&mut area.list, pick, out);
        for h in out.iter().skip(from) {
            if let Some(n) = area.share(h.why) {
                *n -= 1;
            }
        }
    }
}
