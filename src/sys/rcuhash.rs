// SPDX-License-Identifier: GPL-2.0

//! A hash table read under RCU and changed under a lock, over the kernel's
//! `hlist` RCU primitives (`include/linux/rculist.h`), as conntrack and
//! IPVS keep their connections: the packet path looks entries up without
//! taking any table-wide lock; inserts and removals take one writer lock;
//! a removed entry is freed only after an RCU grace period, so a reader
//! that still holds it stays safe. A removal does not wait for that grace
//! period (one `call_rcu` for the entries removed together): a grace period
//! is several ticks, and the control channel's thread, which ends
//! connections one by one, would spend its time waiting instead of reading
//! the next frame. [`barrier`] waits for the frees still pending (module
//! exit).
//!
//! Entries are immutable in the table's eyes ([`Keyed::key`] never
//! changes); mutable state inside them needs its own synchronisation (a
//! lock or atomics in `T`).

use super::{
    bhlock::{new_bh_spinlock, BhSpinLock},
    bindings,
};
use core::{
    marker::PhantomData,
    ops::Range,
    ptr::NonNull,
    sync::atomic::{AtomicU32, AtomicU64, Ordering},
};
use kernel::{alloc::KVVec, prelude::*, types::Opaque};

/// A value with a key that selects its bucket and identifies it. A removed
/// value is dropped in an RCU callback (softirq context): its `Drop` must
/// not sleep.
pub(crate) trait Keyed: Send + Sync + 'static {
    /// The key type.
    type Key: PartialEq;
    /// The key; must not change while the value is in a table.
    fn key(&self) -> &Self::Key;
}

/// An entry: the list link and the value, pinned in its allocation.
///
/// # Invariants
///
/// `link` is either unlinked or linked into exactly one bucket of the
/// table that owns the entry, and `link` is the first field, so a pointer
/// to it is a pointer to the entry.
#[repr(C)]
#[pin_data]
struct Node<T> {
    link: Opaque<bindings::hlist_node>,
    #[pin]
    value: T,
}

impl<T: Keyed> RcuHash<T> {
    /// Bytes of one entry's allocation as requested (the node: link and
    /// value).
    pub(crate) const NODE_SIZE: usize = core::mem::size_of::<Node<T>>();
    /// Bytes of one bucket.
    pub(crate) const BUCKET_SIZE: usize = core::mem::size_of::<bindings::hlist_head>();
}

/// Buckets that [`RcuHash::remove_where`] walks under one hold of the
/// writer lock.
const LOCK_CHUNK: usize = 256;

/// What [`RcuHash::remove_where`] did.
pub(crate) struct Removal {
    /// Entries removed.
    pub(crate) removed: usize,
    /// The first bucket it did not finish: the range's end, unless it
    /// stopped at its limit.
    pub(crate) next: usize,
}

/// Nodes unlinked by one removal, freed together after a grace period by
/// one RCU callback ([`free_retired`]), so that a node carries no
/// `rcu_head` of its own.
///
/// # Invariants
///
/// `rcu` is the first field (a pointer to it is a pointer to the batch).
/// Every node in `nodes` came from `KBox::into_raw` in [`RcuHash::insert`],
/// is unlinked from its table, and is owned by the batch.
#[repr(C)]
struct Retired<T> {
    rcu: Opaque<bindings::callback_head>,
    nodes: KVec<NonNull<Node<T>>>,
}

/// The RCU callback of a [`Retired`] batch: frees its nodes, then it.
///
/// # Safety
///
/// `head` is the `rcu` field of a `Retired<T>` leaked by
/// [`RcuHash::retire`] and handed to `call_rcu` once; a grace period has
/// passed since its nodes were unlinked.
unsafe extern "C" fn free_retired<T: Keyed>(head: *mut bindings::callback_head) {
    // SAFETY: `rcu` is the first field of the `#[repr(C)]` batch (type
    // invariant), which came from `KBox::into_raw` (the caller's contract).
    let batch = unsafe { KBox::from_raw(head.cast::<Retired<T>>()) };
    for node in batch.nodes.iter() {
        // SAFETY: owned by the batch and unlinked (type invariant); no
        // reader can still hold it after the grace period (contract).
        drop(unsafe { KBox::from_raw(node.as_ptr()) });
    }
}

