// SPDX-License-Identifier: GPL-2.0

//! Removal from a [`KVec`], which the 6.12 kernel crate's vector lacks
//! (it has `push` but no `pop`, `swap_remove`, `retain` or `clear`); the same
//! operations as `alloc::vec::Vec`'s, on top of its `set_len`. And buffers
//! filled in one `memset` or `memcpy`: `KVec::from_elem`, `extend_with`
//! and `extend_from_slice` write one element at a time, which made zeroing
//! a 16 KiB request buffer the front-end's costliest function per
//! connection.

use kernel::{
    alloc::{flags::__GFP_ZERO, AllocError, Flags},
    prelude::*,
};

/// `n` zero bytes, zeroed by the allocator (`__GFP_ZERO`: one `memset`).
pub(crate) fn zeroed(n: usize, flags: Flags) -> Result<KVec<u8>, AllocError> {
    let mut v = KVec::with_capacity(n, flags | __GFP_ZERO)?;
    // SAFETY: the allocation just made holds at least `n` bytes, all zeroed
    // by the allocator, and zero is a valid `u8`.
    unsafe { v.set_len(n) };
    Ok(v)
}

/// A copy of `src` in one `memcpy` (`KVec::extend_from_slice` clones one
/// element at a time).
pub(crate) fn copied<T: Copy>(src: &[T], flags: Flags) -> Result<KVec<T>, AllocError> {
    let mut v = KVec::with_capacity(src.len(), flags)?;
    // SAFETY: the new vector has room for `src.len()` elements and is not
    // `src`'s memory; `T: Copy`, so a bitwise copy is a valid value.
    unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), v.as_mut_ptr(), src.len()) };
    // SAFETY: the first `src.len()` elements were just initialised, within
    // the capacity.
    unsafe { v.set_len(src.len()) };
    Ok(v)
}

/// Grows `v` to `n` bytes, the new ones zero (a new zeroed buffer that the
/// old bytes are copied into); nothing if it is that long already.
pub(crate) fn grow_zeroed(v: &mut KVec<u8>, n: usize, flags: Flags) -> Result<(), AllocError> {
    if v.len() >= n {
        return Ok(());
    }
    let mut grown = zeroed(n, flags)?;
    grown[..v.len()].copy_from_slice(v);
    *v = grown;
    Ok(())
}

/// Removes and returns element `i`, moving the last element into its
/// place; `None` if `i` is out of bounds.
pub(crate) fn swap_remove<T>(v: &mut KVec<T>, i: usize) -> Option<T> {
    let last = v.len().checked_sub(1)?;
    if i > last {
        return None;
    }
    v.as_mut_slice().swap(i, last);
    // SAFETY: `last < len`, so the element there is initialised; the
    // length shrinks right after, so it is never read or dropped again
    // through the vector.
    let item = unsafe { core::ptr::read(v.as_ptr().add(last)) };
    // SAFETY: `last < len`: the new length only drops the element read out
    // above, and the ones before it stay initialised.
    unsafe { v.set_len(last) };
    Some(item)
}

/// Moves the elements that `pick` chooses from `v` to the end of `out`,
/// keeping the order of both, in one pass. `out` must have room for all of
/// `v` without allocating; else nothing moves and it returns `false`.
pub(crate) fn extract<T>(
    v: &mut KVec<T>,
    mut pick: impl FnMut(&T) -> bool,
    out: &mut KVec<T>,
) -> bool {
    let len = v.len();
    if out.capacity() - out.len() < len {
        return false;
    }
    let base = v.as_mut_ptr();
    // SAFETY: while the elements move, the vector claims none: should
    // `pick` panic, they leak rather than drop twice.
    unsafe { v.set_len(0) };
    let mut kept = 0;
    for i in 0..len {
        // SAFETY: `i < len`: element `i` is initialised and not yet moved.
        let at = unsafe { base.add(i) };
        // SAFETY: as above; only read through this shared reference.
        if pick(unsafe { &*at }) {
            // SAFETY: element `i` is moved out once and never used again
            // through `v` (its slot is overwritten or beyond the new
            // length).
            let item = unsafe { core::ptr::read(at) };
            // Within the room checked above: no allocation, cannot fail.
            let _ = out.push(item, GFP_ATOMIC);
        } else {
            if kept != i {
                // SAFETY: `kept < i < len`: slot `kept` was moved out (or
                // moved down) before, so this fills it without overlap.
                unsafe { core::ptr::copy_nonoverlapping(at, base.add(kept), 1) };
            }
            kept += 1;
        }
    }
    // SAFETY: slots `0..kept` hold the kept elements, in order.
    unsafe { v.set_len(kept) };
    true
}

/// Drops every element, keeping the allocation.
pub(crate) fn clear<T>(v: &mut KVec<T>) {
    while let Some(last) = v.len().checked_sub(1) {
        drop(swap_remove(v, last));
    }
}

/// Empties `v` at once, keeping the allocation: its elements have no
/// destructor to run.
pub(crate) fn clear_copy<T: Copy>(v: &mut KVec<T>) {
    // SAFETY: 0 is within the capacity and uncovers no uninitialized
    // element; `T: Copy` elements need no drop.
    unsafe { v.set_len(0) };
}
