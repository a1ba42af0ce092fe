// SPDX-License-Identifier: GPL-2.0

//! IPv4 and IPv6 + TCP header parsing and in-place rewriting with
//! incremental checksum updates (RFC 1624, through [`super::csum`]).
//!
//! The forwarding path of a handed-off connection rewrites a few header
//! fields in each direction (the values themselves come from
//! [`super::seq::Translation`]):
//!
//! ```text
//!   client ----------> front-end (VIP) ----------> back-end
//!            client->back-end, rewritten at the front-end:
//!            ack, SACK edges, TSecr (and daddr, by the caller)
//!
//!   client <--------------------------------------- back-end
//!            back-end->client, rewritten at the back-end:
//!            saddr = VIP, seq, TSval, window
//! ```
//!
//! The buffer starts at the IP header and holds at least the IP headers
//! (IPv6 extension headers included) and the TCP header, options included;
//! the payload may or may not follow (its length is taken from the IPv4
//! total length or the IPv6 payload length). Headers are laid out as:
//!
//! ```text
//!  IPv4  0      1      2      4      6        8    9     10      12     16    20
//!        |v/ihl | tos  |totlen| id   |frag off| ttl|proto| check | saddr|daddr|
//!  IPv6  0          4          6     7      8       24       40
//!        |v/tc/flow |plen      |next |hops  | saddr | daddr  | extension headers..
//!  TCP   0      2      4      8      12       13   14    16      18     20
//!        |sport |dport | seq  | ack  |doff    |flags|win | check | urg  |opts..
//! ```
//!
//! The code is generic over the IP version ([`Family`]: [`V4`], [`V6`]);
//! the types default to IPv4. [`parse`] ([`parse_in`]) validates
//! everything a rewrite relies on; a [`TcpPacket`] can only be made by
//! parsing, so a buffer that does not parse is never written. Every field
//! change updates the IPv4 header checksum (addresses only; IPv6 has none)
//! and the TCP checksum according to the [`CsumMode`]:
//!
//! * [`CsumMode::Full`]: the TCP check field is a complete checksum and is
//!   updated for every rewritten byte, as `inet_proto_csum_replace4` does for
//!   a packet that is not `CHECKSUM_PARTIAL`.
//! * [`CsumMode::Partial`]: Linux `CHECKSUM_PARTIAL` (offload, GSO): the
//!   check field holds the folded pseudo-header sum, not complemented, and
//!   the device completes it over the header and payload later. Only address
//!   changes update it (`*sum = ~csum_fold(csum_partial(diff,
//!   csum_unfold(*sum)))`, `inet_proto_csum_replace4(.., pseudohdr=true)`);
//!   other TCP header fields are left to the device.
//!
//! An IPv6 packet's extension headers (hop-by-hop, routing, destination
//! options, an atomic fragment header) are skipped, at most
//! [`MAX_EXTENSION_HEADERS`] of them; anything else before the TCP header
//! (AH, ESP, a fragment that is not the whole segment) makes it a packet
//! that is not parsed, as is a jumbogram (payload length 0: RFC 2675 or a
//! BIG TCP GSO packet), whose length the header does not give.
//!
//! Nothing here panics on any input: all accesses are checked, and sequence
//! arithmetic wraps.

use super::csum;

/// Length of an IPv4 header without options.
pub const IPV4_MIN_HEADER_LEN: usize = 20;
/// Length of the IPv6 header (without extension headers).
pub const IPV6_HEADER_LEN: usize = 40;
/// Most IPv6 extension headers skipped before the TCP header; a longer
/// chain is refused ([`ParseError::BadExtension`]), which bounds the work
/// per packet.
pub const MAX_EXTENSION_HEADERS: usize = 8;
/// Length of a TCP header without options.
pub const TCP_MIN_HEADER_LEN: usize = 20;
/// IP protocol number of TCP.
pub const IPPROTO_TCP: u8 = 6;
/// Most SACK blocks one option can carry (40 option bytes).
pub const MAX_SACK_BLOCKS: usize = 4;

/// TCP header flag bits (byte 13 of the TCP header).
pub mod flags {
    /// No more data from the sender.
    pub const FIN: u8 = 0x01;
    /// Synchronise sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push.
    pub const PSH: u8 = 0x08;
    /// The acknowledgment field is significant.
    pub const ACK: u8 = 0x10;
    /// The urgent pointer is significant.
    pub const URG: u8 = 0x20;
    /// ECN echo.
    pub const ECE: u8 = 0x40;
    /// Congestion window reduced.
    pub const CWR: u8 = 0x80;
}

/// TCP option kinds understood by [`parse`].
pub mod opt {
    /// End of option list.
    pub const EOL: u8 = 0;
    /// No operation (padding).
    pub const NOP: u8 = 1;
    /// Maximum segment size (length 4).
    pub const MSS: u8 = 2;
    /// Window scale (length 3).
    pub const WSCALE: u8 = 3;
    /// SACK permitted (length 2).
    pub const SACK_PERM: u8 = 4;
    /// SACK blocks (length 2 + 8 n, 1 <= n <= 4).
    pub const SACK: u8 = 5;
    /// Timestamps (length 10).
    pub const TIMESTAMP: u8 = 8;
}

// Offsets inside the IPv4 header.
const IP_TOT_LEN: usize = 2;
const IP_FRAG: usize = 6;
const IP_TTL: usize = 8;
const IP_PROTO: usize = 9;
const IP_CHECK: usize = 10;
const IP_SADDR: usize = 12;
const IP_DADDR: usize = 16;
// Offsets inside the TCP header.
const TCP_SEQ: usize = 4;
const TCP_ACK: usize = 8;
const TCP_DOFF: usize = 12;
const TCP_FLAGS: usize = 13;
const TCP_WINDOW: usize = 14;
const TCP_CHECK: usize = 16;
// IPv4 fragment field bits.
const IP_MF: u16 = 0x2000;
const IP_OFFSET: u16 = 0x1fff;
// Offsets inside the IPv6 header.
pub(super) const IP6_PLEN: usize = 4;
pub(super) const IP6_NEXT: usize = 6;
const IP6_HOPS: usize = 7;
pub(super) const IP6_SADDR: usize = 8;
pub(super) const IP6_DADDR: usize = 24;
/// IPv6 next-header values of the extension headers that are skipped.
pub(super) mod nexthdr {
    pub(in super::super) const HOP: u8 = 0;
    pub(in super::super) const ROUTING: u8 = 43;
    pub(in super::super) const FRAGMENT: u8 = 44;
    pub(in super::super) const DEST: u8 = 60;
    pub(in super::super) const NONE: u8 = 59;
}
/// IPv6 fragment header: offset (13 bits, in 8-byte units) and the M flag,
/// in the 16-bit word at byte 2; the two reserved bits between them are
/// ignored, as the kernel does.
const IP6_FRAG_OFFSET: u16 = 0xfff8;
const IP6_FRAG_MF: u16 = 0x0001;

