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
//! Nothing here panics on any input: all accesses are checked, and
//! sequence arithmetic wraps.

use super::{
    csum,
    flow::Key,
    packet::{get_addr, get_u16, get_u32, Addresses, CsumMode, IPPROTO_TCP, IPV4_MIN_HEADER_LEN},
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

// Offsets inside an IPv4 header.
const IP_TOT_LEN: usize = 2;
const IP_FRAG: usize = 6;
const IP_PROTO: usize = 9;
const IP_CHECK: usize = 10;
const IP_SADDR: usize = 12;
const IP_DADDR: usize = 16;
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
    /// Not IPv4 ICMP: version or protocol.
    NotIcmp,
    /// A fragment of an ICMP message (MF set or offset not 0).
    Fragment,
    /// An ICMP type other than [`DEST_UNREACH`] and [`TIME_EXCEEDED`]
    /// (echo, redirect, ...).
    NotError,
    /// The error is about something other than the first bytes of a TCP
    /// segment: another protocol, or a later fragment (no TCP header).
    NotTcp,
    /// The outer IPv4 header length is below 20 bytes.
    BadHeader,
    /// The message ends inside the outer IPv4 header, the ICMP header, the
    /// embedded IPv4 header or the first 8 bytes of the embedded TCP
    /// header.
    Truncated,
    /// The embedded header is not an IPv4 header: version or header length.
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
            Self::NotIcmp => "not IPv4 ICMP",
            Self::Fragment => "ICMP fragment",
            Self::NotError => "not an ICMP error",
            Self::NotTcp => "not about a TCP segment",
            Self::BadHeader => "bad IPv4 header length",
            Self::Truncated => "truncated ICMP error",
            Self::BadInnerHeader => "bad embedded IPv4 header",
        }
    }
}

impl core::fmt::Display for ParseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.describe())
    }
}

/// The parsed headers of an ICMP error about a TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpError {
    /// Outer source address (who reports the error), wire order.
    pub saddr: [u8; 4],
    /// Outer destination address (the source of the quoted segment, as a
    /// rule), wire order.
    pub daddr: [u8; 4],
    /// ICMP type: [`DEST_UNREACH`] or [`TIME_EXCEEDED`].
    pub kind: u8,
    /// ICMP code.
    pub code: u8,
    /// Outer IPv4 header length in bytes.
    pub ip_header_len: usize,
    /// Embedded IPv4 header length in bytes.
    pub inner_header_len: usize,
    /// Addresses and ports of the quoted segment.
    pub inner: Addresses,
    /// Sequence number of the quoted segment.
    pub seq: u32,
    /// Whether the message holds the quoted segment's TCP checksum (it is
    /// then kept right).
    pub tcp_check: bool,
    /// Length of the message in the buffer, from the outer IPv4 header:
    /// the total length, or less if the buffer ends first.
    pub len: usize,
}

