// SPDX-License-Identifier: GPL-2.0

//! The Internet checksum of IPv4, TCP and UDP (RFC 1071) and its incremental
//! update (RFC 1624), for rewriting fields of packets in place.
//!
//! The checksum is the ones' complement of the ones' complement sum of the
//! 16-bit words of the data. A *sum* here is a partial ones' complement sum
//! held in a `u32`: carries out of bit 15 are kept in the upper half and only
//! folded back in by [`fold`], so sums of several pieces can be chained
//! through the `initial` argument of [`sum`].
//!
//! Words are read big-endian (network byte order), and the 16-bit and 32-bit
//! values given to [`update16`] and [`update32`] are the fields as read with
//! `u16::from_be_bytes` and `u32::from_be_bytes`. The checksum itself is
//! stored big-endian in the packet. (The ones' complement sum does not depend
//! on byte order, RFC 1071 section 2 (B), so the functions also work with
//! native-endian words as long as every value uses the same order.)
//!
//! A packet is correct when [`fold`] of the [`sum`] over all of it, checksum
//! field included, is `0xffff`. Zero has two representations in ones'
//! complement, `0x0000` and `0xffff`: a checksum from scratch is `0xffff`
//! only when all the data it covers is zero, where the incremental update of
//! RFC 1624 equation 3 gives `0x0000`, which does not verify. No IP, TCP or
//! UDP checksum covers all-zero data (protocol numbers and lengths are not
//! zero); in every other case the update, applied to a checksum from scratch
//! or from earlier updates, gives exactly the checksum from scratch. UDP
//! gives `0x0000` the meaning "no checksum" (RFC 768): callers that rewrite
//! UDP leave such a checksum alone and store a result of `0x0000` as
//! `0xffff`.

/// Adds the big-endian 16-bit words of `data` to the partial sum `initial`
/// and returns the new partial sum.
///
/// An odd last byte is taken as the high byte of a word whose low byte is
/// zero, as RFC 1071 prescribes, so only the last piece of a chained sum may
/// have an odd length.
pub fn sum(data: &[u8], initial: u32) -> u32 {
    let mut words = data.chunks_exact(2);
    let mut acc = u64::from(initial);
    for word in &mut words {
        acc += u64::from(u16::from_be_bytes([word[0], word[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(u16::from_be_bytes([*last, 0]));
    }
    // 2^32 = 1 (mod 0xffff): adding the high half to the low half keeps the
    // ones' complement sum. Twice is enough to clear the high half.
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    acc as u32
}

/// Folds the carries of the partial sum `sum` back into 16 bits (end-around
/// carry), without complementing it.
///
/// The result is `0x0000` only when `sum` is 0; any other multiple of
/// `0xffff` folds to `0xffff`.
pub fn fold(sum: u32) -> u16 {
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = (sum & 0xffff) + (sum >> 16);
    sum as u16
}

/// The Internet checksum of `data`: the complement of its folded sum, the
/// value to store in a checksum field that was zero while summing.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data, 0))
}

/// Returns the checksum `check` updated for a 16-bit word of the covered
/// data that changes from `old` to `new` (RFC 1624, equation 3:
/// `HC' = ~(~HC + ~m + m')`).
pub fn update16(check: u16, old: u16, new: u16) -> u16 {
    let acc = u32::from(!check) + u32::from(!old) + u32::from(new);
    !fold(acc)
}

/// Returns the checksum `check` updated for a 32-bit field of the covered
/// data, aligned on a 16-bit word, that changes from `old` to `new` (an IPv4
/// address, a TCP sequence number): RFC 1624 equation 3 applied to both of
/// its words at once.
pub fn update32(check: u16, old: u32, new: u32) -> u16 {
    let [o0, o1, o2, o3] = old.to_be_bytes();
    let [n0, n1, n2, n3] = new.to_be_bytes();
    let acc = u32::from(!check)
        + u32::from(!u16::from_be_bytes([o0, o1]))
        + u32::from(!u16::from_be_bytes([o2, o3]))
        + u32::from(u16::from_be_bytes([n0, n1]))
        + u32::from(u16::from_be_bytes([n2, n3]));
    !fold(acc)
}