/// Where a packet's TCP header starts and how long the IP packet is, as
/// its network headers say ([`Family::network`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    /// Offset of the TCP header: the IPv4 header length, or 40 and the
    /// IPv6 extension headers.
    pub l4: usize,
    /// Length of the IP packet, headers included, from its length field.
    pub total: usize,
}

/// An IP version, named by its address type (wire order): where its
/// addresses lie, how its headers lead to the TCP header and which
/// checksums cover the addresses. Implemented by [`V4`] and [`V6`] only;
/// the packet code is generic over it, so that one rewrite serves both and
/// each is compiled for its own layout, and an address given in a literal
/// tells the compiler the version.
pub trait Family:
    Copy
    + core::fmt::Debug
    + Default
    + PartialEq
    + Eq
    + core::hash::Hash
    + AsRef<[u8]>
    + Send
    + Sync
    + 'static
{
    /// Offset of the source address in the IP header.
    const SADDR: usize;
    /// Offset of the destination address in the IP header.
    const DADDR: usize;
    /// Offset of an IP header checksum that covers the addresses (IPv4's);
    /// `None` without one.
    const HEADER_CHECK: Option<usize>;
    /// Length of the IP header of a packet that [`build`] writes.
    const BUILD_HEADER_LEN: usize;

    /// The network headers of a TCP packet at the start of `buf`: version,
    /// lengths, protocol TCP, not a fragment (the whole segment is there).
    fn network(buf: &[u8]) -> Result<Network, ParseError>;

    /// The offset of the TCP header of a TCP packet at the start of `buf`
    /// that is the whole segment or its first fragment, checked only as
    /// far as finding it needs (see [`addresses_in`]).
    fn ports_offset(buf: &[u8]) -> Option<usize>;

    /// The address at `at` in `buf`, if it is there.
    fn addr(buf: &[u8], at: usize) -> Option<Self>;

    /// The unfolded ones' complement sum of the TCP pseudo-header for a
    /// segment of `len` bytes (header and payload).
    fn pseudo_sum(saddr: &Self, daddr: &Self, len: usize) -> u32;

    /// Writes the IP header (no options or extension headers) of a TCP
    /// packet of `l4_len` bytes from `saddr` to `daddr`, its checksum if
    /// it has one, into `ip` ([`Family::BUILD_HEADER_LEN`] bytes); `None`
    /// if the length does not fit the header.
    fn write_header(ip: &mut [u8], saddr: &Self, daddr: &Self, l4_len: usize) -> Option<()>;

    /// Lowers the TTL (hop limit) of the IP header at the start of `buf`
    /// by one, a header checksum updated; `false`, and nothing written, if
    /// it is 0 or 1 or the header is not of this version inside `buf`.
    fn decrement_ttl(buf: &mut [u8]) -> bool;
}

/// IPv4 ([`Family`]): its addresses.
pub type V4 = [u8; 4];

/// IPv6 ([`Family`]): its addresses.
pub type V6 = [u8; 16];

impl Family for V4 {
    const SADDR: usize = IP_SADDR;
    const DADDR: usize = IP_DADDR;
    const HEADER_CHECK: Option<usize> = Some(IP_CHECK);
    const BUILD_HEADER_LEN: usize = IPV4_MIN_HEADER_LEN;

    fn network(buf: &[u8]) -> Result<Network, ParseError> {
        let first = *buf.first().ok_or(ParseError::Truncated)?;
        if first >> 4 != 4 {
            return Err(ParseError::NotIpv4);
        }
        let ihl = usize::from(first & 0x0f) * 4;
        if ihl < IPV4_MIN_HEADER_LEN {
            return Err(ParseError::BadIhl);
        }
        if buf.len() < ihl {
            return Err(ParseError::Truncated);
        }
        if buf.get(IP_PROTO) != Some(&IPPROTO_TCP) {
            return Err(ParseError::NotTcp);
        }
        let frag = get_u16(buf, IP_FRAG).ok_or(ParseError::Truncated)?;
        if frag & (IP_MF | IP_OFFSET) != 0 {
            return Err(ParseError::Fragment);
        }
        let total = get_u16(buf, IP_TOT_LEN).ok_or(ParseError::Truncated)?;
        Ok(Network {
            l4: ihl,
            total: usize::from(total),
        })
    }

    fn ports_offset(buf: &[u8]) -> Option<usize> {
        let first = *buf.first()?;
        let ihl = usize::from(first & 0x0f) * 4;
        if first >> 4 != 4 || ihl < IPV4_MIN_HEADER_LEN || *buf.get(IP_PROTO)? != IPPROTO_TCP {
            return None;
        }
        if get_u16(buf, IP_FRAG)? & IP_OFFSET != 0 {
            return None;
        }
        Some(ihl)
    }

    fn addr(buf: &[u8], at: usize) -> Option<[u8; 4]> {
        get_addr(buf, at)
    }

    fn pseudo_sum(saddr: &[u8; 4], daddr: &[u8; 4], len: usize) -> u32 {
        let mut pseudo = [0u8; 12];
        pseudo[..4].copy_from_slice(saddr);
        pseudo[4..8].copy_from_slice(daddr);
        pseudo[9] = IPPROTO_TCP;
        // Truncated as the 16-bit field it is: callers pass lengths that
        // fit.
        pseudo[10..12].copy_from_slice(&(len as u16).to_be_bytes());
        csum::sum(&pseudo, 0)
    }

