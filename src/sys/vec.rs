// SPDX-License-Identifier: GPL-2.0

//! Removal from a [`KVec`], which the 6.12 kernel crate's vector lacks
//! (it has `push` but no `pop`, `swap_remove`, `retain` or `clear`); the same
//! operations as `alloc::vec::Vec`'s, on top of its `set_len`.

use kernel::prelude::*;

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
