// SPDX-License-Identifier: GPL-2.0

//! ICMP errors about a handed-off connection's segments: parsing and the
//! in-place rewrite that passes them from the front-end to the back-end.
//!
//! A back-end's segments leave with the VIP as source, so a router that
//! cannot forward one (its link toward the client has a smaller MTU, or
//! the TTL ran out) sends its ICMP error to the VIP, that is to the
//! front-end, which has no socket for the connection. As IPVS does for
//! its connections (`ip_vs_in_icmp`), the front-end rewrites such an error
//! into the back-end's view and forwards it, so that the back-end's own
//! stack (`tcp_v4_err`) finds the server's socket and, for "fragmentation
//! needed", lowers its path MTU:
//!
//! ```text
//!   router --ICMP--> front-end (VIP) ---------------------> back-end
//!       outer:    saddr router, daddr VIP       daddr = back-end address
//!       embedded: saddr VIP, sport VIP port     saddr, sport = server's
//!                 daddr, dport client           (unchanged)
//!                 seq (the client's view)       seq = the back-end's
//! ```
//!
//! The buffer starts at the outer IPv4 header; the message is laid out as
//! (offsets from the ICMP header, `ihl` the embedded IPv4 header's length):
//!
//! ```text
//!  ICMP      0     1     2      4        8
//!            |type |code |check | unused / next-hop MTU |
//!  embedded  8 + 0 ........ 12   16     20
//!  IPv4      |v/ihl ... proto.. |saddr |daddr | (options)
//!  embedded  8 + ihl + 0  2      4      8 ......... 16     18
//!  TCP       |sport |dport |seq  | (ack ...)       |check |
//! ```
//!
//! Only the first 8 bytes of the embedded TCP header are guaranteed to be
//! there (RFC 792); Linux routers quote up to 576 bytes in all. The message
//! ends at the outer IPv4 total length or at the end of the buffer,
//! whichever comes first: nothing past it is read or written.
//!
//! A rewrite keeps every checksum right, incrementally (RFC 1624, through
//! [`super::csum`]): the outer IPv4 header's for the new destination, the
//! embedded IPv4 header's for its new source, the embedded TCP checksum
//! (when its bytes are there) for the new source address, port and
//! sequence number, and the ICMP checksum for every byte of the message
//! that changed, the embedded check fields included. Nothing verifies a
//! checksum first: one that was wrong stays exactly as wrong, and the
//! receiving stack drops the message as it would have.
//!
//! IPv6 works the same way with ICMPv6 (RFC 4443, the code generic over
//! [`Icmp`]): "packet too big" (whose MTU passes as it is, for
//! `tcp_v6_err`), "destination unreachable" and "time exceeded" are passed
//! on. There is no IP header checksum, but the ICMPv6 checksum covers a
//! pseudo-header with the outer addresses, so the new destination updates
//! it too (also with `CHECKSUM_PARTIAL`, where the check field holds that
//! pseudo-header's sum); extension headers, outer or quoted, are skipped as
//! [`super::packet::parse_in`] skips them.
//!
//! Nothing here panics on any input: all accesses are checked, and
//! sequence arithmetic wraps.

use super::{
    csum,
    flow::Key,
    packet::{
        self, get_u16, get_u32, nexthdr, Addresses, CsumMode, Family, IPPROTO_TCP,
        IPV4_MIN_HEADER_LEN, IPV6_HEADER_LEN, V4, V6,
    },
    service::Endpoint,
};