    fn write_header(ip: &mut [u8], saddr: &[u8; 4], daddr: &[u8; 4], l4_len: usize) -> Option<()> {
        let total = u16::try_from(l4_len.checked_add(IPV4_MIN_HEADER_LEN)?).ok()?;
        let ip = ip.get_mut(..IPV4_MIN_HEADER_LEN)?;
        ip.fill(0);
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip[6] = 0x40; // DF
        ip[IP_TTL] = 64;
        ip[IP_PROTO] = IPPROTO_TCP;
        ip[IP_SADDR..IP_SADDR + 4].copy_from_slice(saddr);
        ip[IP_DADDR..IP_DADDR + 4].copy_from_slice(daddr);
        let check = csum::checksum(ip);
        ip[IP_CHECK..IP_CHECK + 2].copy_from_slice(&check.to_be_bytes());
        Some(())
    }

    fn decrement_ttl(buf: &mut [u8]) -> bool {
        let Some(&first) = buf.first() else {
            return false;
        };
        let ihl = usize::from(first & 0x0f) * 4;
        if first >> 4 != 4 || ihl < IPV4_MIN_HEADER_LEN || buf.len() < ihl {
            return false;
        }
        let (ttl, proto) = (buf[IP_TTL], buf[IP_PROTO]);
        if ttl <= 1 {
            return false;
        }
        let Some(check) = get_u16(buf, IP_CHECK) else {
            return false;
        };
        let check = csum::update16(
            check,
            u16::from_be_bytes([ttl, proto]),
            u16::from_be_bytes([ttl - 1, proto]),
        );
        buf[IP_TTL] = ttl - 1;
        buf[IP_CHECK..IP_CHECK + 2].copy_from_slice(&check.to_be_bytes());
        true
    }
}

impl Family for V6 {
    const SADDR: usize = IP6_SADDR;
    const DADDR: usize = IP6_DADDR;
    const HEADER_CHECK: Option<usize> = None;
    const BUILD_HEADER_LEN: usize = IPV6_HEADER_LEN;

    fn network(buf: &[u8]) -> Result<Network, ParseError> {
        ipv6_walk(buf, false)
    }

    fn ports_offset(buf: &[u8]) -> Option<usize> {
        ipv6_walk(buf, true).ok().map(|n| n.l4)
    }

    fn addr(buf: &[u8], at: usize) -> Option<[u8; 16]> {
        buf.get(at..at.checked_add(16)?)?.try_into().ok()
    }

    fn pseudo_sum(saddr: &[u8; 16], daddr: &[u8; 16], len: usize) -> u32 {
        let mut pseudo = [0u8; 40];
        pseudo[..16].copy_from_slice(saddr);
        pseudo[16..32].copy_from_slice(daddr);
        // Truncated as the 32-bit field it is.
        pseudo[32..36].copy_from_slice(&(len as u32).to_be_bytes());
        pseudo[39] = IPPROTO_TCP;
        csum::sum(&pseudo, 0)
    }

    fn write_header(
        ip: &mut [u8],
        saddr: &[u8; 16],
        daddr: &[u8; 16],
        l4_len: usize,
    ) -> Option<()> {
        let plen = u16::try_from(l4_len).ok().filter(|&l| l != 0)?;
        let ip = ip.get_mut(..IPV6_HEADER_LEN)?;
        ip.fill(0);
        ip[0] = 0x60;
        ip[IP6_PLEN..IP6_PLEN + 2].copy_from_slice(&plen.to_be_bytes());
        ip[IP6_NEXT] = IPPROTO_TCP;
        ip[IP6_HOPS] = 64;
        ip[IP6_SADDR..IP6_SADDR + 16].copy_from_slice(saddr);
        ip[IP6_DADDR..IP6_DADDR + 16].copy_from_slice(daddr);
        Some(())
    }

    fn decrement_ttl(buf: &mut [u8]) -> bool {
        if buf.len() < IPV6_HEADER_LEN || buf[0] >> 4 != 6 || buf[IP6_HOPS] <= 1 {
            return false;
        }
        buf[IP6_HOPS] -= 1;
        true
    }
}

/// The headers of the IPv6 packet at the start of `buf` up to its TCP
/// header ([`Family::network`]); with `first_fragment`, the first fragment
/// of a segment is taken too ([`Family::ports_offset`]).
fn ipv6_walk(buf: &[u8], first_fragment: bool) -> Result<Network, ParseError> {
    let first = *buf.first().ok_or(ParseError::Truncated)?;
    if first >> 4 != 6 {
        return Err(ParseError::NotIpv6);
    }
    if buf.len() < IPV6_HEADER_LEN {
        return Err(ParseError::Truncated);
    }
    let plen = get_u16(buf, IP6_PLEN).ok_or(ParseError::Truncated)?;
    let next = *buf.get(IP6_NEXT).ok_or(ParseError::Truncated)?;
    if plen == 0 && next != nexthdr::NONE {
        // Payload length 0 with a header after this one: RFC 2675's
        // jumbo payload or a BIG TCP packet of the stack.
        return Err(ParseError::Jumbogram);
    }
    let total = IPV6_HEADER_LEN + usize::from(plen);
    match skip_extensions(buf, next, IPV6_HEADER_LEN, total, first_fragment)? {
        (IPPROTO_TCP, l4) => Ok(Network { l4, total }),
        _ => Err(ParseError::NotTcp),
    }
}

/// Skips the IPv6 extension headers that start at `at` in `buf`, the first
/// of kind `next`, all of them before `end` (the end of the packet):
/// hop-by-hop, routing, destination options and a fragment header of
/// offset 0 and, unless `first_fragment`, M clear; at most
/// [`MAX_EXTENSION_HEADERS`]. Returns the kind and offset of the header
/// that follows them.
pub(super) fn skip_extensions(
    buf: &[u8],
    mut next: u8,
    mut at: usize,
    end: usize,
    first_fragment: bool,
) -> Result<(u8, usize), ParseError> {
    let mut skipped = 0;
    loop {
        let fragment = match next {
            nexthdr::HOP | nexthdr::ROUTING | nexthdr::DEST => false,
            nexthdr::FRAGMENT => true,
            _ => return Ok((next, at)),
        };
        // Every extension header is at least 8 bytes long, inside the
        // packet: nothing past it is read.
        if skipped == MAX_EXTENSION_HEADERS || at + 8 > end {
            return Err(ParseError::BadExtension);
        }
        let h = buf.get(at..at + 8).ok_or(ParseError::Truncated)?;
        next = h[0];
        let len = if fragment {
            let frag = get_u16(h, 2).unwrap_or(0);
            let refused = if first_fragment {
                IP6_FRAG_OFFSET
            } else {
                IP6_FRAG_OFFSET | IP6_FRAG_MF
            };
            if frag & refused != 0 {
                return Err(ParseError::Fragment);
            }
            8
        } else {
            (usize::from(h[1]) + 1) * 8
        };
        skipped += 1;
        at += len;
        if at > end {
            return Err(ParseError::BadExtension);
        }
    }
}

