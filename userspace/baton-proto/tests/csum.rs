// SPDX-License-Identifier: GPL-2.0

//! The Internet checksum helpers (`baton_proto::csum`): known vectors from
//! RFC 1071 and RFC 1624, and properties of the incremental update against a
//! recomputation from scratch.

use baton_proto::csum::{checksum, fold, sum, update16, update32};
use proptest::{prelude::*, sample::Index};

/// The 16-bit word at word index `i` of `buf` (big-endian).
fn word(buf: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([buf[2 * i], buf[2 * i + 1]])
}

fn set_word(buf: &mut [u8], i: usize, value: u16) {
    buf[2 * i..2 * i + 2].copy_from_slice(&value.to_be_bytes());
}

/// The 32-bit field starting at word index `i` of `buf` (big-endian).
fn dword(buf: &[u8], i: usize) -> u32 {
    u32::from_be_bytes(buf[2 * i..2 * i + 4].try_into().unwrap())
}

fn set_dword(buf: &mut [u8], i: usize, value: u32) {
    buf[2 * i..2 * i + 4].copy_from_slice(&value.to_be_bytes());
}

/// Whether a packet checksum field included verifies: its folded sum is
/// `0xffff` (ones' complement -0).
fn verifies(packet: &[u8]) -> bool {
    fold(sum(packet, 0)) == 0xffff
}

/// Computes the checksum of `packet` from scratch into the field at word
/// index `c` and returns it.
fn recompute(packet: &mut [u8], c: usize) -> u16 {
    set_word(packet, c, 0);
    let check = checksum(packet);
    set_word(packet, c, check);
    check
}

/// Whether all words but the checksum field at `c` are zero: the one packet
/// whose from-scratch checksum is `0xffff`, which RFC 1624 equation 3 can
/// only give as `0x0000` (no real IP, TCP or UDP header is all zero).
fn all_zero_but(packet: &[u8], c: usize) -> bool {
    (0..packet.len() / 2).all(|i| i == c || word(packet, i) == 0)
}

/// Checks an incrementally updated checksum against the recomputation.
fn check_update(mut packet: Vec<u8>, c: usize, incremental: u16) -> Result<(), TestCaseError> {
    let full = recompute(&mut packet, c);
    if all_zero_but(&packet, c) {
        prop_assert_eq!(full, 0xffff);
        prop_assert_eq!(incremental, 0x0000);
    } else {
        set_word(&mut packet, c, incremental);
        prop_assert!(verifies(&packet), "{incremental:#06x} does not verify");
        prop_assert_eq!(incremental, full);
    }
    Ok(())
}

#[test]
fn rfc1071_example() {
    // RFC 1071, section 3: the sum of 0001 f203 f4f5 f6f7 is 2ddf0, folded ddf2.
    let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
    assert_eq!(sum(&data, 0), 0x2ddf0);
    assert_eq!(fold(sum(&data, 0)), 0xddf2);
    assert_eq!(checksum(&data), !0xddf2);
}

#[test]
fn ipv4_header() {
    // A real IPv4 header (192.168.0.1 -> 192.168.0.199, UDP), checksum b861.
    let mut header = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];
    assert!(verifies(&header));
    assert_eq!(recompute(&mut header, 5), 0xb861);

    // NAT: rewrite the destination address, update incrementally.
    let old = dword(&header, 8);
    let new = u32::from_be_bytes([10, 0, 0, 42]);
    set_dword(&mut header, 8, new);
    let check = update32(0xb861, old, new);
    set_word(&mut header, 5, check);
    assert!(verifies(&header));
    assert_eq!(check, recompute(&mut header, 5));
}

#[test]
fn rfc1624_example() {
    // RFC 1624, section 4: m = 5555 becomes m' = 3285 where the other octets
    // sum to cd7a. Equation 3 gives 0000; equation 2 would give ffff.
    let hc = !fold(0xcd7a + 0x5555);
    assert_eq!(hc, 0xdd2f);
    assert_eq!(update16(hc, 0x5555, 0x3285), 0x0000);
    assert_eq!(!fold(0xcd7a + 0x3285), 0x0000);
}

#[test]
fn odd_length_pads_with_a_zero_byte() {
    assert_eq!(sum(&[0xab], 0), 0xab00);
    assert_eq!(sum(&[0x12, 0x34, 0xab], 0), 0x1234 + 0xab00);
    assert_eq!(sum(&[], 7), 7);
}

#[test]
fn fold_keeps_zero_and_folds_multiples_of_ffff_to_ffff() {
    assert_eq!(fold(0), 0);
    assert_eq!(fold(0xffff), 0xffff);
    assert_eq!(fold(0x1fffe), 0xffff);
    assert_eq!(fold(0xffff_ffff), 0xffff);
    assert_eq!(fold(0x1_0000), 1);
}

#[test]
fn sum_does_not_overflow() {
    let data = vec![0xff; 1 << 17];
    let s = sum(&data, u32::MAX);
    // Every word is ffff (-0), and u32::MAX folds to ffff as well.
    assert_eq!(fold(s), 0xffff);
}

#[test]
fn update_of_an_unchanged_field_keeps_the_checksum() {
    for check in [0x0000, 0x1234, 0xfffe] {
        assert_eq!(update16(check, 0xabcd, 0xabcd), check);
        assert_eq!(update32(check, 0xdead_beef, 0xdead_beef), check);
    }
}

