// SPDX-License-Identifier: GPL-2.0

//! A spinlock that also disables bottom halves while held
//! (`spin_lock_bh`), for data shared between process context and the
//! netfilter hooks, which run in softirq context: with a plain spinlock a
//! hook interrupting a holder on the same CPU would deadlock. A backend for
//! the kernel crate's generic [`Lock`], like its `SpinLock`.

use super::bindings;
use kernel::sync::lock::{Backend, Lock};

/// A [`Lock`] whose holder runs with bottom halves disabled.
pub(crate) type BhSpinLock<T> = Lock<T, BhSpinLockBackend>;

/// Creates a [`BhSpinLock`] initialiser with a static lock class.
macro_rules! new_bh_spinlock {
    ($inner:expr, $name:literal $(,)?) => {
        $crate::sys::bhlock::BhSpinLock::new(
            $inner,
            ::kernel::c_str!($name),
            ::kernel::static_lock_class!(),
        )
    };
}
pub(crate) use new_bh_spinlock;

/// The backend of [`BhSpinLock`].
pub(crate) struct BhSpinLockBackend;

// SAFETY: `lock` and `unlock` take and release the spinlock that `init`
// initialised, so only one guard exists at a time; bottom halves stay
// disabled in between.
unsafe impl Backend for BhSpinLockBackend {
    type State = kernel::bindings::spinlock_t;
    type GuardState = ();

    unsafe fn init(
        ptr: *mut Self::State,
        name: *const kernel::ffi::c_char,
        key: *mut kernel::bindings::lock_class_key,
    ) {
        // SAFETY: the caller passes valid memory for a spinlock, a static
        // name and a static lock class key.
        unsafe { kernel::bindings::__spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: the caller passes a spinlock that `init` initialised.
        unsafe { bindings::baton_spin_lock_bh(ptr.cast()) }
    }

    unsafe fn unlock(ptr: *mut Self::State, _guard_state: &Self::GuardState) {
        // SAFETY: the caller holds the lock, taken by `lock`.
        unsafe { bindings::baton_spin_unlock_bh(ptr.cast()) }
    }
}