/// IP protocol number of ICMP.
pub const IPPROTO_ICMP: u8 = 1;
/// ICMP type "destination unreachable" (all codes, "fragmentation needed"
/// among them).
pub const DEST_UNREACH: u8 = 3;
/// ICMP code "fragmentation needed and DF set" of [`DEST_UNREACH`], whose
/// next-hop MTU (bytes 6..8 of the ICMP header, RFC 1191) passes as it is.
pub const FRAG_NEEDED: u8 = 4;
/// ICMP type "time exceeded".
pub const TIME_EXCEEDED: u8 = 11;
/// IPv6 next-header number of ICMPv6.
pub const IPPROTO_ICMPV6: u8 = 58;
/// ICMPv6 type "destination unreachable".
pub const V6_DEST_UNREACH: u8 = 1;
/// ICMPv6 type "packet too big" (the MTU in bytes 4..8 of its header).
pub const V6_PACKET_TOO_BIG: u8 = 2;
/// ICMPv6 type "time exceeded".
pub const V6_TIME_EXCEEDED: u8 = 3;
/// Length of the ICMP header of an error message.
pub const ICMP_HEADER_LEN: usize = 8;
/// Bytes of the embedded TCP header an ICMP error carries at least: the
/// ports and the sequence number.
pub const TCP_QUOTED_MIN: usize = 8;
/// Most bytes from the start of the outer IPv4 header that parsing and
/// rewriting look at: both IPv4 headers with the most options (60 bytes
/// each), the ICMP header and the embedded TCP header up to its checksum
/// (20 bytes, without options). What the module makes linear.
pub const HEADERS_MAX: usize = 60 + ICMP_HEADER_LEN + 60 + 20;
/// The same for ICMPv6: both IPv6 headers with up to 64 bytes of extension
/// headers each.
pub const HEADERS_MAX_V6: usize = 2 * (IPV6_HEADER_LEN + 64) + ICMP_HEADER_LEN + 20;

// Offsets inside an IPv4 header.
const IP_TOT_LEN: usize = 2;
const IP_FRAG: usize = 6;
const IP_PROTO: usize = 9;
// Offsets inside the ICMP header and the TCP header.
const ICMP_CHECK: usize = 2;
const TCP_SEQ: usize = 4;
const TCP_CHECK: usize = 16;
// IPv4 fragment field bits.
const IP_MF: u16 = 0x2000;
const IP_OFFSET: u16 = 0x1fff;

/// Why a buffer is not an ICMP error about a TCP segment that can be
/// rewritten.
///
/// [`ParseError::malformed`] tells the broken ones (which the module
/// counts) from those that are simply something else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not ICMP of the IP version parsed: version or protocol.
    NotIcmp,
    /// A fragment of an ICMP message (MF set or offset not 0).
    Fragment,
    /// An ICMP type other than [`DEST_UNREACH`] and [`TIME_EXCEEDED`]
    /// (echo, redirect, ...).
    NotError,
    /// The error is about something other than the first bytes of a TCP
    /// segment: another protocol, or a later fragment (no TCP header).
    NotTcp,
    /// The outer IPv4 header length is below 20 bytes; an outer IPv6
    /// header with payload length 0 or extension headers that cannot be
    /// skipped.
    BadHeader,
    /// The message ends inside the outer IPv4 header, the ICMP header, the
    /// embedded IPv4 header or the first 8 bytes of the embedded TCP
    /// header.
    Truncated,
    /// The embedded header is not a header of the outer one's version:
    /// version, IPv4 header length, IPv6 extension headers that cannot be
    /// skipped.
    BadInnerHeader,
}

impl ParseError {
    /// Whether the buffer is an ICMP error that is broken (truncated, bad
    /// headers), rather than a message of another kind.
    pub fn malformed(self) -> bool {
        matches!(
            self,
            Self::BadHeader | Self::Truncated | Self::BadInnerHeader
        )
    }

    /// A short description, for logs.
    pub fn describe(self) -> &'static str {
        match self {
            Self::NotIcmp => "not ICMP",
            Self::Fragment => "ICMP fragment",
            Self::NotError => "not an ICMP error",
            Self::NotTcp => "not about a TCP segment",
            Self::BadHeader => "bad IP header",
            Self::Truncated => "truncated ICMP error",
            Self::BadInnerHeader => "bad embedded IP header",
        }
    }
}

impl core::fmt::Display for ParseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.describe())
    }
}

/// The ICMP of an IP version ([`V4`]: ICMP, [`V6`]: ICMPv6): which
/// messages are errors about a segment and where their headers lie.
pub trait Icmp: Family {
    /// Protocol (next header) number of the version's ICMP.
    const PROTO: u8;
    /// Whether the ICMP checksum covers a pseudo-header of the outer
    /// addresses (ICMPv6).
    const PSEUDO_HEADER: bool;
    /// What the module makes linear of a message (see [`HEADERS_MAX`]).
    const HEADERS_MAX: usize;

