// SPDX-License-Identifier: GPL-2.0

//! The common table (seed 000): copies of the forwarding flows of other
//! members of the front-end group, kept by this node as their backup.
//!
//! The packet path reads it only for a client packet that no flow of this
//! node's own (active) table takes: the upstream (an ECMP router whose
//! hash moved, a VRRP address that moved) sent here a packet of a
//! connection another member forwards. It goes to the connection's
//! back-end with the copy's translation, byte for byte as the owner would
//! send it, so the connection does not notice which front-end forwarded
//! it. A copy is never changed in place (a new one replaces it), so the
//! packet path reads it without a lock; its counters and times stay the
//! owner's business.
//!
//! A copy may also be of a handoff still under way on its owner
//! (HANDOFF_COPY): its flow is frozen, and it carries the request the
//! owner sent the back-end ([`Pending`]), so that this node can ask the
//! back-end itself should the owner fail before the connection forwards.
//! The packets it meets are held, as the owner's frozen flow holds them.

use crate::{
    proto::{
        ctrl::HandoffReq,
        flow::{Flow, Key},
        mem,
        packet::{Family, V4},
    },
    sys::{
        rcuhash::{Keyed, RcuHash},
        vec,
    },
};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use kernel::prelude::*;

/// The handoff a pending copy is of: the request its owner sends the
/// back-end, with its data.
pub(crate) struct Pending<F: Family = V4> {
    /// The request (`data` empty: see `data`).
    pub(crate) req: HandoffReq<'static, F>,
    /// The request's data.
    pub(crate) data: KVec<u8>,
}

/// A copy and the member it is the copy of.
pub(crate) struct Entry<F: Family = V4> {
    key: Key<F>,
    /// The member that forwards the connection (its node id).
    pub(crate) owner: u32,
    /// The owner's flow, as it last sent it.
    pub(crate) flow: Flow<F>,
    /// For a copy of a handoff under way: its request.
    pub(crate) pending: Option<KBox<Pending<F>>>,
    /// This node forwarded a packet from it.
    used: AtomicBool,
}

impl<F: Family> Entry<F> {
    /// Whether this node forwarded a packet from the copy.
    pub(crate) fn used(&self) -> bool {
        self.used.load(Ordering::Relaxed)
    }
}

impl<F: Family> Keyed for Entry<F> {
    type Key = Key<F>;

    fn key(&self) -> &Key<F> {
        &self.key
    }
}

/// The copies of one IP family's connections this node keeps for other
/// members.
pub(crate) struct Common<F: Family = V4> {
    table: RcuHash<Entry<F>>,
    seed: u32,
    max: usize,
    len: AtomicUsize,
    /// Pending copies, and the bytes of their requests' data.
    pending: AtomicUsize,
    pending_bytes: AtomicUsize,
    /// Some copy was used since [`Common::take_used`] last looked.
    any_used: AtomicBool,
}

/// Request data the pending copies of a namespace hold, at most: a backup
/// that has no room confirms nothing, and the owner's handoff goes on
/// unconfirmed.
const PENDING_BYTES_MAX: usize = 16 * 1024 * 1024;

impl<F: Family> Common<F> {
    /// An empty table of `2^bits` buckets and at most `max` copies, whose
    /// hash is seeded with `seed`.
    pub(crate) fn new(seed: u32, bits: u32, max: usize) -> Result<Self> {
        Ok(Self {
            table: RcuHash::new(1usize << bits.min(24))?,
            seed,
            max,
            len: AtomicUsize::new(0),
            pending: AtomicUsize::new(0),
            pending_bytes: AtomicUsize::new(0),
            any_used: AtomicBool::new(false),
        })
    }

    fn hash(&self, key: &Key<F>) -> u32 {
        key.hash(self.seed)
    }

    /// Copies held.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Copies of handoffs under way held.
    pub(crate) fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// Bytes the copies (as the kmalloc caches that hold them), the
    /// buckets and the pending copies' requests take.
    pub(crate) fn memory(&self) -> u64 {
        let entry = mem::kmalloc_size(RcuHash::<Entry<F>>::NODE_SIZE);
        let pending = self.pending() * mem::kmalloc_size(core::mem::size_of::<Pending<F>>())
            + self.pending_bytes.load(Ordering::Relaxed);
        (self.len() * entry + self.table.buckets() * RcuHash::<Entry<F>>::BUCKET_SIZE + pending)
            as u64
    }

    /// Keeps `flow` (a forwarding front flow) as member `owner`'s copy,
    /// in place of an older copy of the same connection. Process context.
    pub(crate) fn keep(&self, owner: u32, flow: Flow<F>) -> Result {
        self.insert(owner, flow, None)
    }