#[test]
fn all_zero_packet_is_the_one_ambiguous_case() {
    // Data 0001 with checksum fffe; the word becomes 0000. From scratch the
    // checksum is ffff, incrementally 0000: the same value in ones'
    // complement, but only ffff verifies.
    let mut packet = vec![0x00, 0x01, 0x00, 0x00];
    assert_eq!(recompute(&mut packet, 1), 0xfffe);
    set_word(&mut packet, 0, 0);
    assert_eq!(update16(0xfffe, 1, 0), 0x0000);
    assert_eq!(recompute(&mut packet, 1), 0xffff);
}

/// A packet of `words` 16-bit words with room for a checksum field.
fn packet(words: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Vec<u8>> {
    words.prop_flat_map(|n| proptest::collection::vec(any::<u8>(), 2 * n))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// The folded sum equals the sum of the words modulo 0xffff.
    #[test]
    fn sum_matches_modular_arithmetic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let reference: u64 = data
            .chunks(2)
            .map(|w| u64::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
            .sum();
        prop_assert_eq!(u64::from(fold(sum(&data, 0))) % 0xffff, reference % 0xffff);
    }

    /// A sum may be chained over pieces of even length.
    #[test]
    fn sum_chains(
        a in proptest::collection::vec(any::<u16>(), 0..64),
        b in proptest::collection::vec(any::<u8>(), 0..128),
        initial in any::<u32>(),
    ) {
        let a: Vec<u8> = a.iter().flat_map(|w| w.to_be_bytes()).collect();
        let whole: Vec<u8> = a.iter().chain(&b).copied().collect();
        prop_assert_eq!(fold(sum(&b, sum(&a, initial))), fold(sum(&whole, initial)));
    }

    /// RFC 1071 (B): summing native little-endian words gives the
    /// byte-swapped sum.
    #[test]
    fn sum_is_byte_order_independent(data in packet(0..=64)) {
        let swapped: Vec<u8> = data.chunks(2).flat_map(|w| [w[1], w[0]]).collect();
        prop_assert_eq!(fold(sum(&swapped, 0)), fold(sum(&data, 0)).swap_bytes());
    }

    /// A packet with its checksum filled in verifies.
    #[test]
    fn checksum_verifies(mut data in packet(1..=64), c in any::<Index>()) {
        let c = c.index(data.len() / 2);
        recompute(&mut data, c);
        prop_assert!(verifies(&data));
    }

    /// Replacing one 16-bit word: the incremental update equals the
    /// recomputation and verifies.
    #[test]
    fn update16_matches_recomputation(
        mut data in packet(2..=64),
        c in any::<Index>(),
        i in any::<Index>(),
        new in any::<u16>(),
    ) {
        let words = data.len() / 2;
        let c = c.index(words);
        // Any word but the checksum field.
        let i = (c + 1 + i.index(words - 1)) % words;
        let check = recompute(&mut data, c);
        let old = word(&data, i);
        set_word(&mut data, i, new);
        check_update(data, c, update16(check, old, new))?;
    }

    /// The same where the new word makes the data sum to -0, so that the new
    /// checksum is 0x0000: the case where RFC 1624 equation 2 gives 0xffff.
    #[test]
    fn update16_to_a_zero_checksum(
        mut data in packet(2..=64),
        c in any::<Index>(),
        i in any::<Index>(),
    ) {
        let words = data.len() / 2;
        let c = c.index(words);
        let i = (c + 1 + i.index(words - 1)) % words;
        let check = recompute(&mut data, c);
        let old = word(&data, i);
        set_word(&mut data, c, 0);
        set_word(&mut data, i, 0);
        let new = !fold(sum(&data, 0));
        set_word(&mut data, i, new);
        let incremental = update16(check, old, new);
        prop_assert_eq!(incremental, 0x0000);
        check_update(data, c, incremental)?;
    }

    /// Replacing one 32-bit field aligned on a 16-bit word: the incremental
    /// update equals the recomputation and verifies.
    #[test]
    fn update32_matches_recomputation(
        mut data in packet(3..=64),
        i in any::<Index>(),
        c in any::<Index>(),
        new in any::<u32>(),
    ) {
        let words = data.len() / 2;
        // The field covers words i and i + 1, the checksum one of the others.
        let i = i.index(words - 1);
        let c = c.index(words - 2);
        let c = if c >= i { c + 2 } else { c };
        let check = recompute(&mut data, c);
        let old = dword(&data, i);
        set_dword(&mut data, i, new);
        check_update(data, c, update32(check, old, new))?;
    }

    /// A chain of updates, each starting from the previous incremental
    /// checksum, still equals the recomputation.
    #[test]
    fn chained_updates_match_recomputation(
        mut data in packet(4..=32),
        changes in proptest::collection::vec((any::<Index>(), any::<u32>()), 1..16),
    ) {
        let words = data.len() / 2;
        // Checksum in word 0, like TCP's pseudo header folded in front.
        let mut check = recompute(&mut data, 0);
        for (i, new) in changes {
            let i = 1 + i.index(words - 2);
            if new & 1 == 0 {
                let new = (new >> 16) as u16;
                check = update16(check, word(&data, i), new);
                set_word(&mut data, i, new);
            } else {
                check = update32(check, dword(&data, i), new);
                set_dword(&mut data, i, new);
            }
        }
        check_update(data, 0, check)?;
    }

    /// update32 is update16 applied to both halves.
    #[test]
    fn update32_is_two_update16(check in any::<u16>(), old in any::<u32>(), new in any::<u32>()) {
        let halves = update16(
            update16(check, (old >> 16) as u16, (new >> 16) as u16),
            old as u16,
            new as u16,
        );
        let both = update32(check, old, new);
        prop_assert_eq!(u32::from(both) % 0xffff, u32::from(halves) % 0xffff);
    }
}