impl IcmpError {
    /// The flow key of the quoted segment, which went from this node's end
    /// to the client (see [`Key::outbound`]).
    pub fn key(&self) -> Key {
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

    /// Offset of the embedded IPv4 header from the start of the buffer.
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
    let len = total.min(buf.len());
    // Everything below reads only the message.
    let msg = buf.get(..len).ok_or(truncated)?;
    let kind = *msg.get(ihl).ok_or(truncated)?;
    if kind != DEST_UNREACH && kind != TIME_EXCEEDED {
        return Err(ParseError::NotError);
    }
    let code = *msg.get(ihl + 1).ok_or(truncated)?;
    let inner_at = ihl + ICMP_HEADER_LEN;
    if msg.len() < inner_at {
        return Err(truncated);
    }
    let inner_first = *msg.get(inner_at).ok_or(truncated)?;
    let inner_ihl = usize::from(inner_first & 0x0f) * 4;
    if inner_first >> 4 != 4 || inner_ihl < IPV4_MIN_HEADER_LEN {
        return Err(ParseError::BadInnerHeader);
    }
    let tcp_at = inner_at + inner_ihl;
    if msg.len() < tcp_at {
        return Err(truncated);
    }
    if msg.get(inner_at + IP_PROTO) != Some(&IPPROTO_TCP) {
        return Err(ParseError::NotTcp);
    }
    if get_u16(msg, inner_at + IP_FRAG).ok_or(truncated)? & IP_OFFSET != 0 {
        return Err(ParseError::NotTcp);
    }
    if msg.len() < tcp_at + TCP_QUOTED_MIN {
        return Err(truncated);
    }
    Ok(IcmpError {
        saddr: get_addr(msg, IP_SADDR).ok_or(truncated)?,
        daddr: get_addr(msg, IP_DADDR).ok_or(truncated)?,
        kind,
        code,
        ip_header_len: ihl,
        inner_header_len: inner_ihl,
        inner: Addresses {
            saddr: get_addr(msg, inner_at + IP_SADDR).ok_or(truncated)?,
            daddr: get_addr(msg, inner_at + IP_DADDR).ok_or(truncated)?,
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
    /// The outer IPv4 header's only (not part of the ICMP message).
    OuterIp,
    /// Only the ICMP checksum (a check field of the embedded headers).
    Message,
    /// An embedded IPv4 address: the embedded IPv4 header's, and the
    /// embedded TCP checksum's through its pseudo-header.
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
pub struct IcmpPacket<'a> {
    buf: &'a mut [u8],
    hdr: IcmpError,
    mode: CsumMode,
}

impl<'a> IcmpPacket<'a> {
    /// Parses `buf` (see [`parse`]) for rewriting; on error `buf` is left
    /// untouched. `mode` is the state of the ICMP checksum: with
    /// [`CsumMode::Partial`] (`CHECKSUM_PARTIAL`) the device computes it
    /// over the bytes as they will be, so it is left alone; the other
    /// checksums are complete ones in either mode.
    pub fn parse(buf: &'a mut [u8], mode: CsumMode) -> Result<Self, ParseError> {
        let hdr = parse(buf)?;
        Ok(Self { buf, hdr, mode })
    }

    /// The headers as they are now.
    pub fn header(&self) -> &IcmpError {
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
        let inner_check = self.hdr.inner_at() + IP_CHECK;
        let tcp_check = self.hdr.tcp_at() + TCP_CHECK;
        match covered {
            Covered::OuterIp => self.update(IP_CHECK, old, new),
            Covered::Message => {}
            Covered::InnerAddr => {
                self.update_covered(inner_check, old, new);
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

    /// Writes the 32-bit `new` at `at` as two words (see [`Self::write16`]).
    fn write32(&mut self, at: usize, new: u32, covered: Covered) {
        let [a, b, c, d] = new.to_be_bytes();
        self.write16(at, u16::from_be_bytes([a, b]), covered);
        self.write16(at + 2, u16::from_be_bytes([c, d]), covered);
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
    pub fn set_daddr(&mut self, addr: [u8; 4]) {
        self.write32(IP_DADDR, u32::from_be_bytes(addr), Covered::OuterIp);
        self.hdr.daddr = addr;
    }

    /// Sets the quoted segment's source address and port.
    pub fn set_inner_source(&mut self, source: Endpoint) {
        let at = self.hdr.inner_at() + IP_SADDR;
        self.write32(at, u32::from_be_bytes(source.addr), Covered::InnerAddr);
        self.write16(self.hdr.tcp_at(), source.port, Covered::InnerTcp);
        self.hdr.inner.saddr = source.addr;
        self.hdr.inner.sport = source.port;
    }

    /// Sets the quoted segment's sequence number.
    pub fn set_inner_seq(&mut self, seq: u32) {
        let at = self.hdr.tcp_at() + TCP_SEQ;
        self.write32(at, seq, Covered::InnerTcp);
        self.hdr.seq = seq;
    }
}