/// Why a buffer is not an IP TCP packet that can be rewritten.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The buffer ends inside the IP headers or the TCP header or its
    /// options.
    Truncated,
    /// IP version is not 4 (parsed as IPv4).
    NotIpv4,
    /// IP version is not 6 (parsed as IPv6).
    NotIpv6,
    /// IPv4 header length below 20 bytes.
    BadIhl,
    /// The IPv4 total length does not cover the IPv4 and TCP headers.
    BadTotalLength,
    /// IP protocol is not TCP.
    NotTcp,
    /// A fragment (MF set or offset not 0): ports and options may be absent.
    Fragment,
    /// An IPv6 jumbogram (payload length 0): its length is not in the
    /// header.
    Jumbogram,
    /// An IPv6 extension header chain longer than
    /// [`MAX_EXTENSION_HEADERS`], or one that does not end inside the
    /// payload length.
    BadExtension,
    /// TCP data offset below 5 words.
    BadDataOffset,
    /// Malformed TCP option: a length below 2 or past the header, a known
    /// kind with the wrong length, or a SACK or timestamp option twice.
    BadOption,
}

impl ParseError {
    /// A short description, for logs.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Truncated => "truncated header",
            Self::NotIpv4 => "not IPv4",
            Self::NotIpv6 => "not IPv6",
            Self::BadIhl => "bad IPv4 header length",
            Self::BadTotalLength => "bad IP total length",
            Self::NotTcp => "not TCP",
            Self::Fragment => "IP fragment",
            Self::Jumbogram => "IPv6 jumbogram",
            Self::BadExtension => "bad IPv6 extension headers",
            Self::BadDataOffset => "bad TCP data offset",
            Self::BadOption => "malformed TCP option",
        }
    }
}

impl core::fmt::Display for ParseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.describe())
    }
}

/// How the TCP check field of a packet is to be kept right.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsumMode {
    /// The check field is the full TCP checksum (`CHECKSUM_NONE`,
    /// `CHECKSUM_UNNECESSARY`, `CHECKSUM_COMPLETE`).
    Full,
    /// Linux `CHECKSUM_PARTIAL`: the check field holds the folded
    /// pseudo-header sum, not complemented; only address changes touch it.
    Partial,
}

/// One SACK block: the sequence numbers `[start, end)` of received data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SackBlock {
    /// Left edge: first sequence number of the block.
    pub start: u32,
    /// Right edge: the sequence number after the block.
    pub end: u32,
}

/// The TCP options of a segment, as far as baton cares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpOptions {
    /// Maximum segment size.
    pub mss: Option<u16>,
    /// Window scale shift as sent (not clamped).
    pub wscale: Option<u8>,
    /// SACK permitted.
    pub sack_permitted: bool,
    /// Timestamps: `(TSval, TSecr)`.
    pub timestamps: Option<(u32, u32)>,
    sack: [SackBlock; MAX_SACK_BLOCKS],
    sack_count: u8,
    /// Offset of the first SACK block from the start of the IP header.
    sack_at: usize,
    /// Offset of TSval from the start of the IP header.
    ts_at: usize,
}

impl TcpOptions {
    /// The SACK (or D-SACK) blocks, in option order; empty without a SACK
    /// option.
    pub fn sack_blocks(&self) -> &[SackBlock] {
        self.sack
            .get(..usize::from(self.sack_count))
            .unwrap_or_default()
    }
}

/// The parsed IP and TCP headers of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpHeader<F: Family = V4> {
    /// Source address, wire order.
    pub saddr: F,
    /// Destination address, wire order.
    pub daddr: F,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful with [`flags::ACK`]).
    pub ack: u32,
    /// Flag bits ([`flags`]).
    pub flags: u8,
    /// Window field, unscaled.
    pub window: u16,
    /// IP header length in bytes (IPv6: extension headers included): the
    /// offset of the TCP header.
    pub ip_header_len: usize,
    /// TCP header length in bytes, options included.
    pub tcp_header_len: usize,
    /// TCP payload length, from the IP packet's length.
    pub payload_len: usize,
    /// The options.
    pub options: TcpOptions,
}

impl<F: Family> TcpHeader<F> {
    /// Its addresses and ports.
    pub fn addresses(&self) -> Addresses<F> {
        Addresses {
            saddr: self.saddr,
            daddr: self.daddr,
            sport: self.sport,
            dport: self.dport,
        }
    }

    /// Whether every bit of `mask` ([`flags`]) is set.
    pub fn has_flags(&self, mask: u8) -> bool {
        self.flags & mask == mask
    }
}

/// The big-endian 16-bit word at `at` in `buf`, if it is there.
pub(super) fn get_u16(buf: &[u8], at: usize) -> Option<u16> {
    match buf.get(at..at.checked_add(2)?)? {
        &[a, b] => Some(u16::from_be_bytes([a, b])),
        _ => None,
    }
}

/// The big-endian 32-bit word at `at` in `buf`, if it is there.
pub(super) fn get_u32(buf: &[u8], at: usize) -> Option<u32> {
    match buf.get(at..at.checked_add(4)?)? {
        &[a, b, c, d] => Some(u32::from_be_bytes([a, b, c, d])),
        _ => None,
    }
}

/// The IPv4 address at `at` in `buf` (wire order), if it is there.
pub(super) fn get_addr(buf: &[u8], at: usize) -> Option<[u8; 4]> {
    get_u32(buf, at).map(u32::to_be_bytes)
}

/// The addresses and ports of a TCP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addresses<F: Family = V4> {
    /// Source address, wire order.
    pub saddr: F,
    /// Destination address, wire order.
    pub daddr: F,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
}