    /// Keeps `flow` (a frozen front flow) as member `owner`'s copy of its
    /// handoff `req`, whose data is copied, in place of an older copy of
    /// the same connection. `ENOSPC` when the pending copies hold too much
    /// data already. Process context.
    pub(crate) fn keep_pending(
        &self,
        owner: u32,
        flow: Flow<F>,
        req: &HandoffReq<'_, F>,
    ) -> Result {
        let n = req.data.len();
        if self.pending_bytes.load(Ordering::Relaxed) + n > PENDING_BYTES_MAX {
            return Err(ENOSPC);
        }
        let pending = KBox::new(
            Pending {
                req: HandoffReq { data: &[], ..*req },
                data: vec::copied(req.data, GFP_KERNEL)?,
            },
            GFP_KERNEL,
        )?;
        self.insert(owner, flow, Some(pending))
    }

    fn insert(&self, owner: u32, flow: Flow<F>, pending: Option<KBox<Pending<F>>>) -> Result {
        let key = flow.key();
        self.remove(&key, |_| true, |_| {});
        let bytes = pending.as_ref().map(|p| p.data.len());
        let entry = Entry {
            key,
            owner,
            flow,
            pending,
            used: AtomicBool::new(false),
        };
        self.table.insert(self.hash(&key), entry, self.max)?;
        self.len.fetch_add(1, Ordering::Relaxed);
        if let Some(b) = bytes {
            self.pending.fetch_add(1, Ordering::Relaxed);
            self.pending_bytes.fetch_add(b, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Drops the copy of `key`'s connection if `pick` selects it; whether
    /// there was one.
    pub(crate) fn forget(&self, key: &Key<F>, pick: impl Fn(&Entry<F>) -> bool) -> bool {
        self.remove(key, pick, |_| {}) > 0
    }

    /// Drops the copy of `key`'s connection if `pick` selects it, showing
    /// it to `out` first (outside any lock: `out` may sleep). Process
    /// context.
    pub(crate) fn take(
        &self,
        key: &Key<F>,
        pick: impl Fn(&Entry<F>) -> bool,
        out: impl FnMut(&Entry<F>),
    ) {
        self.remove(key, pick, out);
    }

    /// Notes that this node forwarded a packet from copy `r` (the packet
    /// path: a load, and a store only the first time).
    pub(crate) fn mark_used(&self, r: &Entry<F>) {
        if !r.used.load(Ordering::Relaxed) {
            r.used.store(true, Ordering::Relaxed);
            self.any_used.store(true, Ordering::Relaxed);
        }
    }

    /// Whether a copy was used since the last [`Common::take_used`].
    pub(crate) fn used(&self) -> bool {
        self.any_used.load(Ordering::Relaxed)
    }

    /// Whether a copy was used since the last call: a copy marked after it
    /// is seen by a walk that follows it, or by the next call's.
    pub(crate) fn take_used(&self) -> bool {
        self.any_used.swap(false, Ordering::Relaxed)
    }

    /// The copy of `key`'s connection, if any, as `f` sees it.
    pub(crate) fn with<R>(&self, key: &Key<F>, f: impl FnOnce(&Entry<F>) -> R) -> Option<R> {
        if self.len() == 0 {
            return None;
        }
        self.table.lookup(self.hash(key), key, f)
    }

    /// Adds the copies that `pick` selects, with their owners, to `out`,
    /// as many as fit its capacity; the table keeps them.
    pub(crate) fn snapshot_where(
        &self,
        pick: impl Fn(&Entry<F>) -> bool,
        out: &mut KVec<(u32, Flow<F>)>,
    ) {
        if self.len() == 0 {
            return;
        }
        self.table.for_each(|r| {
            if out.len() < out.capacity() && pick(r) {
                // Capacity checked: no allocation.
                let _ = out.push((r.owner, r.flow), GFP_ATOMIC);
            }
        });
    }

    /// Removes the copies that `pick` selects; how many. Process
    /// context.
    pub(crate) fn release_where(&self, pick: impl Fn(&Entry<F>) -> bool) -> usize {
        self.remove_in(0..self.table.buckets(), pick, |_| {})
    }

    /// Removes the copies of `key`'s connection that `pick` selects,
    /// showing each to `out`.
    fn remove(
        &self,
        key: &Key<F>,
        pick: impl Fn(&Entry<F>) -> bool,
        out: impl FnMut(&Entry<F>),
    ) -> usize {
        let b = self.table.bucket(self.hash(key));
        self.remove_in(b..b + 1, |r| r.key == *key && pick(r), out)
    }

    /// Removes the copies of `buckets` that `pick` selects, showing each
    /// to `out`; keeps the counts.
    fn remove_in(
        &self,
        buckets: core::ops::Range<usize>,
        pick: impl Fn(&Entry<F>) -> bool,
        mut out: impl FnMut(&Entry<F>),
    ) -> usize {
        let n = self
            .table
            .remove_where(buckets, pick, usize::MAX, |r| {
                if let Some(p) = &r.pending {
                    self.pending.fetch_sub(1, Ordering::Relaxed);
                    self.pending_bytes
                        .fetch_sub(p.data.len(), Ordering::Relaxed);
                }
                out(r)
            })
            .removed;
        self.len.fetch_sub(n, Ordering::Relaxed);
        n
    }
}