    /// Whether ICMP type `kind` is an error that is passed on.
    fn is_error(kind: u8) -> bool;

    /// The outer header(s) at the start of `buf`: the offset of the ICMP
    /// header and the message's length from its length field.
    fn outer(buf: &[u8]) -> Result<(usize, usize), ParseError>;

    /// The embedded header at `at` in `msg` (the message): the offset of
    /// the quoted TCP header, of a segment or its first fragment.
    fn inner(msg: &[u8], at: usize) -> Result<usize, ParseError>;
}

impl Icmp for V4 {
    const PROTO: u8 = IPPROTO_ICMP;
    const PSEUDO_HEADER: bool = false;
    const HEADERS_MAX: usize = HEADERS_MAX;

    fn is_error(kind: u8) -> bool {
        kind == DEST_UNREACH || kind == TIME_EXCEEDED
    }

    fn outer(buf: &[u8]) -> Result<(usize, usize), ParseError> {
        let truncated = ParseError::Truncated;
        let first = *buf.first().ok_or(truncated)?;
        if first >> 4 != 4 {
            return Err(ParseError::NotIcmp);
        }
        let ihl = usize::from(first & 0x0f) * 4;
        if ihl < IPV4_MIN_HEADER_LEN {
            return Err(ParseError::BadHeader);
        }
        if buf.len() < ihl {
            return Err(truncated);
        }
        if buf.get(IP_PROTO) != Some(&IPPROTO_ICMP) {
            return Err(ParseError::NotIcmp);
        }
        if get_u16(buf, IP_FRAG).ok_or(truncated)? & (IP_MF | IP_OFFSET) != 0 {
            return Err(ParseError::Fragment);
        }
        let total = usize::from(get_u16(buf, IP_TOT_LEN).ok_or(truncated)?);
        Ok((ihl, total))
    }

    fn inner(msg: &[u8], at: usize) -> Result<usize, ParseError> {
        let truncated = ParseError::Truncated;
        let first = *msg.get(at).ok_or(truncated)?;
        let ihl = usize::from(first & 0x0f) * 4;
        if first >> 4 != 4 || ihl < IPV4_MIN_HEADER_LEN {
            return Err(ParseError::BadInnerHeader);
        }
        let tcp_at = at + ihl;
        if msg.len() < tcp_at {
            return Err(truncated);
        }
        if msg.get(at + IP_PROTO) != Some(&IPPROTO_TCP) {
            return Err(ParseError::NotTcp);
        }
        if get_u16(msg, at + IP_FRAG).ok_or(truncated)? & IP_OFFSET != 0 {
            return Err(ParseError::NotTcp);
        }
        Ok(tcp_at)
    }
}

impl Icmp for V6 {
    const PROTO: u8 = IPPROTO_ICMPV6;
    const PSEUDO_HEADER: bool = true;
    const HEADERS_MAX: usize = HEADERS_MAX_V6;

    fn is_error(kind: u8) -> bool {
        matches!(kind, V6_DEST_UNREACH | V6_PACKET_TOO_BIG | V6_TIME_EXCEEDED)
    }

    fn outer(buf: &[u8]) -> Result<(usize, usize), ParseError> {
        let first = *buf.first().ok_or(ParseError::Truncated)?;
        if first >> 4 != 6 {
            return Err(ParseError::NotIcmp);
        }
        if buf.len() < IPV6_HEADER_LEN {
            return Err(ParseError::Truncated);
        }
        let plen = usize::from(get_u16(buf, packet::IP6_PLEN).ok_or(ParseError::Truncated)?);
        let next = *buf.get(packet::IP6_NEXT).ok_or(ParseError::Truncated)?;
        if plen == 0 && next != nexthdr::NONE {
            return Err(ParseError::BadHeader);
        }
        let total = IPV6_HEADER_LEN + plen;
        let end = total.min(buf.len());
        match packet::skip_extensions(buf, next, IPV6_HEADER_LEN, end, false) {
            Ok((IPPROTO_ICMPV6, at)) => Ok((at, total)),
            Ok(_) => Err(ParseError::NotIcmp),
            Err(packet::ParseError::Fragment) => Err(ParseError::Fragment),
            Err(packet::ParseError::Truncated) => Err(ParseError::Truncated),
            Err(_) => Err(ParseError::BadHeader),
        }
    }

