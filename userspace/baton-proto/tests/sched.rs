// SPDX-License-Identifier: GPL-2.0

//! Schedulers of `src/proto/sched.rs`.

use baton_proto::sched::{
    round_robin, source_hash, weighted_least_conn, weighted_round_robin, Backend,
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
