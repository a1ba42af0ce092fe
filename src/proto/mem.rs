// SPDX-License-Identifier: GPL-2.0

//! Memory accounting: what an allocation of a given size really takes.

/// The size of the `kmalloc` cache that serves a request of `size` bytes
/// with SLUB's default caches (8, 16, 32, 64, 96, 128, 192, 256, then
/// powers of two), which is what the allocation occupies.
pub const fn kmalloc_size(size: usize) -> usize {
    match size {
        0..=8 => 8,
        9..=16 => 16,
        17..=32 => 32,
        33..=64 => 64,
        65..=96 => 96,
        97..=128 => 128,
        129..=192 => 192,
        _ => size.next_power_of_two(),
    }
}