    fn inner(msg: &[u8], at: usize) -> Result<usize, ParseError> {
        let first = *msg.get(at).ok_or(ParseError::Truncated)?;
        if first >> 4 != 6 {
            return Err(ParseError::BadInnerHeader);
        }
        if msg.len() < at + IPV6_HEADER_LEN {
            return Err(ParseError::Truncated);
        }
        let next = *msg
            .get(at + packet::IP6_NEXT)
            .ok_or(ParseError::Truncated)?;
        // The quote may end anywhere: the extension headers must end
        // inside it.
        match packet::skip_extensions(msg, next, at + IPV6_HEADER_LEN, msg.len(), true) {
            Ok((IPPROTO_TCP, tcp_at)) => Ok(tcp_at),
            Ok(_) | Err(packet::ParseError::Fragment) => Err(ParseError::NotTcp),
            Err(packet::ParseError::Truncated) => Err(ParseError::Truncated),
            Err(_) => Err(ParseError::BadInnerHeader),
        }
    }
}

/// The parsed headers of an ICMP error about a TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpError<A: Icmp = V4> {
    /// Outer source address (who reports the error), wire order.
    pub saddr: A,
    /// Outer destination address (the source of the quoted segment, as a
    /// rule), wire order.
    pub daddr: A,
    /// ICMP type: [`DEST_UNREACH`] or [`TIME_EXCEEDED`]; ICMPv6:
    /// [`V6_DEST_UNREACH`], [`V6_PACKET_TOO_BIG`] or [`V6_TIME_EXCEEDED`].
    pub kind: u8,
    /// ICMP code.
    pub code: u8,
    /// Outer IP header length in bytes (IPv6: extension headers included).
    pub ip_header_len: usize,
    /// Embedded IP header length in bytes (IPv6: extension headers
    /// included).
    pub inner_header_len: usize,
    /// Addresses and ports of the quoted segment.
    pub inner: Addresses<A>,
    /// Sequence number of the quoted segment.
    pub seq: u32,
    /// Whether the message holds the quoted segment's TCP checksum (it is
    /// then kept right).
    pub tcp_check: bool,
    /// Length of the message in the buffer, from the outer IP header: the
    /// total length, or less if the buffer ends first.
    pub len: usize,
}

impl<A: Icmp> IcmpError<A> {
    /// The flow key of the quoted segment, which went from this node's end
    /// to the client (see [`Key::outbound`]).
    pub fn key(&self) -> Key<A> {
        Key {
            client: Endpoint {
                addr: self.inner.daddr,
                port: self.inner.dport,
            },
            local: Endpoint {
                addr: self.inner.saddr,
                port: self.inner.sport,
            },
        }
    }

    /// Offset of the embedded IP header from the start of the buffer.
    fn inner_at(&self) -> usize {
        self.ip_header_len + ICMP_HEADER_LEN
    }

    /// Offset of the embedded TCP header from the start of the buffer.
    fn tcp_at(&self) -> usize {
        self.inner_at() + self.inner_header_len
    }
}

/// Parses the ICMP error at the start of `buf` (from its outer IPv4
/// header).
///
/// Checks, in this order: version 4 ([`ParseError::NotIcmp`]), header
/// length at least 20 ([`ParseError::BadHeader`]) and inside `buf`,
/// protocol ICMP, not a fragment, the ICMP type ([`ParseError::NotError`]),
/// the ICMP header complete, the embedded header IPv4 with a length of at
/// least 20 and complete, its protocol TCP and its fragment offset 0
/// ([`ParseError::NotTcp`]), and the first 8 bytes of its TCP header
/// present. "Present" means before the end of the message: the outer
/// total length, or the end of `buf` if that comes first. The checksums
/// are not looked at.
pub fn parse(buf: &[u8]) -> Result<IcmpError, ParseError> {
    parse_in::<V4>(buf)
}