/// The addresses and ports of the IPv4 TCP packet at the start of `buf`,
/// also when [`parse`] refuses it for its TCP header or because it is the
/// first fragment of a segment: version 4, header length at least 20 and
/// inside `buf`, protocol TCP, fragment offset 0, the ports inside `buf`.
pub fn addresses(buf: &[u8]) -> Option<Addresses> {
    addresses_in::<V4>(buf)
}

/// [`addresses`] for either IP version. IPv6: version 6, not a
/// jumbogram, extension headers as [`parse_in`] takes them, except that a
/// fragment header with offset 0 (the first fragment) is skipped too.
pub fn addresses_in<F: Family>(buf: &[u8]) -> Option<Addresses<F>> {
    let l4 = F::ports_offset(buf)?;
    Some(Addresses {
        saddr: F::addr(buf, F::SADDR)?,
        daddr: F::addr(buf, F::DADDR)?,
        sport: get_u16(buf, l4)?,
        dport: get_u16(buf, l4.checked_add(2)?)?,
    })
}

/// Whether the IPv4 packet whose headers start `buf` (through the TCP
/// header's fixed part at least) is a TCP segment that only acknowledges:
/// ACK set, no SYN, FIN or RST, no payload (its total length is its
/// headers'). `false` for anything that does not parse.
pub fn is_pure_ack(buf: &[u8]) -> bool {
    is_pure_ack_in::<V4>(buf)
}

/// [`is_pure_ack`] for either IP version (IPv6: the network headers as
/// [`parse_in`] takes them).
pub fn is_pure_ack_in<F: Family>(buf: &[u8]) -> bool {
    let Ok(net) = F::network(buf) else {
        return false;
    };
    let ihl = net.l4;
    let (Some(&doff), Some(&f)) = (buf.get(ihl + TCP_DOFF), buf.get(ihl + TCP_FLAGS)) else {
        return false;
    };
    let doff = usize::from(doff >> 4) * 4;
    doff >= TCP_MIN_HEADER_LEN
        && net.total == ihl + doff
        && f & flags::ACK != 0
        && f & (flags::SYN | flags::FIN | flags::RST) == 0
}

/// Lowers the TTL of the IPv4 header at the start of `buf` by one, the
/// header checksum updated (RFC 1624), as a router does when it passes a
/// packet on; `false`, and nothing written, if the TTL is 0 or 1 (the
/// packet must go no further) or the header is not an IPv4 one inside
/// `buf`. [`Family::decrement_ttl`] for either version.
pub fn decrement_ttl(buf: &mut [u8]) -> bool {
    <V4 as Family>::decrement_ttl(buf)
}

/// Parses the IPv4 and TCP headers at the start of `buf`.
///
/// Checks: version 4, header length at least 20 and inside `buf`, protocol
/// TCP, not a fragment, TCP data offset at least 5 with the options inside
/// `buf`, total length covering both headers, well-formed options. Bytes
/// past the TCP header are not looked at.
pub fn parse(buf: &[u8]) -> Result<TcpHeader, ParseError> {
    parse_in::<V4>(buf)
}

/// Parses the IP and TCP headers at the start of `buf` as IP version `F`:
/// [`parse`] for either version. IPv6: version 6, the fixed header inside
/// `buf`, not a jumbogram, at most [`MAX_EXTENSION_HEADERS`] extension
/// headers of the kinds skipped, each inside the payload length and `buf`,
/// an atomic fragment header only, then TCP as for IPv4.
// Inlined, as are the option parser and `TcpPacket::parse_in`: the header
// (some 130 bytes) is then built where the caller keeps it, not built and
// copied (a memcpy call) at each of the three returns.
#[inline(always)]
pub fn parse_in<F: Family>(buf: &[u8]) -> Result<TcpHeader<F>, ParseError> {
    let net = F::network(buf)?;
    let ihl = net.l4;
    let tcp = buf.get(ihl..).ok_or(ParseError::Truncated)?;
    let doff_byte = *tcp.get(TCP_DOFF).ok_or(ParseError::Truncated)?;
    let doff = usize::from(doff_byte >> 4) * 4;
    if tcp.len() < TCP_MIN_HEADER_LEN {
        return Err(ParseError::Truncated);
    }
    if doff < TCP_MIN_HEADER_LEN {
        return Err(ParseError::BadDataOffset);
    }
    let tcp = tcp.get(..doff).ok_or(ParseError::Truncated)?;
    let payload_len = net
        .total
        .checked_sub(ihl + doff)
        .ok_or(ParseError::BadTotalLength)?;
    let opts = tcp.get(TCP_MIN_HEADER_LEN..).ok_or(ParseError::Truncated)?;
    let options = parse_options(opts, ihl + TCP_MIN_HEADER_LEN)?;
    let truncated = ParseError::Truncated;
    Ok(TcpHeader {
        saddr: F::addr(buf, F::SADDR).ok_or(truncated)?,
        daddr: F::addr(buf, F::DADDR).ok_or(truncated)?,
        sport: get_u16(tcp, 0).ok_or(truncated)?,
        dport: get_u16(tcp, 2).ok_or(truncated)?,
        seq: get_u32(tcp, TCP_SEQ).ok_or(truncated)?,
        ack: get_u32(tcp, TCP_ACK).ok_or(truncated)?,
        flags: *tcp.get(TCP_FLAGS).ok_or(truncated)?,
        window: get_u16(tcp, TCP_WINDOW).ok_or(truncated)?,
        ip_header_len: ihl,
        tcp_header_len: doff,
        payload_len,
        options,
    })
}

