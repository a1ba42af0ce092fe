// SPDX-License-Identifier: GPL-2.0

//! Kernel threads, time and rate limiting.
//!
//! C headers: [`include/linux/kthread.h`], [`include/linux/delay.h`].
//!
//! A [`Thread`] runs a function on shared data in a kernel thread. Dropping
//! the [`Thread`] stops it (`kthread_stop`) and waits until the function
//! returned, so the function may borrow the data for its whole run.
//!
//! [`include/linux/kthread.h`]: srctree/include/linux/kthread.h
//! [`include/linux/delay.h`]: srctree/include/linux/delay.h

use super::bindings;
use core::{
    ffi::{c_int, c_void, CStr},
    marker::PhantomData,
    ptr::NonNull,
};
use kernel::{prelude::*, sync::Arc, task::Task, types::ARef};

/// A running kernel thread.
///
/// # Invariants
///
/// `task` is a kthread created by `baton_kthread_run` with a task reference
/// held by us (released in `Drop` after `kthread_stop`), running
/// `thread_fn::<T>` with a pointer to `*data` and `func`.
pub(crate) struct Thread<T: Send + Sync + 'static> {
    task: NonNull<bindings::task_struct>,
    // Boxed so that the address given to the thread stays put.
    start: KBox<Start<T>>,
}

struct Start<T> {
    data: Arc<T>,
    func: fn(&T, &Stop),
}

/// Proof that the code holding it runs as the body of a [`Thread`]: only
/// such a thread may ask whether it is to stop (`kthread_should_stop`
/// reads the current task's kthread data, which other tasks lack).
///
/// # Invariants
///
/// Made only by `thread_fn` and lent to the body for its run; neither
/// `Send` nor `Sync`, so a reference to it never reaches another task.
pub(crate) struct Stop {
    _not_send: PhantomData<*const ()>,
}

impl Stop {
    /// Whether this thread has been asked to stop (its [`Thread`] dropped).
    pub(crate) fn requested(&self) -> bool {
        // SAFETY: `self` exists only in the body of a kthread started by
        // `Thread::spawn` (type invariant): the current task is that kthread.
        unsafe { bindings::kthread_should_stop() }
    }
}

// SAFETY: the handle only holds the task reference and the shared data,
// which is `Send + Sync`; stopping a kthread may be done from any thread.
unsafe impl<T: Send + Sync> Send for Thread<T> {}
// SAFETY: `&Thread` gives no access to anything.
unsafe impl<T: Send + Sync> Sync for Thread<T> {}

impl<T: Send + Sync + 'static> Thread<T> {
    /// Starts `func(&data, stop)` in a new kernel thread named `name`;
    /// `stop` tells the body when the [`Thread`] is dropped.
    pub(crate) fn spawn(name: &CStr, data: Arc<T>, func: fn(&T, &Stop)) -> Result<Self> {
        let start = KBox::new(Start { data, func }, GFP_KERNEL)?;
        let arg = (&*start as *const Start<T>).cast_mut().cast::<c_void>();
        // SAFETY: `thread_fn::<T>` matches `int (*)(void *)`; `arg` points to
        // `start`, which lives (boxed, unmoved) until `Drop` has stopped the
        // thread; `name` is NUL-terminated.
        let task = unsafe { bindings::baton_kthread_run(Some(thread_fn::<T>), arg, name.as_ptr()) };
        // `kthread_create` returns an ERR_PTR on failure.
        let raw = task as isize;
        if (-4095..0).contains(&raw) {
            return Err(Error::from_errno(raw as c_int));
        }
        // INVARIANT: created and referenced by `baton_kthread_run`.
        Ok(Self {
            task: NonNull::new(task).ok_or(ENOMEM)?,
            start,
        })
    }

    /// The data the thread works on.
    pub(crate) fn data(&self) -> &Arc<T> {
        &self.start.data
    }
}

impl<T: Send + Sync + 'static> Drop for Thread<T> {
    fn drop(&mut self) {
        // SAFETY: `task` is our referenced kthread (type invariant);
        // `kthread_stop` wakes it, waits until `thread_fn` returned (or
        // never runs it), and the reference keeps the task valid throughout.
        unsafe {
            bindings::kthread_stop(self.task.as_ptr());
            bindings::baton_put_task_struct(self.task.as_ptr());
        }
    }
}

/// The body of every [`Thread`].
///
/// # Safety
///
/// `arg` points to the `Start<T>` of a live [`Thread<T>`].
unsafe extern "C" fn thread_fn<T: Send + Sync + 'static>(arg: *mut c_void) -> c_int {
    // SAFETY: the `Thread` keeps `Start<T>` alive until this returns.
    let start = unsafe { &*arg.cast_const().cast::<Start<T>>() };
    // INVARIANT: made here, in the kthread, and only lent to its body.
    let stop = Stop {
        _not_send: PhantomData,
    };
    (start.func)(&start.data, &stop);
    0
}

/// The calling task, counted: another thread can wake it
/// ([`Task::wake_up`]) from a sleep it entered through a wait queue, which
/// then returns as after a spurious wakeup.
pub(crate) fn current_task() -> ARef<Task> {
    ARef::from(&*kernel::current!())
}

/// Sleeps for `ms` milliseconds, or less if the thread is asked to stop
/// (`kthread_stop` sets `TIF_NOTIFY_SIGNAL`, which ends
/// `msleep_interruptible`).
pub(crate) fn sleep_ms(ms: u32) {
    // SAFETY: sleeping is allowed in the thread context this is used from.
    unsafe { bindings::msleep_interruptible(ms) };
}

/// Sleeps between `min_us` and `max_us` microseconds (`usleep_range`: a
/// high-resolution timer where the kernel has them, else the next tick).
pub(crate) fn sleep_us(min_us: u32, max_us: u32) {
    // SAFETY: sleeping is allowed in the thread context this is used from.
    unsafe { bindings::baton_usleep_range(min_us.into(), max_us.max(min_us).into()) };
}

/// Milliseconds since boot (monotonic, counts suspend).
pub(crate) fn now_ms() -> u64 {
    // SAFETY: reads the clock.
    unsafe { bindings::baton_now_ms() }
}

/// The networking rate limit for log messages (`net_ratelimit`).
pub(crate) fn net_ratelimit() -> bool {
    // SAFETY: no requirements.
    unsafe { bindings::net_ratelimit() != 0 }
}

/// A random number (`get_random_u32`), e.g. a hash seed.
pub(crate) fn random_u32() -> u32 {
    // SAFETY: callable from any context once the RNG is up (module load
    // happens long after).
    unsafe { bindings::get_random_u32() }
}