/// [`parse`] for either IP version. ICMPv6: version 6, the IPv6 header
/// inside `buf`, a payload length that is not 0, the extension headers
/// skipped as [`super::packet::parse_in`] skips them up to an ICMPv6
/// header (a fragment: [`ParseError::Fragment`]; another protocol:
/// [`ParseError::NotIcmp`]), then as for IPv4, the quoted IPv6 header's
/// extension headers inside the message and a first fragment taken.
pub fn parse_in<A: Icmp>(buf: &[u8]) -> Result<IcmpError<A>, ParseError> {
    let truncated = ParseError::Truncated;
    let (ihl, total) = A::outer(buf)?;
    let len = total.min(buf.len());
    // Everything below reads only the message.
    let msg = buf.get(..len).ok_or(truncated)?;
    let kind = *msg.get(ihl).ok_or(truncated)?;
    if !A::is_error(kind) {
        return Err(ParseError::NotError);
    }
    let code = *msg.get(ihl + 1).ok_or(truncated)?;
    let inner_at = ihl + ICMP_HEADER_LEN;
    if msg.len() < inner_at {
        return Err(truncated);
    }
    let tcp_at = A::inner(msg, inner_at)?;
    if msg.len() < tcp_at + TCP_QUOTED_MIN {
        return Err(truncated);
    }
    Ok(IcmpError {
        saddr: A::addr(msg, A::SADDR).ok_or(truncated)?,
        daddr: A::addr(msg, A::DADDR).ok_or(truncated)?,
        kind,
        code,
        ip_header_len: ihl,
        inner_header_len: tcp_at - inner_at,
        inner: Addresses {
            saddr: A::addr(msg, inner_at + A::SADDR).ok_or(truncated)?,
            daddr: A::addr(msg, inner_at + A::DADDR).ok_or(truncated)?,
            sport: get_u16(msg, tcp_at).ok_or(truncated)?,
            dport: get_u16(msg, tcp_at + 2).ok_or(truncated)?,
        },
        seq: get_u32(msg, tcp_at + TCP_SEQ).ok_or(truncated)?,
        tcp_check: msg.len() >= tcp_at + TCP_CHECK + 2,
        len,
    })
}

/// The checksums that cover a rewritten word besides the ICMP checksum.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Covered {
    /// An outer address: the outer IPv4 header's checksum, or the ICMPv6
    /// checksum through its pseudo-header.
    OuterIp,
    /// Only the ICMP checksum (a check field of the embedded headers).
    Message,
    /// An embedded address: the embedded IPv4 header's, and the embedded
    /// TCP checksum's through its pseudo-header.
    InnerAddr,
    /// An embedded TCP header field: the embedded TCP checksum.
    InnerTcp,
}

/// A parsed ICMP error whose addresses, port and sequence number can be
/// rewritten in place with every checksum kept right.
///
/// Made only by [`IcmpPacket::parse`], so a buffer that does not parse is
/// never written. The setters keep [`IcmpPacket::header`] up to date.
#[derive(Debug)]
pub struct IcmpPacket<'a, A: Icmp = V4> {
    buf: &'a mut [u8],
    hdr: IcmpError<A>,
    mode: CsumMode,
}

impl<'a> IcmpPacket<'a> {
    /// Parses `buf` (see [`parse`]) for rewriting; on error `buf` is left
    /// untouched. `mode` is the state of the ICMP checksum: with
    /// [`CsumMode::Partial`] (`CHECKSUM_PARTIAL`) the device computes it
    /// over the bytes as they will be, so it is left alone (ICMPv6: but for
    /// the outer addresses, whose pseudo-header sum the field holds); the
    /// other checksums are complete ones in either mode.
    pub fn parse(buf: &'a mut [u8], mode: CsumMode) -> Result<Self, ParseError> {
        Self::parse_in(buf, mode)
    }
}

impl<'a, A: Icmp> IcmpPacket<'a, A> {
    /// [`IcmpPacket::parse`] for either IP version (see [`parse_in`]).
    pub fn parse_in(buf: &'a mut [u8], mode: CsumMode) -> Result<Self, ParseError> {
        let hdr = parse_in::<A>(buf)?;
        Ok(Self { buf, hdr, mode })
    }

    /// The headers as they are now.
    pub fn header(&self) -> &IcmpError<A> {
        &self.hdr
    }

    /// The checksum mode given to [`IcmpPacket::parse`].
    pub fn mode(&self) -> CsumMode {
        self.mode
    }

