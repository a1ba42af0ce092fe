// SPDX-License-Identifier: GPL-2.0

//! Per-CPU memory, and counters kept in it the way the kernel keeps its
//! SNMP and netfilter statistics: each CPU bumps its own copy, so the packet
//! path writes no cache line that another CPU writes too, and a reader sums
//! the copies of all possible CPUs.
//!
//! C header: [`include/linux/percpu.h`].
//!
//! The memory is the kernel's own per-CPU memory (`__alloc_percpu`,
//! `free_percpu`): every possible CPU has a copy in its own per-CPU unit,
//! so two CPUs' copies never share a cache line and need no padding. The
//! current CPU's copy is found with `raw_cpu_ptr` and CPU n's with
//! `per_cpu_ptr`, through C forwarders of these macros (on x86_64 SMP one
//! `%gs`-relative load of `this_cpu_off` and an add, or an add of
//! `__per_cpu_offset[n]`). Reading `__per_cpu_offset` and the current
//! task's `thread_info.cpu` from Rust would save a call, but would tie this
//! file to x86_64 SMP, `THREAD_INFO_IN_TASK` and the layout of
//! `task_struct`.
//!
//! A thread may move to another CPU between finding "its" copy and bumping
//! it, and a softirq may interrupt a bump on the same CPU: copies are
//! bumped with atomic adds, so either only costs a shared cache line for
//! once, never a lost count. A sum is exact for every bump that completed
//! before it began.
//!
//! [`include/linux/percpu.h`]: srctree/include/linux/percpu.h

use super::bindings;
use core::{
    ffi::{c_int, c_void},
    marker::PhantomData,
    ptr::NonNull,
    sync::atomic::{AtomicU64, Ordering},
};
use kernel::{page::PAGE_SIZE, prelude::*};

/// Largest per-CPU allocation (`PCPU_MIN_UNIT_SIZE`).
const MAX_SIZE: usize = 32 << 10;

/// A type that per-CPU memory can hold, shared by all CPUs.
///
/// # Safety
///
/// All-zero bytes are a valid value of the type: the per-CPU allocator
/// hands out zeroed memory, which [`PerCpu::new`] takes as one value per
/// CPU without writing it.
pub(crate) unsafe trait Slot: Send + Sync {}

// SAFETY: all-zero bytes are `N` atomics holding 0.
unsafe impl<const N: usize> Slot for [AtomicU64; N] {}

/// One `T` for each possible CPU, in per-CPU memory.
///
/// # Invariants
///
/// `ptr` is a per-CPU address that `__alloc_percpu` returned for the size
/// and alignment of `T` and that is freed only by `drop`; the copy of each
/// possible CPU holds a valid `T`, used only through shared references
/// until `drop` drops it.
pub(crate) struct PerCpu<T: Slot> {
    ptr: NonNull<c_void>,
    _owns: PhantomData<T>,
}

// SAFETY: the copies are `Send` and `Sync` (`Slot`): they may be used and
// dropped from any task and CPU; the per-CPU address itself is plain data.
unsafe impl<T: Slot> Send for PerCpu<T> {}
// SAFETY: as above; `&PerCpu` hands out only shared references to `Sync`
// copies.
unsafe impl<T: Slot> Sync for PerCpu<T> {}

impl<T: Slot> PerCpu<T> {
    /// A `T` of all zeroes for each possible CPU: `ENOMEM` if per-CPU
    /// memory runs out, `EINVAL` if `T` is empty or larger than a per-CPU
    /// allocation may be. Process context (may sleep).
    pub(crate) fn new() -> Result<Self> {
        let size = core::mem::size_of::<T>();
        let align = core::mem::align_of::<T>();
        // The allocator warns and fails on these.
        if size == 0 || size > MAX_SIZE || align > PAGE_SIZE {
            return Err(EINVAL);
        }
        // SAFETY: a size and a power-of-two alignment it accepts (checked
        // above); process context (the caller's contract).
        let ptr = unsafe { bindings::baton_alloc_percpu(size, align) };
        let ptr = NonNull::new(ptr).ok_or(ENOMEM)?;
        // INVARIANT: a fresh allocation for `T`, zeroed by the allocator for
        // every possible CPU, which is a valid `T` (`Slot`).
        Ok(Self {
            ptr,
            _owns: PhantomData,
        })
    }

