// SPDX-License-Identifier: GPL-2.0

//! Schedulers of `src/proto/sched.rs`.

use baton_proto::sched::{
    endpoint_id, round_robin, source_hash, weighted_least_conn, weighted_round_robin, Backend,
};
use proptest::prelude::*;

fn b(id: u64, weight: u32, active: u32) -> Backend {
    Backend { id, weight, active }
}

#[test]
fn round_robin_skips_drained() {
    let set = [b(1, 1, 0), b(2, 0, 0), b(3, 5, 0)];
    let mut cursor = set.len() - 1;
    let picks: Vec<_> = (0..4)
        .map(|_| round_robin(&set, &mut cursor).unwrap())
        .collect();
    assert_eq!(picks, [0, 2, 0, 2]);
    assert_eq!(round_robin(&[b(1, 0, 0)], &mut cursor), None);
    assert_eq!(round_robin(&[], &mut cursor), None);
}

#[test]
fn smooth_wrr_spreads() {
    // nginx's example: weights 5, 1, 1 give a a b a c a a.
    let set = [b(1, 5, 0), b(2, 1, 0), b(3, 1, 0)];
    let mut cur = [0; 3];
    let picks: Vec<_> = (0..7)
        .map(|_| weighted_round_robin(&set, &mut cur).unwrap())
        .collect();
    assert_eq!(picks, [0, 0, 1, 0, 2, 0, 0]);
    assert_eq!(cur, [0, 0, 0], "back to the start after one cycle");
    assert_eq!(
        weighted_round_robin(&set, &mut [0; 2]),
        None,
        "state of the wrong size"
    );
}

#[test]
fn wlc_prefers_spare_capacity() {
    // 10/2 = 5 per weight vs 3/1 = 3: the second.
    assert_eq!(weighted_least_conn(&[b(1, 2, 10), b(2, 1, 3)]), Some(1));
    // Ties go to the first.
    assert_eq!(weighted_least_conn(&[b(1, 2, 4), b(2, 1, 2)]), Some(0));
    assert_eq!(weighted_least_conn(&[b(1, 0, 0)]), None);
}

proptest! {
    #[test]
    fn wrr_is_exactly_proportional(weights in proptest::collection::vec(0u32..6, 1..6)) {
        let set: Vec<_> = weights.iter().enumerate().map(|(i, &w)| b(i as u64, w, 0)).collect();
        let total: u32 = weights.iter().sum();
        let mut cur = vec![0; set.len()];
        let mut counts = vec![0u32; set.len()];
        for _ in 0..total * 3 {
            counts[weighted_round_robin(&set, &mut cur).unwrap()] += 1;
        }
        let want: Vec<u32> = weights.iter().map(|w| w * 3).collect();
        prop_assert_eq!(counts, want);
        if total == 0 {
            prop_assert_eq!(weighted_round_robin(&set, &mut cur), None);
        }
    }

    #[test]
    fn wlc_picks_a_minimum(set in proptest::collection::vec((0u32..4, 0u32..50), 1..8)) {
        let set: Vec<_> = set.iter().enumerate().map(|(i, &(w, a))| b(i as u64, w, a)).collect();
        match weighted_least_conn(&set) {
            None => prop_assert!(set.iter().all(|x| x.weight == 0)),
            Some(i) => {
                let c = set[i];
                prop_assert!(c.weight > 0);
                for x in set.iter().filter(|x| x.weight > 0) {
                    // c.active / c.weight <= x.active / x.weight
                    prop_assert!(u64::from(c.active) * u64::from(x.weight)
                        <= u64::from(x.active) * u64::from(c.weight));
                }
            }
        }
    }

    #[test]
    fn source_hash_is_stable(
        n in 2usize..8,
        gone in any::<prop::sample::Index>(),
        keys in proptest::collection::vec(any::<[u8; 4]>(), 1..50),
    ) {
        let set: Vec<_> = (0..n as u64).map(|i| b(0xc612_0000 + i, 1, 0)).collect();
        let gone = gone.index(n);
        let mut fewer = set.clone();
        fewer[gone].weight = 0;
        for k in &keys {
            let before = source_hash(&set, k).unwrap();
            prop_assert_eq!(source_hash(&set, k), Some(before), "deterministic");
            let after = source_hash(&fewer, k).unwrap();
            // Only the keys of the drained back-end move.
            if before != gone {
                prop_assert_eq!(after, before);
            } else {
                prop_assert_ne!(after, gone);
            }
        }
    }
}

