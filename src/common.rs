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

use crate::{
    proto::{
        flow::{Flow, Key},
        mem,
    },
    sys::rcuhash::{Keyed, RcuHash},
};
use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::prelude::*;

/// A copy and the member it is the copy of.
pub(crate) struct Entry {
    key: Key,
    /// The member that forwards the connection (its node id).
    pub(crate) owner: u32,
    /// The owner's flow, as it last sent it.
    pub(crate) flow: Flow,
}

impl Keyed for Entry {
    type Key = Key;

    fn key(&self) -> &Key {
        &self.key
    }
}

/// The copies this node keeps for other members.
pub(crate) struct Common {
    table: RcuHash<Entry>,
    seed: u32,
    max: usize,
    len: AtomicUsize,
}

impl Common {
    /// An empty table of `2^bits` buckets and at most `max` copies, whose
    /// hash is seeded with `seed`.
    pub(crate) fn new(seed: u32, bits: u32, max: usize) -> Result<Self> {
        Ok(Self {
            table: RcuHash::new(1usize << bits.min(24))?,
            seed,
            max,
            len: AtomicUsize::new(0),
        })
    }

    fn hash(&self, key: &Key) -> u32 {
        key.hash(self.seed)
    }

    /// Copies held.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Bytes the copies (as the kmalloc caches that hold them) and the
    /// buckets take.
    pub(crate) fn memory(&self) -> u64 {
        let entry = mem::kmalloc_size(RcuHash::<Entry>::NODE_SIZE);
        (self.len() * entry + self.table.buckets() * RcuHash::<Entry>::BUCKET_SIZE) as u64
    }

    /// Keeps `flow` (a forwarding front flow) as member `owner`'s copy,
    /// in place of an older copy of the same connection. Process context.
    pub(crate) fn keep(&self, owner: u32, flow: Flow) -> Result {
        let key = flow.key();
        self.remove(&key, |_| true);
        let entry = Entry { key, owner, flow };
        self.table.insert(self.hash(&key), entry, self.max)?;
        self.len.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Drops the copy of `key`'s connection if `pick` selects it; whether
    /// there was one.
    pub(crate) fn forget(&self, key: &Key, pick: impl Fn(&Entry) -> bool) -> bool {
        self.remove(key, pick) > 0
    }

    /// The copy of `key`'s connection, if any, as `f` sees it.
    pub(crate) fn with<R>(&self, key: &Key, f: impl FnOnce(&Entry) -> R) -> Option<R> {
        if self.len() == 0 {
            return None;
        }
        self.table.lookup(self.hash(key), key, f)
    }

    /// Adds the copies that `pick` selects, with their owners, to `out`,
    /// as many as fit its capacity; the table keeps them.
    pub(crate) fn snapshot_where(
        &self,
        pick: impl Fn(&Entry) -> bool,
        out: &mut KVec<(u32, Flow)>,
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
    pub(crate) fn release_where(&self, pick: impl Fn(&Entry) -> bool) -> usize {
        let n = self
            .table
            .remove_where(0..self.table.buckets(), pick, usize::MAX, |_| {})
            .removed;
        self.len.fetch_sub(n, Ordering::Relaxed);
        n
    }

    /// Removes the copies of `key`'s connection that `pick` selects.
    fn remove(&self, key: &Key, pick: impl Fn(&Entry) -> bool) -> usize {
        let b = self.table.bucket(self.hash(key));
        let n = self
            .table
            .remove_where(b..b + 1, |r| r.key == *key && pick(r), usize::MAX, |_| {})
            .removed;
        self.len.fetch_sub(n, Ordering::Relaxed);
        n
    }
}
