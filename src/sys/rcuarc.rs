// SPDX-License-Identifier: GPL-2.0

//! A shared value published under RCU: the packet path reads the current
//! copy without a lock and without touching its reference count (which
//! every CPU would write), and a writer swaps a new copy in, leaving the
//! old one to be released after a grace period, as `rcu_assign_pointer`
//! and `kfree_rcu` do for the kernel's own configuration snapshots.
//!
//! C header: [`include/linux/rcupdate.h`].
//!
//! [`include/linux/rcupdate.h`]: srctree/include/linux/rcupdate.h

use super::{bindings, rcuhash::ReadGuard};
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::{
    prelude::*,
    sync::{Arc, ArcBorrow},
    types::Opaque,
};

/// The current copy of a `T`.
///
/// # Invariants
///
/// `ptr` came from [`Arc::into_raw`], and this value owns that reference.
/// A pointer swapped out by [`RcuArc::set`] keeps its reference until a
/// grace period has passed, so that a reader that loaded it inside an RCU
/// read-side section may use it until the section ends.
pub(crate) struct RcuArc<T: Send + Sync + 'static> {
    ptr: AtomicPtr<T>,
}

impl<T: Send + Sync + 'static> RcuArc<T> {
    /// Publishes `first`.
    pub(crate) fn new(first: Arc<T>) -> Self {
        // INVARIANT: from `into_raw`; the reference is now ours.
        Self {
            ptr: AtomicPtr::new(Arc::into_raw(first).cast_mut()),
        }
    }

    /// Runs `f` on the current copy, under the RCU read lock: `f` must
    /// not sleep. Any context.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        let _rcu = ReadGuard::new();
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: `p` came from `into_raw` (type invariant) and its
        // reference is released only after a grace period, which cannot
        // end while we hold the read lock.
        f(unsafe { &*p })
    }

    /// The current copy, for a caller that keeps it beyond an RCU
    /// read-side section (one reference more). Any context.
    pub(crate) fn get(&self) -> Arc<T> {
        let _rcu = ReadGuard::new();
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: as in `with`: `p` is an `into_raw` pointer whose
        // reference outlives the read lock we hold; the borrow takes a
        // reference of its own before the lock is dropped.
        unsafe { ArcBorrow::from_raw(p) }.into()
    }

    /// Publishes `new`; the copy it replaces is released after a grace
    /// period, without waiting for it (unless no memory is left for the
    /// callback: then it waits). Process context.
    pub(crate) fn set(&self, new: Arc<T>) {
        let old = self
            .ptr
            .swap(Arc::into_raw(new).cast_mut(), Ordering::AcqRel);
        let retired = KBox::new(
            Retired {
                rcu: Opaque::uninit(),
                old,
            },
            GFP_KERNEL,
        );
        let Ok(retired) = retired else {
            // SAFETY: process context (the caller's contract).
            unsafe { bindings::synchronize_rcu() };
            // SAFETY: swapped out above, so ours to release; the grace
            // period has passed: no reader holds it.
            drop(unsafe { Arc::from_raw(old) });
            return;
        };
        let raw = KBox::into_raw(retired);
        // SAFETY: `raw` is a live `Retired<T>` whose `rcu` is its first
        // field (`#[repr(C)]`); `call_rcu` owns it until `release::<T>`
        // runs, once, after a grace period.
        unsafe {
            bindings::baton_call_rcu(raw.cast::<bindings::callback_head>(), Some(release::<T>))
        };
    }
}

impl<T: Send + Sync + 'static> Drop for RcuArc<T> {
    fn drop(&mut self) {
        // SAFETY: ours (type invariant); `&mut self` means no reader is
        // inside `with` or `get` on this value.
        drop(unsafe { Arc::from_raw(*self.ptr.get_mut()) });
    }
}

/// A copy swapped out by [`RcuArc::set`], released by [`release`].
///
/// # Invariants
///
/// `rcu` is the first field; `old` came from `Arc::into_raw` and its
/// reference is owned by this value.
#[repr(C)]
struct Retired<T> {
    rcu: Opaque<bindings::callback_head>,
    old: *const T,
}

/// The RCU callback of a [`Retired`]: drops its reference, then it.
///
/// # Safety
///
/// `head` is the `rcu` field of a `Retired<T>` leaked by [`RcuArc::set`]
/// and handed to `call_rcu` once; a grace period has passed since `old`
/// was swapped out.
unsafe extern "C" fn release<T: Send + Sync + 'static>(head: *mut bindings::callback_head) {
    // SAFETY: `rcu` is the first field of the `#[repr(C)]` value, which
    // came from `KBox::into_raw` (the caller's contract).
    let r = unsafe { KBox::from_raw(head.cast::<Retired<T>>()) };
    // SAFETY: the reference is the value's (type invariant); no reader can
    // hold the pointer after the grace period.
    drop(unsafe { Arc::from_raw(r.old) });
}
