// SPDX-License-Identifier: GPL-2.0

//! Reference checksums for the packet tests, computed from scratch and
//! independent of `baton_proto::csum`, shared by `packet.rs`, `seq.rs` and
//! `flow.rs`.

#![allow(dead_code, reason = "each test crate uses a different part of it")]

use baton_proto::packet::{
    flags, opt, Family, ParseError, TcpHeader, IPPROTO_TCP, MAX_EXTENSION_HEADERS, MAX_SACK_BLOCKS,
};
use baton_proto::seq::{Translation, MAX_WSCALE};

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

/// The IPv6 address 2001:db8::`last` (the documentation prefix).
pub const fn v6(last: u16) -> [u8; 16] {
    let [a, b] = last.to_be_bytes();
    [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, a, b]
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

// ---------------------------------------------------------------------------
// Reference TCP header parser and rewrite model of the packet fuzz targets,
// for either IP version (independent of `baton_proto::packet`).

/// The header layout the reference parser found.
pub struct RefPacket {
    pub ihl: usize,
    pub doff: usize,
    pub total: usize,
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_permitted: bool,
    /// TSval, TSecr and the offset of TSval in the buffer.
    pub ts: Option<(u32, u32, usize)>,
    /// SACK blocks and the offset of the first.
    pub sack: Vec<(u32, u32)>,
    pub sack_at: usize,
}

/// The TCP part of the reference parser: the TCP header at `ihl` of an IP
/// packet of `total` bytes whose network headers were found valid, checked
/// in the order `packet::parse_in` does.
pub fn ref_tcp(buf: &[u8], ihl: usize, total: usize) -> Result<RefPacket, ParseError> {
    use ParseError::*;
    if buf.len() < ihl + 20 {
        return Err(Truncated);
    }
    let doff = usize::from(buf[ihl + 12] >> 4) * 4;
    if doff < 20 {
        return Err(BadDataOffset);
    }
    if buf.len() < ihl + doff {
        return Err(Truncated);
    }
    if total < ihl + doff {
        return Err(BadTotalLength);
    }
    let mut r = RefPacket {
        ihl,
        doff,
        total,
        mss: None,
        wscale: None,
        sack_permitted: false,
        ts: None,
        sack: Vec::new(),
        sack_at: 0,
    };
    let (start, end) = (ihl + 20, ihl + doff);
    let mut at = start;
    while at < end {
        let kind = buf[at];
        if kind == opt::EOL {
            break;
        }
        if kind == opt::NOP {
            at += 1;
            continue;
        }
        if at + 1 >= end {
            return Err(BadOption);
        }
        let len = usize::from(buf[at + 1]);
        if len < 2 || at + len > end {
            return Err(BadOption);
        }
        match (kind, len) {
            (opt::MSS, 4) => r.mss = Some(be16(buf, at + 2)),
            (opt::WSCALE, 3) => r.wscale = Some(buf[at + 2]),
            (opt::SACK_PERM, 2) => r.sack_permitted = true,
            (opt::SACK, _) => {
                let n = (len - 2) / 8;
                if !r.sack.is_empty() || (len - 2) % 8 != 0 || n == 0 || n > MAX_SACK_BLOCKS {
                    return Err(BadOption);
                }
                r.sack = (0..n)
                    .map(|i| (be32(buf, at + 2 + 8 * i), be32(buf, at + 6 + 8 * i)))
                    .collect();
                r.sack_at = at + 2;
            }
            (opt::TIMESTAMP, 10) if r.ts.is_none() => {
                r.ts = Some((be32(buf, at + 2), be32(buf, at + 6), at + 2));
            }
            (opt::MSS | opt::WSCALE | opt::SACK_PERM | opt::TIMESTAMP, _) => return Err(BadOption),
            _ => {}
        }
        at += len;
    }
    Ok(r)
}

/// Checks that the TCP fields of `h` (either IP version) are what the
/// reference found in `buf`.
pub fn check_tcp_fields<F: Family>(buf: &[u8], h: &TcpHeader<F>, r: &RefPacket) {
    let ihl = r.ihl;
    assert_eq!(h.ip_header_len, ihl);
    assert_eq!(h.tcp_header_len, r.doff);
    assert!(ihl + h.tcp_header_len <= buf.len());
    assert_eq!(h.payload_len, r.total - ihl - r.doff);
    assert_eq!(h.sport, be16(buf, ihl));
    assert_eq!(h.dport, be16(buf, ihl + 2));
    assert_eq!(h.seq, be32(buf, ihl + 4));
    assert_eq!(h.ack, be32(buf, ihl + 8));
    assert_eq!(h.flags, buf[ihl + 13]);
    assert_eq!(h.window, be16(buf, ihl + 14));
    let o = &h.options;
    assert_eq!(o.mss, r.mss);
    assert_eq!(o.wscale, r.wscale);
    assert_eq!(o.sack_permitted, r.sack_permitted);
    assert_eq!(o.timestamps, r.ts.map(|(v, e, _)| (v, e)));
    let blocks: Vec<(u32, u32)> = o.sack_blocks().iter().map(|b| (b.start, b.end)).collect();
    assert_eq!(blocks, r.sack);
}

pub fn put16(buf: &mut [u8], at: usize, v: u16) {
    buf[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

pub fn put32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// `Translation::window_to_client` from its documentation.
pub fn ref_window(x: &Translation, window: u16) -> u16 {
    let bytes = u64::from(window) << x.backend_wscale.min(MAX_WSCALE);
    (bytes >> x.frontend_wscale.min(MAX_WSCALE)).min(65535) as u16
}

/// Writes into `e` the TCP fields that the front-end's rewrite (with
/// `front`: destination port `front`, `packet_to_backend`) and the
/// back-end's (with `back`: source port `back`, `packet_to_client`) set on
/// the packet `before`, directly from the documented formulas; addresses
/// and check fields are the caller's.
pub fn expected_tcp(
    e: &mut [u8],
    before: &[u8],
    r: &RefPacket,
    x: &Translation,
    front: Option<u16>,
    back: Option<u16>,
) {
    let ihl = r.ihl;
    let tcp_flags = before[ihl + 13];
    if let Some(bport) = front {
        put16(e, ihl + 2, bport);
        if tcp_flags & flags::ACK != 0 {
            put32(e, ihl + 8, be32(before, ihl + 8).wrapping_add(x.seq_delta));
        }
        for i in 0..r.sack.len() {
            for edge in [r.sack_at + 8 * i, r.sack_at + 8 * i + 4] {
                put32(e, edge, be32(before, edge).wrapping_add(x.seq_delta));
            }
        }
        if let Some((_, tsecr, at)) = r.ts {
            put32(e, at + 4, tsecr.wrapping_sub(x.ts_delta));
        }
    }
    if let Some(vport) = back {
        put16(e, ihl, vport);
        put32(e, ihl + 4, be32(before, ihl + 4).wrapping_sub(x.seq_delta));
        if let Some((tsval, _, at)) = r.ts {
            put32(e, at, tsval.wrapping_add(x.ts_delta));
        }
        if tcp_flags & flags::SYN == 0 {
            put16(e, ihl + 14, ref_window(x, be16(before, ihl + 14)));
        }
    }
}

/// A ones' complement value modulo 0xffff (0x0000 and 0xffff are both
/// zero).
pub fn oc(v: u16) -> u32 {
    u32::from(v) % 0xffff
}

/// Reference walk of the IPv6 extension headers that start at `at` in
/// `buf` (the first of kind `next`), from the rules documented at
/// `packet::parse_in`: hop-by-hop, routing, destination options and a
/// fragment header of offset 0 (and M clear unless `first_fragment`; the
/// reserved bits between are ignored), at most `MAX_EXTENSION_HEADERS`,
/// each inside `end`. The kind and offset of the header after them;
/// `BadExtension`, `Truncated` (past `buf`) or `Fragment` otherwise.
pub fn ref_skip_extensions(
    buf: &[u8],
    mut next: u8,
    mut at: usize,
    end: usize,
    first_fragment: bool,
) -> Result<(u8, usize), ParseError> {
    let mut n = 0;
    while matches!(next, 0 | 43 | 44 | 60) {
        if n == MAX_EXTENSION_HEADERS || at + 8 > end {
            return Err(ParseError::BadExtension);
        }
        if buf.len() < at + 8 {
            return Err(ParseError::Truncated);
        }
        let len = if next == 44 {
            let refused = if first_fragment { 0xfff8 } else { 0xfff9 };
            if be16(buf, at + 2) & refused != 0 {
                return Err(ParseError::Fragment);
            }
            8
        } else {
            8 * (usize::from(buf[at + 1]) + 1)
        };
        next = buf[at];
        at += len;
        n += 1;
        if at > end {
            return Err(ParseError::BadExtension);
        }
    }
    Ok((next, at))
}