/// Waits until every entry removed so far, from any table, is freed (the
/// pending RCU callbacks ran): before the module's code goes away.
pub(crate) fn barrier() {
    // SAFETY: process context with no lock held (module exit).
    unsafe { bindings::baton_rcu_barrier() };
}

/// A hash table of `T`.
///
/// # Invariants
///
/// Every node linked into `buckets` was allocated by [`RcuHash::insert`]
/// as a `KBox<Node<T>>` and is owned by the table until a removal unlinks
/// it and frees it after a grace period ([`RcuHash::retire`]). `buckets` never reallocates
/// (nodes point back into it). Bit `b % 64` of `occupied[b / 64]` is set
/// whenever bucket `b` holds an entry (it may stay set a while after).
pub(crate) struct RcuHash<T: Keyed> {
    buckets: KVVec<Opaque<bindings::hlist_head>>,
    /// One bit a bucket, changed under the writer lock, read under it or
    /// under RCU: walks skip 64 empty buckets a word, so that a large,
    /// mostly empty table costs its sweeps and dumps little.
    occupied: KVVec<AtomicU64>,
    /// Writer lock; holds the number of entries (for the `max` check).
    writer: Pin<KBox<BhSpinLock<usize>>>,
    /// Changed (under the writer lock) by every insert and removal.
    generation: AtomicU32,
    _owns: PhantomData<T>,
}

// SAFETY: the table only hands out `&T` (`T: Sync`) and moves `T`s between
// threads when they are freed (`T: Send`); the buckets are changed under
// the writer lock and read under RCU.
unsafe impl<T: Keyed> Send for RcuHash<T> {}
// SAFETY: as above.
unsafe impl<T: Keyed> Sync for RcuHash<T> {}

/// Takes the RCU read lock for its lifetime.
///
/// # Invariants
///
/// The RCU read lock is held by the task that made the guard, from `new`
/// to `drop`; not `Send`, so that the unlock happens on that task.
pub(super) struct ReadGuard {
    _not_send: PhantomData<*const ()>,
}

impl ReadGuard {
    pub(super) fn new() -> Self {
        // SAFETY: always allowed; undone in `drop`.
        unsafe { bindings::baton_rcu_read_lock() };
        // INVARIANT: locked just above, on this task.
        ReadGuard {
            _not_send: PhantomData,
        }
    }
}

impl Drop for ReadGuard {
    fn drop(&mut self) {
        // SAFETY: taken in `new`.
        unsafe { bindings::baton_rcu_read_unlock() };
    }
}