#[test]
fn source_hash_spreads() {
    let set: Vec<_> = (0..4).map(|i| b(0xc612_0000 + i, 1, 0)).collect();
    let mut counts = [0; 4];
    for i in 0..4000u32 {
        counts[source_hash(&set, &i.to_be_bytes()).unwrap()] += 1;
    }
    // Each of 4 back-ends gets roughly a quarter of 4000 keys.
    assert!(
        counts.iter().all(|&c| (800..1200).contains(&c)),
        "{counts:?}"
    );
}

/// Back-end `i` of a test set: 198.18.1.i:80, as a front-end keys it.
fn node(i: u8, weight: u32) -> Backend {
    b(endpoint_id([198, 18, 1, i], 80), weight, 0)
}

/// The id each key of `keys` goes to over `set`.
fn placement(set: &[Backend], keys: u32) -> Vec<u64> {
    (0..keys)
        .map(|k| set[source_hash(set, &k.to_be_bytes()).unwrap()].id)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Two front-ends that list the same back-ends in another order choose
    /// the same back-end for every client.
    #[test]
    fn source_hash_ignores_order(
        weights in proptest::collection::vec(1u32..5, 1..16),
        perm in any::<prop::sample::Index>(),
        keys in proptest::collection::vec(any::<[u8; 4]>(), 1..100),
    ) {
        let set: Vec<_> = weights.iter().enumerate().map(|(i, &w)| node(i as u8, w)).collect();
        let mut other = set.clone();
        other.reverse();
        let n = other.len();
        other.rotate_left(perm.index(n));
        for k in &keys {
            prop_assert_eq!(
                set[source_hash(&set, k).unwrap()].id,
                other[source_hash(&other, k).unwrap()].id
            );
        }
    }

    /// Removing one of N back-ends (any of them, also the first) moves only
    /// its clients, at most 1/N of them plus 5%; adding one back moves only
    /// the clients it takes, as many.
    #[test]
    fn source_hash_remaps_little(n in 2u8..12, gone in any::<prop::sample::Index>()) {
        const KEYS: u32 = 4000;
        let set: Vec<_> = (0..n).map(|i| node(i, 1)).collect();
        let gone = set[gone.index(set.len())].id;
        let fewer: Vec<_> = set.iter().copied().filter(|b| b.id != gone).collect();
        let before = placement(&set, KEYS);
        let after = placement(&fewer, KEYS);
        let mut moved = 0;
        for (a, z) in before.iter().zip(&after) {
            if a != z {
                prop_assert_eq!(*a, gone, "a client of a remaining back-end moved");
                moved += 1;
            }
        }
        let bound = f64::from(KEYS) * (1.0 / f64::from(n) + 0.05);
        prop_assert!(f64::from(moved) <= bound, "{} of {} moved removing 1 of {}", moved, KEYS, n);
        // Back again: exactly the same clients return to it.
        prop_assert_eq!(placement(&set, KEYS), before);
    }
}

#[test]
fn source_hash_honours_weights() {
    const KEYS: u32 = 40_000;
    let set: Vec<_> = (1..=4).map(|i| node(i, u32::from(i))).collect();
    let mut counts = [0u32; 4];
    for id in placement(&set, KEYS) {
        counts[set.iter().position(|b| b.id == id).unwrap()] += 1;
    }
    // Back-end i has weight i of 10: within 2 points of its share.
    for (i, &c) in counts.iter().enumerate() {
        let share = f64::from(c) / f64::from(KEYS);
        let want = (i + 1) as f64 / 10.0;
        assert!((share - want).abs() < 0.02, "{counts:?}");
    }
}

#[test]
fn source_hash_keys_on_address_not_position() {
    // Deleting the first back-end of three must not move the others'
    // clients (a position-keyed hash moved all of them).
    let set: Vec<_> = (0..3).map(|i| node(i, 1)).collect();
    let before = placement(&set, 3000);
    let after = placement(&set[1..], 3000);
    for (a, z) in before.iter().zip(&after) {
        if *a != set[0].id {
            assert_eq!(a, z);
        }
    }
    assert_ne!(
        endpoint_id([198, 18, 1, 1], 80),
        endpoint_id([198, 18, 1, 1], 81)
    );
}