/// Parses the TCP options `opts`, which start `base` bytes into the packet.
#[inline(always)]
fn parse_options(opts: &[u8], base: usize) -> Result<TcpOptions, ParseError> {
    // The layout of nearly every segment of a connection with timestamps
    // (RFC 7323 appendix A), taken without the loop, as the kernel's
    // tcp_parse_aligned_timestamp() does.
    if let &[opt::NOP, opt::NOP, opt::TIMESTAMP, 10, a, b, c, d, e, f, g, h] = opts {
        return Ok(TcpOptions {
            timestamps: Some((
                u32::from_be_bytes([a, b, c, d]),
                u32::from_be_bytes([e, f, g, h]),
            )),
            ts_at: base + 4,
            ..TcpOptions::default()
        });
    }
    let bad = ParseError::BadOption;
    let mut out = TcpOptions::default();
    let mut at = 0;
    while let Some(&kind) = opts.get(at) {
        match kind {
            opt::EOL => break,
            opt::NOP => {
                at += 1;
                continue;
            }
            _ => {}
        }
        let len = usize::from(*opts.get(at + 1).ok_or(bad)?);
        if len < 2 {
            return Err(bad);
        }
        let body = opts.get(at + 2..at + len).ok_or(bad)?;
        match kind {
            opt::MSS => {
                out.mss = Some(get_u16(body, 0).filter(|_| len == 4).ok_or(bad)?);
            }
            opt::WSCALE => match body {
                &[shift] => out.wscale = Some(shift),
                _ => return Err(bad),
            },
            opt::SACK_PERM => {
                if len != 2 {
                    return Err(bad);
                }
                out.sack_permitted = true;
            }
            opt::SACK => {
                let n = body.len() / 8;
                if out.sack_count != 0 || body.len() % 8 != 0 || n == 0 || n > MAX_SACK_BLOCKS {
                    return Err(bad);
                }
                for (i, slot) in out.sack.iter_mut().take(n).enumerate() {
                    slot.start = get_u32(body, 8 * i).ok_or(bad)?;
                    slot.end = get_u32(body, 8 * i + 4).ok_or(bad)?;
                }
                // n <= MAX_SACK_BLOCKS fits in a u8.
                out.sack_count = n as u8;
                out.sack_at = base + at + 2;
            }
            opt::TIMESTAMP => {
                if out.timestamps.is_some() || len != 10 {
                    return Err(bad);
                }
                let tsval = get_u32(body, 0).ok_or(bad)?;
                let tsecr = get_u32(body, 4).ok_or(bad)?;
                out.timestamps = Some((tsval, tsecr));
                out.ts_at = base + at + 2;
            }
            _ => {}
        }
        at += len;
    }
    Ok(out)
}

/// Which checksums cover a rewritten field.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    /// An IP address: the IPv4 header checksum and the TCP pseudo-header.
    Addr,
    /// A TCP header field: the TCP checksum only (in [`CsumMode::Full`]).
    Tcp,
}

/// Returns the checksum `check` updated for the bytes at `at` in `buf`
/// (offsets counted from a 16-bit aligned origin) changing to `new`.
///
/// Aligned 16- and 32-bit fields go through [`csum::update16`] and
/// [`csum::update32`]; fields at odd offsets (options may be anywhere)
/// update every word they touch at once, RFC 1624 equation 3 over the
/// words: `HC' = ~(~HC + sum(~m) + sum(m'))`.
fn updated(check: u16, buf: &[u8], at: usize, new: &[u8]) -> u16 {
    if at & 1 == 0 {
        if let (Some(old), &[a, b, c, d]) = (get_u32(buf, at), new) {
            return csum::update32(check, old, u32::from_be_bytes([a, b, c, d]));
        }
        if let (Some(old), &[a, b]) = (get_u16(buf, at), new) {
            return csum::update16(check, old, u16::from_be_bytes([a, b]));
        }
        // Whole aligned words (an IPv6 address): RFC 1624 over them, with
        // no byte-by-byte assembly.
        if new.len() & 1 == 0 && buf.get(at..at + new.len()).is_some() {
            let mut acc = u32::from(!check);
            let mut i = 0;
            while let (Some(old), Some(&[hi, lo])) = (get_u16(buf, at + i), new.get(i..i + 2)) {
                acc += u32::from(!old) + u32::from(u16::from_be_bytes([hi, lo]));
                i += 2;
            }
            return !csum::fold(acc);
        }
    }
    let byte_at = |i: usize| -> (u8, u8) {
        let old = buf.get(i).copied().unwrap_or(0);
        let new = i
            .checked_sub(at)
            .and_then(|j| new.get(j))
            .copied()
            .unwrap_or(old);
        (old, new)
    };
    let mut acc = u32::from(!check);
    let mut word = at & !1;
    while word < at + new.len() {
        let (o0, n0) = byte_at(word);
        let (o1, n1) = byte_at(word + 1);
        acc += u32::from(!u16::from_be_bytes([o0, o1]));
        acc += u32::from(u16::from_be_bytes([n0, n1]));
        word += 2;
    }
    !csum::fold(acc)
}

/// A parsed IP TCP packet whose header fields can be rewritten in place
/// with the checksums kept right.
///
/// Made only by [`TcpPacket::parse`], so a buffer that does not parse is
/// never written. The setters keep [`TcpPacket::header`] up to date.
#[derive(Debug)]
pub struct TcpPacket<'a, F: Family = V4> {
    buf: &'a mut [u8],
    hdr: TcpHeader<F>,
    mode: CsumMode,
}

impl<'a> TcpPacket<'a> {
    /// Parses `buf` (see [`parse`]) for rewriting with checksum mode `mode`;
    /// on error `buf` is left untouched.
    pub fn parse(buf: &'a mut [u8], mode: CsumMode) -> Result<Self, ParseError> {
        Self::parse_in(buf, mode)
    }
}

impl<'a, F: Family> TcpPacket<'a, F> {
    /// [`TcpPacket::parse`] for either IP version (see [`parse_in`]).
    #[inline(always)]
    pub fn parse_in(buf: &'a mut [u8], mode: CsumMode) -> Result<Self, ParseError> {
        let hdr = parse_in::<F>(buf)?;
        Ok(Self { buf, hdr, mode })
    }

    /// The headers as they are now.
    pub fn header(&self) -> &TcpHeader<F> {
        &self.hdr
    }

    /// The checksum mode given to [`TcpPacket::parse`].
    pub fn mode(&self) -> CsumMode {
        self.mode
    }