    /// The copy of the CPU this runs on, or of the one it ran on a moment
    /// ago should the task have moved: any copy may be used from any CPU,
    /// this one is merely most likely in this CPU's cache. Any context.
    pub(crate) fn local(&self) -> &T {
        // SAFETY: `ptr` is a live per-CPU allocation (type invariant);
        // `raw_cpu_ptr` only adds the current CPU's offset to it, and needs
        // no disabled preemption.
        let p = unsafe { bindings::baton_raw_cpu_ptr(self.ptr.as_ptr()) };
        // SAFETY: the address of a possible CPU's copy, which holds a valid
        // `T` until `drop` (type invariant); `T: Sync`, so sharing it with
        // other CPUs is sound.
        unsafe { &*p.cast::<T>() }
    }

    /// The copy of possible CPU `cpu`.
    fn copy(&self, cpu: c_int) -> *mut T {
        // SAFETY: `ptr` is a live per-CPU allocation (type invariant) and
        // `cpu` a possible CPU (the caller has it from `possible_cpus`).
        unsafe { bindings::baton_per_cpu_ptr(self.ptr.as_ptr(), cpu) }.cast()
    }

    /// The copies of all possible CPUs (online or not: a CPU that went
    /// offline keeps its copy). Any context.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        possible_cpus().map(|cpu| {
            // SAFETY: the copy of a possible CPU holds a valid `T` until
            // `drop` (type invariant); `T: Sync`.
            unsafe { &*self.copy(cpu) }
        })
    }
}

impl<T: Slot> Drop for PerCpu<T> {
    fn drop(&mut self) {
        for cpu in possible_cpus() {
            // SAFETY: each possible CPU's copy holds a valid `T` (type
            // invariant), dropped once, here; `&mut self` means no
            // reference to it is left.
            unsafe { core::ptr::drop_in_place(self.copy(cpu)) };
        }
        // SAFETY: allocated by `__alloc_percpu` (type invariant) and freed
        // only here.
        unsafe { bindings::free_percpu(self.ptr.as_ptr()) };
    }
}

/// The possible CPUs, in order: every CPU that is or may come online. The
/// set is fixed at boot.
fn possible_cpus() -> impl Iterator<Item = c_int> {
    let mut cpu: c_int = -1;
    core::iter::from_fn(move || {
        // SAFETY: reads `cpu_possible_mask`, which does not change after
        // boot; `cpu` is -1 or a possible CPU, as the function accepts.
        let next = unsafe { bindings::baton_next_possible_cpu(cpu) };
        if next < 0 {
            return None;
        }
        cpu = next;
        Some(next)
    })
}

/// `N` counters of `u64`, one copy of each per CPU: bumped from any context
/// without a lock or a cache line shared with other CPUs, read as the sum of
/// all CPUs' copies (wrapping at 2^64).
pub(crate) struct Counters<const N: usize> {
    cpus: PerCpu<[AtomicU64; N]>,
}

impl<const N: usize> Counters<N> {
    /// `N` counters at 0: `ENOMEM` if per-CPU memory runs out. Process
    /// context (may sleep).
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            cpus: PerCpu::new()?,
        })
    }

    /// Adds `n` to counter `i` (nothing if `i >= N`). Any context; never
    /// sleeps or waits.
    pub(crate) fn add(&self, i: usize, n: u64) {
        if let Some(c) = self.cpus.local().get(i) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Adds 1 to counter `i` (nothing if `i >= N`).
    pub(crate) fn inc(&self, i: usize) {
        self.add(i, 1);
    }

    /// Counter `i` (0 if `i >= N`): the sum of every possible CPU's copy.
    /// Any context.
    pub(crate) fn sum(&self, i: usize) -> u64 {
        self.cpus
            .iter()
            .filter_map(|c| c.get(i))
            .fold(0, |s, c| s.wrapping_add(c.load(Ordering::Relaxed)))
    }
}
