// SPDX-License-Identifier: GPL-2.0

//! Reference checksums for the packet tests, computed from scratch and
//! independent of `baton_proto::csum`, shared by `packet.rs`, `seq.rs` and
//! `flow.rs`.

#![allow(dead_code, reason = "each test crate uses a different part of it")]

use baton_proto::packet::IPPROTO_TCP;

// ---------------------------------------------------------------------------
// Reference Internet checksum (independent of `baton_proto::csum`).

/// The ones' complement sum of the big-endian words of `data` (an odd last
/// byte padded with a zero), folded to 16 bits.
pub fn ref_fold_sum(data: &[u8]) -> u16 {
    let mut acc: u64 = 0;
    for (i, b) in data.iter().enumerate() {
        acc += if i % 2 == 0 {
            u64::from(*b) << 8
        } else {
            u64::from(*b)
        };
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The IPv4/TCP pseudo-header for a TCP segment of `len` bytes.
pub fn pseudo(saddr: [u8; 4], daddr: [u8; 4], len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(12);
    p.extend_from_slice(&saddr);
    p.extend_from_slice(&daddr);
    p.push(0);
    p.push(IPPROTO_TCP);
    p.extend_from_slice(&(len as u16).to_be_bytes());
    p
}

pub fn be16(buf: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([buf[at], buf[at + 1]])
}

pub fn be32(buf: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(buf[at..at + 4].try_into().unwrap())
}

pub fn addr(buf: &[u8], at: usize) -> [u8; 4] {
    buf[at..at + 4].try_into().unwrap()
}

pub fn ihl_of(buf: &[u8]) -> usize {
    usize::from(buf[0] & 0x0f) * 4
}

/// The IPv4 header checksum of `buf` computed from scratch.
pub fn ref_ip_check(buf: &[u8]) -> u16 {
    let mut h = buf[..ihl_of(buf)].to_vec();
    h[10] = 0;
    h[11] = 0;
    !ref_fold_sum(&h)
}

/// The pseudo-header, TCP header and payload of `buf` (the whole buffer
/// past the IPv4 header), the TCP check field zeroed.
pub fn tcp_sum_input(buf: &[u8]) -> Vec<u8> {
    let ihl = ihl_of(buf);
    let mut data = pseudo(addr(buf, 12), addr(buf, 16), buf.len() - ihl);
    data.extend_from_slice(&buf[ihl..]);
    data[12 + 16] = 0;
    data[12 + 17] = 0;
    data
}

/// The full TCP checksum of `buf` computed from scratch.
pub fn ref_tcp_check(buf: &[u8]) -> u16 {
    !ref_fold_sum(&tcp_sum_input(buf))
}

/// The `CHECKSUM_PARTIAL` check field of `buf` computed from scratch: the
/// folded pseudo-header sum, not complemented.
pub fn ref_partial_check(buf: &[u8]) -> u16 {
    let ihl = ihl_of(buf);
    ref_fold_sum(&pseudo(addr(buf, 12), addr(buf, 16), buf.len() - ihl))
}

pub fn ip_check_field(buf: &[u8]) -> u16 {
    be16(buf, 10)
}

pub fn tcp_check_field(buf: &[u8]) -> u16 {
    be16(buf, ihl_of(buf) + 16)
}

/// The IPv4 header of `buf`, check field included, sums to -0.
pub fn ip_verifies(buf: &[u8]) -> bool {
    ref_fold_sum(&buf[..ihl_of(buf)]) == 0xffff
}

/// Pseudo-header, TCP header and payload of `buf`, check field included,
/// sum to -0.
pub fn tcp_verifies(buf: &[u8]) -> bool {
    let ihl = ihl_of(buf);
    let mut data = pseudo(addr(buf, 12), addr(buf, 16), buf.len() - ihl);
    data.extend_from_slice(&buf[ihl..]);
    ref_fold_sum(&data) == 0xffff
}

// ---------------------------------------------------------------------------
// ICMP errors (independent of `baton_proto::icmp`).

/// Most bytes of an ICMP error as Linux sends it (`icmp_send`): 576, the
/// quoted datagram cut to fit.
pub const ICMP_ERROR_MAX: usize = 576;

/// An ICMP error from `router` about the IPv4 datagram `pkt`, as a Linux
/// router sends it: to the datagram's source, TTL 64, ICMP type `kind`,
/// code `code`, the header's second word `rest` (the next-hop MTU of
/// "fragmentation needed" in its low half), quoting `quote` bytes of `pkt`
/// at most, and no more than fit in [`ICMP_ERROR_MAX`]; `opts` words of NOP options in the outer IPv4 header. Every
/// checksum right.
pub fn icmp_error(
    router: [u8; 4],
    kind: u8,
    code: u8,
    rest: u32,
    pkt: &[u8],
    quote: usize,
    opts: usize,
) -> Vec<u8> {
    let ihl = 20 + 4 * opts;
    let quoted = &pkt[..quote.min(pkt.len()).min(ICMP_ERROR_MAX - ihl - 8)];
    let total = ihl + 8 + quoted.len();
    let mut b = vec![0u8; total];
    b[0] = 0x40 | (ihl / 4) as u8;
    b[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    b[8] = 64;
    b[9] = 1;
    b[12..16].copy_from_slice(&router);
    b[16..20].copy_from_slice(&pkt[12..16]);
    b[20..ihl].fill(1);
    let check = ref_ip_check(&b);
    b[10..12].copy_from_slice(&check.to_be_bytes());
    b[ihl] = kind;
    b[ihl + 1] = code;
    b[ihl + 4..ihl + 8].copy_from_slice(&rest.to_be_bytes());
    b[ihl + 8..].copy_from_slice(quoted);
    let check = !ref_fold_sum(&b[ihl..]);
    b[ihl + 2..ihl + 4].copy_from_slice(&check.to_be_bytes());
    b
}

/// The ICMP message of `buf` (from the ICMP header to the outer total
/// length), check field included, sums to -0.
pub fn icmp_verifies(buf: &[u8]) -> bool {
    let total = usize::from(be16(buf, 2));
    ref_fold_sum(&buf[ihl_of(buf)..total]) == 0xffff
}

/// `pkt` with `words` words of NOP options added to its IPv4 header
/// (lengths and the IPv4 checksum right; the TCP checksum does not cover
/// them).
pub fn with_ip_options(pkt: &[u8], words: usize) -> Vec<u8> {
    let ihl = ihl_of(pkt);
    let mut p = pkt[..ihl].to_vec();
    p.extend(std::iter::repeat_n(1u8, 4 * words));
    p.extend_from_slice(&pkt[ihl..]);
    p[0] = 0x40 | ((ihl + 4 * words) / 4) as u8;
    let total = p.len() as u16;
    p[2..4].copy_from_slice(&total.to_be_bytes());
    let check = ref_ip_check(&p);
    p[10..12].copy_from_slice(&check.to_be_bytes());
    p
}