impl<T: Keyed> RcuHash<T> {
    /// An empty table of `buckets` buckets (at least 1; a large table's
    /// buckets come from `kvmalloc`).
    pub(crate) fn new(buckets: usize) -> Result<Self> {
        let n = buckets.max(1);
        let mut v = KVVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            v.push(
                Opaque::new(bindings::hlist_head {
                    first: core::ptr::null_mut(),
                }),
                GFP_KERNEL,
            )?;
        }
        let words = n.div_ceil(64);
        let mut occupied = KVVec::with_capacity(words, GFP_KERNEL)?;
        for _ in 0..words {
            occupied.push(AtomicU64::new(0), GFP_KERNEL)?;
        }
        let writer = KBox::pin_init(new_bh_spinlock!(0, "baton_rcuhash"), GFP_KERNEL)?;
        Ok(Self {
            buckets: v,
            occupied,
            writer,
            generation: AtomicU32::new(1),
            _owns: PhantomData,
        })
    }

    /// A counter that changes with every insert and removal, never 0. A
    /// walk that reads it first sees every change made before it.
    pub(crate) fn generation(&self) -> u32 {
        self.generation.load(Ordering::Acquire)
    }

    /// Notes a change just made; the caller holds the writer lock.
    fn changed(&self) {
        let g = self.generation.load(Ordering::Relaxed).wrapping_add(1);
        self.generation
            .store(if g == 0 { 1 } else { g }, Ordering::Release);
    }

    /// Number of buckets.
    pub(crate) fn buckets(&self) -> usize {
        self.buckets.len()
    }

    /// The bucket of `hash`.
    pub(crate) fn bucket(&self, hash: u32) -> usize {
        (hash as usize).checked_rem(self.buckets.len()).unwrap_or(0)
    }

    fn head(&self, hash: u32) -> Option<*mut bindings::hlist_head> {
        self.buckets.get(self.bucket(hash)).map(|b| b.get())
    }

    /// Marks bucket `b` as holding an entry (before the entry is linked,
    /// so that a walk that sees the entry's bucket unmarked may miss only
    /// an entry inserted during the walk). The caller holds the writer lock.
    fn mark_occupied(&self, b: usize) {
        if let Some(w) = self.occupied.get(b / 64) {
            // Writers are serialised by the lock: no read-modify-write.
            let bits = w.load(Ordering::Relaxed) | 1 << (b % 64);
            w.store(bits, Ordering::Release);
        }
    }

    /// Unmarks bucket `b` if its list is empty. The caller holds the
    /// writer lock.
    fn unmark_if_empty(&self, b: usize) {
        let (Some(head), Some(w)) = (self.buckets.get(b), self.occupied.get(b / 64)) else {
            return;
        };
        // SAFETY: `head` is one of our buckets; the writer lock is held.
        if unsafe { (*head.get()).first }.is_null() {
            let bits = w.load(Ordering::Relaxed) & !(1 << (b % 64));
            w.store(bits, Ordering::Release);
        }
    }

    /// The first bucket of `from..to` that may hold an entry, else `to`
    /// (`to` is clamped to the table). Under the writer lock the answer is
    /// exact; under RCU, an entry inserted meanwhile may be missed.
    pub(crate) fn next_occupied(&self, from: usize, to: usize) -> usize {
        let to = to.min(self.buckets.len());
        let mut b = from;
        while b < to {
            let Some(w) = self.occupied.get(b / 64) else {
                break;
            };
            let bits = w.load(Ordering::Acquire) >> (b % 64);
            if bits != 0 {
                return (b + bits.trailing_zeros() as usize).min(to);
            }
            b = (b / 64 + 1) * 64;
        }
        to
    }

    /// Walks bucket `head` under RCU (the caller holds the read lock or the
    /// writer lock) and returns the first node whose value `pick` accepts.
    ///
    /// # Safety
    ///
    /// The caller holds the RCU read lock or the writer lock for as long as
    /// it uses the returned pointer.
    unsafe fn find(
        &self,
        head: *mut bindings::hlist_head,
        pick: &mut dyn FnMut(&T) -> bool,
    ) -> Option<NonNull<Node<T>>> {
        // SAFETY: `head` is one of our buckets; the caller holds RCU or the
        // writer lock, so the list and its nodes stay valid.
        let mut pos = unsafe { bindings::baton_hlist_first_rcu(head) };
        while !pos.is_null() {
            let node = pos.cast::<Node<T>>();
            // SAFETY: every linked node is a live `Node<T>` (type
            // invariant) whose first field is the link.
            let value = unsafe { &(*node).value };
            if pick(value) {
                return NonNull::new(node);
            }
            // SAFETY: `pos` is a linked node, see above.
            pos = unsafe { bindings::baton_hlist_next_rcu(pos) };
        }
        None
    }

    /// Runs `f` on the entry with key `key` in bucket `hash`, under RCU: `f`
    /// must not sleep. Callable from any context.
    pub(crate) fn lookup<R>(&self, hash: u32, key: &T::Key, f: impl FnOnce(&T) -> R) -> Option<R> {
        self.lookup_where(hash, |v| v.key() == key, f)
    }

    /// Runs `f` on the first entry of bucket `hash` that `pick` accepts,
    /// under RCU: neither may sleep. Callable from any context.
    pub(crate) fn lookup_where<R>(
        &self,
        hash: u32,
        mut pick: impl FnMut(&T) -> bool,
        f: impl FnOnce(&T) -> R,
    ) -> Option<R> {
        let head = self.head(hash)?;
        let _rcu = ReadGuard::new();
        // SAFETY: the RCU read lock is held until after `f` returns.
        let node = unsafe { self.find(head, &mut pick) }?;
        // SAFETY: the node stays allocated until a grace period after its
        // removal, which cannot end while we hold the read lock.
        Some(f(unsafe { &(*node.as_ptr()).value }))
    }

    /// Adds the value `init` makes in bucket `hash`: `EEXIST` if an entry
    /// has its key, `ENOSPC` if the table has `max` entries. Process
    /// context (allocates with `GFP_KERNEL`).
    pub(crate) fn insert(&self, hash: u32, init: impl PinInit<T, Error>, max: usize) -> Result {
        let head = self.head(hash).ok_or(EINVAL)?;
        let node = KBox::pin_init(
            try_pin_init!(Node {
                link: Opaque::new(bindings::hlist_node {
                    next: core::ptr::null_mut(),
                    pprev: core::ptr::null_mut(),
                }),
                value <- init,
            }? Error),
            GFP_KERNEL,
        )?;
        let mut count = self.writer.lock();
        // Readers' primitives are used under the writer lock too; the read
        // lock keeps RCU lockdep's checks happy (and costs nothing).
        let _rcu = ReadGuard::new();
        let key = node.value.key();
        // SAFETY: we hold the writer lock.
        if unsafe { self.find(head, &mut |v| v.key() == key) }.is_some() {
            return Err(EEXIST);
        }
        if *count >= max {
            return Err(ENOSPC);
        }
        self.mark_occupied(self.bucket(hash));
        // SAFETY: the node stays where it is until `remove_where` turns it
        // back into a pinned box and drops it in place.
        let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(node) });
        // SAFETY: `raw` is a fresh node, not linked; `head` is our bucket;
        // the writer lock serialises list changes. INVARIANT: linked once,
        // owned by the table from now on.
        unsafe { bindings::baton_hlist_add_head_rcu((*raw).link.get(), head) };
        *count = count.saturating_add(1);
        self.changed();
        Ok(())
    }

    /// Unlinks every entry of the buckets in `buckets` (indices, see
    /// [`RcuHash::bucket`]; clamped to the table) that `pick` selects, at
    /// most `limit`, shows each to `out`, and frees them once readers are
    /// done with them (after a grace period, without waiting for it: a
    /// reader may still be looking at an entry while `out` does). The
    /// writer lock is taken once per [`LOCK_CHUNK`] buckets from an
    /// occupied one, so that inserts are not held up long by a walk of a
    /// large table, and not at all for a stretch of empty buckets. Process
    /// context only. `pick` runs under the writer lock and must not
    /// sleep.
    pub(crate) fn remove_where(
        &self,
        buckets: Range<usize>,
        mut pick: impl FnMut(&T) -> bool,
        limit: usize,
        mut out: impl FnMut(&T),
    ) -> Removal {
        let mut unlinked: KVec<NonNull<Node<T>>> = KVec::new();
        let end = buckets.end.min(self.buckets.len());
        let mut b = buckets.start.min(end);
        'chunks: while b < end {
            // Empty stretches are skipped before the lock is taken: a
            // bucket filled meanwhile is one filled during the walk.
            b = self.next_occupied(b, end);
            if b >= end {
                break;
            }
            let stop = b.saturating_add(LOCK_CHUNK).min(end);
            let mut count = self.writer.lock();
            let _rcu = ReadGuard::new();
            while b < stop {
                // A sweep mostly meets empty buckets: skipped a word of
                // the bitmap at a time.
                b = self.next_occupied(b, stop);
                let Some(head) = self.buckets.get(b).filter(|_| b < stop) else {
                    break;
                };
                loop {
                    if unlinked.len() >= limit {
                        break 'chunks;
                    }
                    // SAFETY: we hold the writer lock.
                    let Some(node) = (unsafe { self.find(head.get(), &mut pick) }) else {
                        break;
                    };
                    if unlinked.push(node, GFP_ATOMIC).is_err() {
                        break 'chunks;
                    }
                    // SAFETY: `node` is linked in this table; the writer lock
                    // serialises list changes. Readers may still see it until
                    // the grace period below.
                    unsafe { bindings::baton_hlist_del_rcu((*node.as_ptr()).link.get()) };
                    *count = count.saturating_sub(1);
                    self.changed();
                    // Here, not once the bucket is done: a removal by key
                    // stops at its limit right after this.
                    self.unmark_if_empty(b);
                }
                b += 1;
            }
        }
        let n = unlinked.len();
        for node in unlinked.iter() {
            // SAFETY: unlinked above and not yet freed (`retire` frees it
            // after a grace period); readers only share it.
            out(unsafe { &(*node.as_ptr()).value });
        }
        if n > 0 {
            Self::retire(unlinked);
        }
        Removal {
            removed: n,
            next: b,
        }
    }

    /// Frees `nodes` (unlinked, from `insert`, owned by the caller) after a
    /// grace period without waiting for it; if the batch cannot be
    /// allocated, waits for the grace period here and frees them. Process
    /// context.
    fn retire(nodes: KVec<NonNull<Node<T>>>) {
        let batch = KBox::new(
            Retired {
                rcu: Opaque::uninit(),
                nodes: KVec::new(),
            },
            GFP_KERNEL,
        );
        let Ok(mut batch) = batch else {
            // SAFETY: process context (the callers' contract).
            unsafe { bindings::synchronize_rcu() };
            for node in nodes.iter() {
                // SAFETY: unlinked, a grace period passed: no reader holds
                // it; it came from `KBox::into_raw` in `insert`.
                drop(unsafe { KBox::from_raw(node.as_ptr()) });
            }
            return;
        };
        // INVARIANT: the nodes are unlinked and now owned by the batch.
        batch.nodes = nodes;
        let raw = KBox::into_raw(batch);
        // SAFETY: `raw` is a live batch whose `rcu` is its first field
        // (`#[repr(C)]`); `call_rcu` owns it until `free_retired::<T>`
        // runs, once, after a grace period.
        unsafe {
            bindings::baton_call_rcu(
                raw.cast::<bindings::callback_head>(),
                Some(free_retired::<T>),
            )
        };
    }

    /// Calls `f` on the entries of bucket `bucket` (an index, see
    /// [`RcuHash::bucket`]) in order, newest first, under RCU, until it
    /// returns `false` (`f` must not sleep). An entry inserted or removed
    /// meanwhile may or may not be seen; no entry is seen twice.
    pub(crate) fn walk_bucket(&self, bucket: usize, mut f: impl FnMut(&T) -> bool) {
        let Some(head) = self.buckets.get(bucket) else {
            return;
        };
        let _rcu = ReadGuard::new();
        // SAFETY: the RCU read lock is held.
        let _ = unsafe { self.find(head.get(), &mut |v| !f(v)) };
    }

    /// Calls `f` on every entry under RCU (`f` must not sleep). An entry
    /// inserted or removed meanwhile may or may not be seen.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&T)) {
        let _rcu = ReadGuard::new();
        let n = self.buckets.len();
        let mut b = self.next_occupied(0, n);
        while let Some(head) = self.buckets.get(b) {
            // SAFETY: the RCU read lock is held.
            let _ = unsafe {
                self.find(head.get(), &mut |v| {
                    f(v);
                    false
                })
            };
            b = self.next_occupied(b + 1, n);
        }
    }
}

impl<T: Keyed> Drop for RcuHash<T> {
    fn drop(&mut self) {
        // Frees every entry after a grace period; the buckets go when this
        // returns, so the readers still walking them must be done first.
        self.remove_where(0..usize::MAX, |_| true, usize::MAX, |_| {});
        // SAFETY: the table is dropped in process context (namespace exit).
        unsafe { bindings::synchronize_rcu() };
    }
}