    /// Writes `new` at `at` (from the start of the IP header), updating
    /// the checksums that cover it. Inlined into each setter, where the
    /// field's length is a constant: the comparison with the old bytes is
    /// then a load, not a call of bcmp.
    #[inline(always)]
    fn write(&mut self, at: usize, new: &[u8], field: Field) {
        let Some(end) = at.checked_add(new.len()) else {
            return;
        };
        match self.buf.get(at..end) {
            Some(old) if old != new => {}
            _ => return,
        }
        let ihl = self.hdr.ip_header_len;
        let tcp_check = ihl + TCP_CHECK;
        if let (Field::Addr, Some(ip_check)) = (field, F::HEADER_CHECK) {
            if let Some(check) = get_u16(self.buf, ip_check) {
                let check = updated(check, self.buf, at, new);
                self.put(ip_check, &check.to_be_bytes());
            }
        }
        if let Some(check) = get_u16(self.buf, tcp_check) {
            // The TCP header's offset is a multiple of 4 (IPv4) or 8
            // (IPv6): offsets from the IP header have the same alignment
            // as offsets from the TCP header.
            let check = match (self.mode, field) {
                (CsumMode::Full, _) => Some(updated(check, self.buf, at, new)),
                (CsumMode::Partial, Field::Addr) => Some(!updated(!check, self.buf, at, new)),
                (CsumMode::Partial, Field::Tcp) => None,
            };
            if let Some(check) = check {
                self.put(tcp_check, &check.to_be_bytes());
            }
        }
        self.put(at, new);
    }

    fn put(&mut self, at: usize, bytes: &[u8]) {
        if let Some(dst) = at
            .checked_add(bytes.len())
            .and_then(|end| self.buf.get_mut(at..end))
        {
            dst.copy_from_slice(bytes);
        }
    }

    /// Sets the source address.
    pub fn set_saddr(&mut self, addr: F) {
        self.write(F::SADDR, addr.as_ref(), Field::Addr);
        self.hdr.saddr = addr;
    }

    /// Sets the destination address.
    pub fn set_daddr(&mut self, addr: F) {
        self.write(F::DADDR, addr.as_ref(), Field::Addr);
        self.hdr.daddr = addr;
    }

    /// Sets the source port.
    pub fn set_sport(&mut self, port: u16) {
        let at = self.hdr.ip_header_len;
        self.write(at, &port.to_be_bytes(), Field::Tcp);
        self.hdr.sport = port;
    }

    /// Sets the destination port.
    pub fn set_dport(&mut self, port: u16) {
        let at = self.hdr.ip_header_len + 2;
        self.write(at, &port.to_be_bytes(), Field::Tcp);
        self.hdr.dport = port;
    }

    /// Sets the sequence number.
    pub fn set_seq(&mut self, seq: u32) {
        let at = self.hdr.ip_header_len + TCP_SEQ;
        self.write(at, &seq.to_be_bytes(), Field::Tcp);
        self.hdr.seq = seq;
    }

    /// Sets the acknowledgment number.
    pub fn set_ack(&mut self, ack: u32) {
        let at = self.hdr.ip_header_len + TCP_ACK;
        self.write(at, &ack.to_be_bytes(), Field::Tcp);
        self.hdr.ack = ack;
    }

    /// Sets the window field (unscaled).
    pub fn set_window(&mut self, window: u16) {
        let at = self.hdr.ip_header_len + TCP_WINDOW;
        self.write(at, &window.to_be_bytes(), Field::Tcp);
        self.hdr.window = window;
    }

    /// Sets TSval; returns whether the packet has a timestamp option (without
    /// one nothing changes).
    pub fn set_tsval(&mut self, tsval: u32) -> bool {
        let Some((_, tsecr)) = self.hdr.options.timestamps else {
            return false;
        };
        self.write(self.hdr.options.ts_at, &tsval.to_be_bytes(), Field::Tcp);
        self.hdr.options.timestamps = Some((tsval, tsecr));
        true
    }

    /// Sets TSecr; returns whether the packet has a timestamp option
    /// (without one nothing changes).
    pub fn set_tsecr(&mut self, tsecr: u32) -> bool {
        let Some((tsval, _)) = self.hdr.options.timestamps else {
            return false;
        };
        self.write(self.hdr.options.ts_at + 4, &tsecr.to_be_bytes(), Field::Tcp);
        self.hdr.options.timestamps = Some((tsval, tsecr));
        true
    }

    /// Adds `delta` (wrapping) to both edges of every SACK block; returns
    /// the number of blocks.
    pub fn add_sack_delta(&mut self, delta: u32) -> usize {
        let count = usize::from(self.hdr.options.sack_count);
        let base = self.hdr.options.sack_at;
        for i in 0..count {
            let Some(block) = self.hdr.options.sack.get(i).copied() else {
                break;
            };
            let moved = SackBlock {
                start: block.start.wrapping_add(delta),
                end: block.end.wrapping_add(delta),
            };
            let at = base + 8 * i;
            self.write(at, &moved.start.to_be_bytes(), Field::Tcp);
            self.write(at + 4, &moved.end.to_be_bytes(), Field::Tcp);
            if let Some(slot) = self.hdr.options.sack.get_mut(i) {
                *slot = moved;
            }
        }
        count
    }
}

/// Sets the source address of the packet in `buf`.
pub fn set_saddr(buf: &mut [u8], addr: [u8; 4], mode: CsumMode) -> Result<(), ParseError> {
    TcpPacket::parse(buf, mode)?.set_saddr(addr);
    Ok(())
}

/// Sets the destination address of the packet in `buf`.
pub fn set_daddr(buf: &mut [u8], addr: [u8; 4], mode: CsumMode) -> Result<(), ParseError> {
    TcpPacket::parse(buf, mode)?.set_daddr(addr);
    Ok(())
}

/// Sets the sequence number of the packet in `buf`.
pub fn set_seq(buf: &mut [u8], seq: u32, mode: CsumMode) -> Result<(), ParseError> {
    TcpPacket::parse(buf, mode)?.set_seq(seq);
    Ok(())
}

/// Sets the acknowledgment number of the packet in `buf`.
pub fn set_ack(buf: &mut [u8], ack: u32, mode: CsumMode) -> Result<(), ParseError> {
    TcpPacket::parse(buf, mode)?.set_ack(ack);
    Ok(())
}

/// Sets the window field of the packet in `buf`.
pub fn set_window(buf: &mut [u8], window: u16, mode: CsumMode) -> Result<(), ParseError> {
    TcpPacket::parse(buf, mode)?.set_window(window);
    Ok(())
}

/// Sets TSval of the packet in `buf`; `Ok(false)` without a timestamp
/// option.
pub fn set_tsval(buf: &mut [u8], tsval: u32, mode: CsumMode) -> Result<bool, ParseError> {
    Ok(TcpPacket::parse(buf, mode)?.set_tsval(tsval))
}

