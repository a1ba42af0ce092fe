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
//! is on its way ([`crate::proto::cluster::COPY_WAIT_MS`]).
//!
//! The holding area is one list per namespace, bounded per flow
//! ([`PER_FLOW`]) and in all ([`MAX`]): a packet beyond either bound is
//! dropped as before and counted. Entries are taken out when their flow
//! forwards ([`Hold::release`]), when its handoff fails
//! ([`Hold::discard`]), or by the collector once older than any handoff can
//! last ([`Hold::expire`]).

use crate::{
    proto::{
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
/// Age after which a held packet is freed whatever became of its flow:
/// longer than the longest handoff (`handoff-timeout-ms` is at most 30 s).
const MAX_AGE_MS: u64 = 35_000;

struct Held<F: Family> {
    key: Key<F>,
    at_ms: u64,
    skb: HeldSkb,
}

/// The holding area of a namespace for the flows of one IP family.
#[pin_data]
pub(crate) struct Hold<F: Family = V4> {
    /// Room for [`MAX`] entries is reserved up front: the hooks add to it
    /// in softirq context without allocating.
    #[pin]
    list: BhSpinLock<KVec<Held<F>>>,
}

/// What [`Hold::keep`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kept {
    /// Held.
    Yes,
    /// Not held: a bound was reached or there was no memory; the packet is
    /// dropped.
    Full,
}

impl<F: Family> Hold<F> {
    /// An empty holding area.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            list <- new_bh_spinlock!(KVec::with_capacity(MAX, GFP_KERNEL)?, "baton_hold"),
        }? Error)
    }

    /// Holds `skb` for the flow of `key`. Any context.
    pub(crate) fn keep(&self, key: Key<F>, now_ms: u64, skb: HeldSkb) -> Kept {
        let mut list = self.list.lock();
        let of_flow = list.iter().filter(|h| h.key == key).count();
        if list.len() >= list.capacity() || of_flow >= PER_FLOW {
            // `skb` is freed after the lock is released.
            drop(list);
            return Kept::Full;
        }
        // Within the capacity reserved: no allocation, cannot fail.
        let _ = list.push(
            Held {
                key,
                at_ms: now_ms,
                skb,
            },
            GFP_ATOMIC,
        );
        Kept::Yes
    }

    /// When the oldest packet held for the flow of `key` came, if one is
    /// held. Any context.
    pub(crate) fn held_since(&self, key: &Key<F>) -> Option<u64> {
        let list = self.list.lock();
        list.iter().filter(|h| h.key == *key).map(|h| h.at_ms).min()
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

    /// Frees the packets held longer than any handoff lasts, and with
    /// `all` every packet (the namespace goes away). Process context.
    pub(crate) fn expire(&self, now_ms: u64, all: bool) {
        let mut out = KVec::new();
        self.take(
            |h| all || now_ms.saturating_sub(h.at_ms) > MAX_AGE_MS,
            &mut out,
        );
    }

    /// Moves the entries `pick` chooses to `out`, oldest first; their
    /// packets are freed or received by the caller, outside the lock. With
    /// no memory for `out` (allocated with bottom halves off, so
    /// `GFP_ATOMIC`) they stay, for the collector to free.
    fn take(&self, pick: impl Fn(&Held<F>) -> bool, out: &mut KVec<Held<F>>) {
        let mut list = self.list.lock();
        if !list.iter().any(&pick) || out.reserve(list.len(), GFP_ATOMIC).is_err() {
            return;
        }
        vec::extract(&mut list, pick, out);
    }
}
