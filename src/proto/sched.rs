// SPDX-License-Identifier: GPL-2.0

//! Schedulers: which back-end gets a connection that no rule placed, in the
//! manner of IPVS's `ip_vs_rr.c`, `ip_vs_wrr.c`, `ip_vs_wlc.c` and
//! `ip_vs_sh.c`. Pure functions over the service's back-ends; the little
//! state they keep (a cursor, current weights) is the caller's, so nothing
//! here allocates. A back-end of weight 0 is drained: never chosen.
//! Every function returns the index of the chosen back-end, `None` when no
//! back-end can take the connection.

use super::service::{Endpoint, Ip};

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

/// FNV-1a's 64-bit offset basis: the seed of a fresh hash.
pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a, 64-bit: a fixed hash, the same on every node and every run.
pub(crate) fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(seed, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The identity of back-end `addr:port` for [`source_hash`]: the same on
/// every node, whatever the order the back-ends were added in.
pub fn endpoint_id(addr: [u8; 4], port: u16) -> u64 {
    (u64::from(u32::from_be_bytes(addr)) << 16) | u64::from(port)
}

/// The id of a back-end of either family: an IPv4 one's is
/// [`endpoint_id`]'s (the choices made before IPv6 stay), an IPv6 one's a
/// hash of its address and port.
pub fn ip_endpoint_id(e: &Endpoint<Ip>) -> u64 {
    match e.addr {
        Ip::V4(a) => endpoint_id(a, e.port),
        Ip::V6(a) => fnv1a(fnv1a(FNV_OFFSET, &a), &e.port.to_be_bytes()),
    }
}

/// `-log2(x / 2^64)` in fixed point with 32 fraction bits, at least 1:
/// the cost `-ln(u)` of weighted rendezvous hashing up to a constant factor,
/// in integers (the kernel has no floating point). Computed by the binary
/// logarithm's square-and-compare, one fraction bit a step.
fn neg_log2_q32(x: u64) -> u64 {
    let x = x.max(1);
    let lz = x.leading_zeros();
    // m / 2^63 is x's mantissa in [1, 2); its log2 is the fraction to find.
    let mut m = u128::from(x << lz);
    let mut frac = 0u64;
    for bit in (0..32).rev() {
        m = (m * m) >> 63;
        if m >= 1 << 64 {
            m >>= 1;
            frac |= 1 << bit;
        }
    }
    // -log2(x / 2^64) = 64 - log2(x) = 1 + lz - log2(m / 2^63).
    ((1 + u64::from(lz)) << 32) - frac
}

/// The pseudo-random draw of `id` (a back-end, a front-end group member)
/// for a key hashed to `k`.
pub(crate) fn draw(k: u64, id: u64) -> u64 {
    let h = fnv1a(k, &id.to_be_bytes());
    // A final avalanche (splitmix64) so that near ids differ widely.
    let mut z = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Source hashing by weighted rendezvous (highest random weight) hashing:
/// each back-end draws `u = hash(key, id)` in (0, 1) and the one with the
/// smallest `-ln(u) / weight` wins, so a back-end gets its weight's share
/// of the keys. The choice depends only on the key and the set of
/// (id, weight): every node with the same back-ends agrees, whatever their
/// order, and when a back-end leaves (or is drained, weight 0) only its
/// keys move; when one joins, only the keys it wins move, to it. `id`
/// should be [`endpoint_id`] of the back-end's address.
pub fn source_hash(backends: &[Backend], key: &[u8]) -> Option<usize> {
    let k = fnv1a(FNV_OFFSET, key);
    let mut best: Option<(usize, u64, &Backend)> = None;
    for (i, b) in backends.iter().enumerate() {
        if b.weight == 0 {
            continue;
        }
        let cost = neg_log2_q32(draw(k, b.id));
        let better = match best {
            None => true,
            Some((_, c, o)) => {
                // cost / weight < c / o.weight, in integers; ties (even
                // the same id twice) to the smaller id, not the position.
                let lhs = u128::from(cost) * u128::from(o.weight);
                let rhs = u128::from(c) * u128::from(b.weight);
                lhs < rhs || (lhs == rhs && b.id < o.id)
            }
        };
        if better {
            best = Some((i, cost, b));
        }
    }
    best.map(|(i, _, _)| i)
}