/// Sets TSecr of the packet in `buf`; `Ok(false)` without a timestamp
/// option.
pub fn set_tsecr(buf: &mut [u8], tsecr: u32, mode: CsumMode) -> Result<bool, ParseError> {
    Ok(TcpPacket::parse(buf, mode)?.set_tsecr(tsecr))
}

/// Adds `delta` to every SACK edge of the packet in `buf`; returns the
/// number of blocks.
pub fn add_sack_delta(buf: &mut [u8], delta: u32, mode: CsumMode) -> Result<usize, ParseError> {
    Ok(TcpPacket::parse(buf, mode)?.add_sack_delta(delta))
}

/// Options of a segment built by [`build`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// MSS option (SYN only).
    pub mss: Option<u16>,
    /// Window scale option (SYN only).
    pub wscale: Option<u8>,
    /// SACK-permitted option (SYN only).
    pub sack_permitted: bool,
    /// Timestamps option `(TSval, TSecr)`.
    pub timestamps: Option<(u32, u32)>,
}

/// A TCP segment to build with [`build`].
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a, F: Family = V4> {
    /// Source address, wire order.
    pub saddr: F,
    /// Destination address, wire order.
    pub daddr: F,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flags ([`flags`]).
    pub flags: u8,
    /// Window field, unscaled.
    pub window: u16,
    /// Options.
    pub options: BuildOptions,
    /// Payload.
    pub payload: &'a [u8],
}

/// Length of the options [`build`] writes for `o`: MSS 4, NOP NOP TS 12,
/// NOP WS 4, NOP NOP SACK-permitted 4 (or 2 folded into the timestamp
/// padding as Linux does: SACK-perm TS).
fn options_len(o: &BuildOptions) -> usize {
    let mut len = 0;
    if o.mss.is_some() {
        len += 4;
    }
    if o.timestamps.is_some() || o.sack_permitted {
        len += if o.timestamps.is_some() { 12 } else { 4 };
    }
    if o.wscale.is_some() {
        len += 4;
    }
    len
}

/// Writes `seg` as an IPv4 (no options, DF, TTL 64) or IPv6 (no extension
/// headers, traffic class and flow label 0, hop limit 64) TCP packet with
/// correct IP and TCP checksums at the start of `buf`; returns its length,
/// or `None` if `buf` is too small or the packet longer than its length
/// field allows (65535 bytes; IPv6: a payload of 65535).
/// The option layout is Linux's: MSS, then SACK-permitted + timestamps
/// (or NOP NOP SACK-permitted, or NOP NOP timestamps), then NOP window
/// scale.
pub fn build<F: Family>(seg: &Segment<'_, F>, buf: &mut [u8]) -> Option<usize> {
    let olen = options_len(&seg.options);
    let thl = TCP_MIN_HEADER_LEN + olen;
    let l4_len = thl + seg.payload.len();
    let total = F::BUILD_HEADER_LEN + l4_len;
    let pkt = buf.get_mut(..total)?;
    let (ip, rest) = pkt.split_at_mut(F::BUILD_HEADER_LEN);
    F::write_header(ip, &seg.saddr, &seg.daddr, l4_len)?;
    rest.fill(0);
    let (tcp, payload) = rest.split_at_mut(thl);
    tcp[0..2].copy_from_slice(&seg.sport.to_be_bytes());
    tcp[2..4].copy_from_slice(&seg.dport.to_be_bytes());
    tcp[4..8].copy_from_slice(&seg.seq.to_be_bytes());
    tcp[8..12].copy_from_slice(&seg.ack.to_be_bytes());
    // thl <= 20 + 24: fits the 4-bit word count.
    tcp[12] = ((thl / 4) as u8) << 4;
    tcp[13] = seg.flags;
    tcp[14..16].copy_from_slice(&seg.window.to_be_bytes());
    let o = &seg.options;
    let mut at = TCP_MIN_HEADER_LEN;
    if let Some(mss) = o.mss {
        tcp[at..at + 4].copy_from_slice(&[opt::MSS, 4, (mss >> 8) as u8, mss as u8]);
        at += 4;
    }
    match (o.timestamps, o.sack_permitted) {
        (Some((val, ecr)), sack) => {
            let lead = if sack {
                [opt::SACK_PERM, 2]
            } else {
                [opt::NOP, opt::NOP]
            };
            tcp[at..at + 2].copy_from_slice(&lead);
            tcp[at + 2] = opt::TIMESTAMP;
            tcp[at + 3] = 10;
            tcp[at + 4..at + 8].copy_from_slice(&val.to_be_bytes());
            tcp[at + 8..at + 12].copy_from_slice(&ecr.to_be_bytes());
            at += 12;
        }
        (None, true) => {
            tcp[at..at + 4].copy_from_slice(&[opt::NOP, opt::NOP, opt::SACK_PERM, 2]);
            at += 4;
        }
        (None, false) => {}
    }
    if let Some(ws) = o.wscale {
        tcp[at..at + 4].copy_from_slice(&[opt::NOP, opt::WSCALE, 3, ws]);
    }
    payload.copy_from_slice(seg.payload);
    let check = tcp_checksum_in::<F>(&seg.saddr, &seg.daddr, tcp, payload);
    tcp[16..18].copy_from_slice(&check.to_be_bytes());
    Some(total)
}

/// The TCP checksum of `header` (check field zero or included as is) and
/// `payload` with the IPv4 pseudo-header of `saddr`, `daddr`.
pub fn tcp_checksum(saddr: &[u8; 4], daddr: &[u8; 4], header: &[u8], payload: &[u8]) -> u16 {
    tcp_checksum_in::<V4>(saddr, daddr, header, payload)
}

/// [`tcp_checksum`] with the pseudo-header of IP version `F`.
pub fn tcp_checksum_in<F: Family>(saddr: &F, daddr: &F, header: &[u8], payload: &[u8]) -> u16 {
    let mut acc = F::pseudo_sum(saddr, daddr, header.len() + payload.len());
    acc = csum::sum(header, acc);
    // A header of odd length never happens (4-byte words).
    acc = csum::sum(payload, acc);
    !csum::fold(acc)
}
