// SPDX-License-Identifier: GPL-2.0

//! Removal from a [`KVec`], which the 6.12 kernel crate's vector lacks
//! (it has `push` but no `pop`, `swap_remove` or `clear`); the same
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

/// Drops every element, keeping the allocation.
pub(crate) fn clear<T>(v: &mut KVec<T>) {
    while let Some(last) = v.len().checked_sub(1) {
        drop(swap_remove(v, last));
    }
}