    /// Writes the 16-bit word `new` at `at` (an even offset from the start
    /// of the buffer, inside the message), updating the checksums that
    /// cover it.
    fn write16(&mut self, at: usize, new: u16, covered: Covered) {
        let (Some(old), Some(end)) = (get_u16(self.buf, at), at.checked_add(2)) else {
            return;
        };
        if old == new || end > self.hdr.len {
            return;
        }
        let tcp_check = self.hdr.tcp_at() + TCP_CHECK;
        match covered {
            Covered::OuterIp => {
                if let Some(check) = A::HEADER_CHECK {
                    self.update(check, old, new);
                }
                if A::PSEUDO_HEADER {
                    let check = self.hdr.ip_header_len + ICMP_CHECK;
                    match self.mode {
                        CsumMode::Full => self.update(check, old, new),
                        // The field holds the pseudo-header's sum, not
                        // complemented.
                        CsumMode::Partial => {
                            if let Some(c) = get_u16(self.buf, check) {
                                self.put(check, !csum::update16(!c, old, new));
                            }
                        }
                    }
                }
            }
            Covered::Message => {}
            Covered::InnerAddr => {
                if let Some(check) = A::HEADER_CHECK {
                    self.update_covered(self.hdr.inner_at() + check, old, new);
                }
                if self.hdr.tcp_check {
                    self.update_covered(tcp_check, old, new);
                }
            }
            Covered::InnerTcp => {
                if self.hdr.tcp_check {
                    self.update_covered(tcp_check, old, new);
                }
            }
        }
        if covered != Covered::OuterIp {
            self.update_icmp(old, new);
        }
        self.put(at, new);
    }

    /// Writes `new` (an even number of bytes) at `at` word by word (see
    /// [`Self::write16`]).
    fn write(&mut self, at: usize, new: &[u8], covered: Covered) {
        for (i, w) in new.chunks_exact(2).enumerate() {
            self.write16(at + 2 * i, u16::from_be_bytes([w[0], w[1]]), covered);
        }
    }

    /// Updates the check field at `check_at` for a covered word changing
    /// from `old` to `new`; the check field itself is not in the message.
    fn update(&mut self, check_at: usize, old: u16, new: u16) {
        if let Some(check) = get_u16(self.buf, check_at) {
            self.put(check_at, csum::update16(check, old, new));
        }
    }

    /// Updates the embedded check field at `check_at` for a covered word
    /// changing from `old` to `new`, and the ICMP checksum for the check
    /// field's own change.
    fn update_covered(&mut self, check_at: usize, old: u16, new: u16) {
        if let Some(check) = get_u16(self.buf, check_at) {
            self.write16(check_at, csum::update16(check, old, new), Covered::Message);
        }
    }

    /// Updates the ICMP checksum for a word of the message changing from
    /// `old` to `new` (not with `CHECKSUM_PARTIAL`).
    fn update_icmp(&mut self, old: u16, new: u16) {
        if self.mode == CsumMode::Full {
            self.update(self.hdr.ip_header_len + ICMP_CHECK, old, new);
        }
    }

    fn put(&mut self, at: usize, word: u16) {
        if let Some(dst) = at.checked_add(2).and_then(|end| self.buf.get_mut(at..end)) {
            dst.copy_from_slice(&word.to_be_bytes());
        }
    }

    /// Sets the outer destination address.
    pub fn set_daddr(&mut self, addr: A) {
        self.write(A::DADDR, addr.as_ref(), Covered::OuterIp);
        self.hdr.daddr = addr;
    }

    /// Sets the quoted segment's source address and port.
    pub fn set_inner_source(&mut self, source: Endpoint<A>) {
        let at = self.hdr.inner_at() + A::SADDR;
        self.write(at, source.addr.as_ref(), Covered::InnerAddr);
        self.write16(self.hdr.tcp_at(), source.port, Covered::InnerTcp);
        self.hdr.inner.saddr = source.addr;
        self.hdr.inner.sport = source.port;
    }

    /// Sets the quoted segment's sequence number.
    pub fn set_inner_seq(&mut self, seq: u32) {
        let at = self.hdr.tcp_at() + TCP_SEQ;
        self.write(at, &seq.to_be_bytes(), Covered::InnerTcp);
        self.hdr.seq = seq;
    }
}
