// SPDX-License-Identifier: GPL-2.0

//! `src/proto/mem.rs`: the kmalloc cache sizes.

use baton_proto::mem::kmalloc_size;

#[test]
fn kmalloc_caches() {
    for (size, cache) in [
        (0, 8),
        (1, 8),
        (8, 8),
        (9, 16),
        (64, 64),
        (65, 96),
        (96, 96),
        (97, 128),
        (129, 192),
        (192, 192),
        (193, 256),
        (257, 512),
        (16 * 1024, 16 * 1024),
        (16 * 1024 + 1, 32 * 1024),
    ] {
        assert_eq!(kmalloc_size(size), cache, "{size}");
    }
}

#[test]
fn never_smaller_and_at_most_double() {
    for size in 1..70_000 {
        let c = kmalloc_size(size);
        assert!(c >= size && c <= 2 * size.max(8), "{size} -> {c}");
    }
}
