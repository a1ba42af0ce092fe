// SPDX-License-Identifier: GPL-2.0

//! Schedulers: which back-end gets a connection that no rule placed, in the
//! manner of IPVS's `ip_vs_rr.c`, `ip_vs_wrr.c`, `ip_vs_wlc.c` and
//! `ip_vs_sh.c`. Pure functions over the service's back-ends; the little
//! state they keep (a cursor, current weights) is the caller's, so nothing
//! here allocates. A back-end of weight 0 is drained: never chosen.
//! Every function returns the index of the chosen back-end, `None` when no
//! back-end can take the connection.

/// What a scheduler knows of a back-end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backend {
    /// A stable identity (e.g. address and port), for source hashing.
    pub id: u64,
    /// Relative capacity; 0 = drained.
    pub weight: u32,
    /// Connections it serves now.
    pub active: u32,
}

/// Round robin over the back-ends with a weight: the first eligible one
/// after `cursor` (the index chosen last time, updated).
pub fn round_robin(backends: &[Backend], cursor: &mut usize) -> Option<usize> {
    let n = backends.len();
    // Wrapping arithmetic and `checked_rem`: no panic path, not even for
    // an empty list or a cursor at usize::MAX.
    (1..n.saturating_add(1))
        .filter_map(|step| cursor.wrapping_add(step).checked_rem(n))
        .find(|&i| backends.get(i).is_some_and(|b| b.weight > 0))
        .inspect(|&i| *cursor = i)
}

/// Smooth weighted round robin (the algorithm of nginx): every back-end's
/// current weight grows by its weight, the largest is chosen and loses the
/// total. Over any `sum(weights)` consecutive picks each back-end is chosen
/// exactly `weight` times, spread evenly rather than in bursts (IPVS's
/// `wrr` gives the same proportions in bursts). `current` has one entry per
/// back-end, starting at 0; a caller whose back-ends change resets it.
pub fn weighted_round_robin(backends: &[Backend], current: &mut [i64]) -> Option<usize> {
    if current.len() != backends.len() {
        return None;
    }
    let mut total = 0i64;
    let mut best: Option<usize> = None;
    for (i, b) in backends.iter().enumerate() {
        if b.weight == 0 {
            continue;
        }
        let cur = current.get_mut(i)?;
        *cur += i64::from(b.weight);
        total += i64::from(b.weight);
        // Strictly larger: ties go to the lower index.
        let better = match best {
            Some(j) => current.get(j) < current.get(i),
            None => true,
        };
        if better {
            best = Some(i);
        }
    }
    let best = best?;
    *current.get_mut(best)? -= total;
    Some(best)
}

/// Weighted least connections (IPVS `wlc`): the back-end with the fewest
/// active connections per unit of weight, ties to the first. Compares
/// `active_a * weight_b < active_b * weight_a` in 64 bits, no division.
pub fn weighted_least_conn(backends: &[Backend]) -> Option<usize> {
    let mut best: Option<(usize, &Backend)> = None;
    for (i, b) in backends.iter().enumerate() {
        if b.weight == 0 {
            continue;
        }
        let better = match best {
            None => true,
            Some((_, c)) => {
                u64::from(b.active) * u64::from(c.weight)
                    < u64::from(c.active) * u64::from(b.weight)
            }
        };
        if better {
            best = Some((i, b));
        }
    }
    best.map(|(i, _)| i)
}

/// FNV-1a, 64-bit: a fixed hash, the same on every node and every run.
fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(seed, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Source hashing by rendezvous (highest random weight) hashing: the
/// back-end whose `hash(key, id)` is largest. The same `key` (the client's
/// address) goes to the same back-end while the set is unchanged, and when a
/// back-end leaves only the keys it had move. Weights only decide
/// eligibility here (0 = drained).
pub fn source_hash(backends: &[Backend], key: &[u8]) -> Option<usize> {
    let k = fnv1a(0xcbf2_9ce4_8422_2325, key);
    backends
        .iter()
        .enumerate()
        .filter(|(_, b)| b.weight > 0)
        .max_by_key(|(_, b)| {
            // Mix the key's hash with the back-end's id.
            let h = fnv1a(k, &b.id.to_be_bytes());
            // A final avalanche (splitmix64) so that near ids differ widely.
            let mut z = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        })
        .map(|(i, _)| i)
}
