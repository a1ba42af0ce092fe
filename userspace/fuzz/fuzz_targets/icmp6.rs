// SPDX-License-Identifier: GPL-2.0

//! Fuzz target `icmp6`: the ICMPv6 error parser and rewriter of
//! `src/proto/icmp.rs` (`parse_in::<V6>`, `IcmpPacket<V6>`), alone and
//! through `Flow::on_icmp_error` as the front-end's pre-routing hook uses
//! them.
//!
//! Input: [`PARAMS`] bytes of rewrite parameters, then the packet (from its
//! outer IPv6 header).
//!
//! Asserts:
//!
//! * `icmp::parse_in::<V6>` accepts exactly what an independent reference
//!   parser written from the documented rules accepts (the outer extension
//!   headers up to ICMPv6 inside the payload length, the error types, the
//!   quoted IPv6 header and its extension headers inside the message, a
//!   first fragment taken, 8 bytes of TCP), with the same error kind
//!   otherwise; on success every field equals the bytes at its offset.
//! * Nothing past the message (the payload length) decides: other bytes
//!   there give the same answer.
//! * A buffer that does not parse is left byte-identical by
//!   `IcmpPacket::parse_in`, which reports the parser's error.
//! * On one that parses, in both checksum modes, with the ICMPv6 check
//!   first made right or left as it came: the rewrite (the setters, or a
//!   forwarding front flow) changes exactly the outer destination, the
//!   quoted source address and port and the quoted sequence number, and no
//!   other byte but the ICMPv6 and quoted TCP check fields, nothing past
//!   the message. The ICMPv6 check equals the one computed from scratch
//!   over its pseudo-header when it was right before (`CHECKSUM_PARTIAL`:
//!   the pseudo-header's sum), and keeps its error otherwise; the quoted
//!   TCP checksum keeps its sum over the quoted source address and TCP
//!   bytes.

#![no_main]

use baton_proto::ctrl::Endpoint;
use baton_proto::flow::{Flow, Phase, Role, Verdict};
use baton_proto::icmp::{self, IcmpError, IcmpPacket, ParseError, IPPROTO_ICMPV6};
use baton_proto::packet::{self, CsumMode, V6};
use baton_proto::seq::Translation;
use libfuzzer_sys::fuzz_target;

#[path = "../../baton-proto/tests/common/mod.rs"]
mod common;
use common::{be16, be32, oc, put16, ref_fold_sum, ref_skip_extensions};

/// Bytes of rewrite parameters before the packet.
const PARAMS: usize = 24;

// Bits of the first parameter byte.
/// Make the ICMPv6 check right first.
const P_FIX_CHECK: u8 = 1;
/// Go through a forwarding front flow rather than the setters.
const P_FLOW: u8 = 2;

/// The layout the reference parser found: ICMPv6 header, quoted IPv6
/// header and quoted TCP header offsets, message length.
struct Ref {
    at: usize,
    inner: usize,
    tcp: usize,
    len: usize,
}

/// Reference parser, from the rules documented at `icmp::parse_in`.
fn ref_parse(buf: &[u8]) -> Result<Ref, ParseError> {
    use ParseError::*;
    let Some(&first) = buf.first() else {
        return Err(Truncated);
    };
    if first >> 4 != 6 {
        return Err(NotIcmp);
    }
    if buf.len() < 40 {
        return Err(Truncated);
    }
    let plen = usize::from(be16(buf, 4));
    if plen == 0 && buf[6] != 59 {
        return Err(BadHeader);
    }
    let total = 40 + plen;
    let at = match ref_skip_extensions(buf, buf[6], 40, total.min(buf.len()), false) {
        Ok((58, at)) => at,
        Ok(_) => return Err(NotIcmp),
        Err(packet::ParseError::Fragment) => return Err(Fragment),
        Err(packet::ParseError::Truncated) => return Err(Truncated),
        Err(_) => return Err(BadHeader),
    };
    let len = total.min(buf.len());
    let msg = &buf[..len];
    if msg.len() <= at {
        return Err(Truncated);
    }
    if !matches!(msg[at], 1..=3) {
        return Err(NotError);
    }
    let inner = at + 8;
    if msg.len() <= inner {
        return Err(Truncated);
    }
    if msg[inner] >> 4 != 6 {
        return Err(BadInnerHeader);
    }
    if msg.len() < inner + 40 {
        return Err(Truncated);
    }
    let tcp = match ref_skip_extensions(msg, msg[inner + 6], inner + 40, msg.len(), true) {
        Ok((6, tcp)) => tcp,
        Ok(_) | Err(packet::ParseError::Fragment) => return Err(NotTcp),
        Err(packet::ParseError::Truncated) => return Err(Truncated),
        Err(_) => return Err(BadInnerHeader),
    };
    if msg.len() < tcp + 8 {
        return Err(Truncated);
    }
    Ok(Ref {
        at,
        inner,
        tcp,
        len,
    })
}

fn check_fields(buf: &[u8], h: &IcmpError<V6>, r: &Ref) {
    assert_eq!(h.ip_header_len, r.at);
    assert_eq!(h.inner_header_len, r.tcp - r.inner);
    assert_eq!(h.len, r.len);
    assert_eq!(h.saddr[..], buf[8..24]);
    assert_eq!(h.daddr[..], buf[24..40]);
    assert_eq!((h.kind, h.code), (buf[r.at], buf[r.at + 1]));
    assert_eq!(h.inner.saddr[..], buf[r.inner + 8..r.inner + 24]);
    assert_eq!(h.inner.daddr[..], buf[r.inner + 24..r.inner + 40]);
    assert_eq!(h.inner.sport, be16(buf, r.tcp));
    assert_eq!(h.inner.dport, be16(buf, r.tcp + 2));
    assert_eq!(h.seq, be32(buf, r.tcp + 4));
    assert_eq!(h.tcp_check, r.len >= r.tcp + 18);
}

/// The ICMPv6 checksum's sum over the message `msg[..len]` from `at`, with
/// its pseudo-header (the check field included).
fn icmp_sum(msg: &[u8], at: usize, with_body: bool) -> u16 {
    let mut d = msg[8..40].to_vec();
    d.extend_from_slice(&((msg.len() - at) as u32).to_be_bytes());
    d.extend_from_slice(&[0, 0, 0, IPPROTO_ICMPV6]);
    if with_body {
        d.extend_from_slice(&msg[at..]);
    }
    ref_fold_sum(&d)
}

fn rewrite(input: &[u8], h: &IcmpError<V6>, r: &Ref, p: &[u8; PARAMS], mode: CsumMode) {
    let check_at = r.at + 2;
    let mut buf = input.to_vec();
    let fixed = p[0] & P_FIX_CHECK != 0;
    if fixed {
        let mut msg = buf[..r.len].to_vec();
        put16(&mut msg, check_at, 0);
        let c = match mode {
            CsumMode::Full => !icmp_sum(&msg, r.at, true),
            CsumMode::Partial => icmp_sum(&msg, r.at, false),
        };
        put16(&mut buf, check_at, c);
    }
    let before = buf.clone();
    let backend: [u8; 16] = p[1..17].try_into().unwrap();
    let port = be16(p, 17);
    let delta = be32(p, 19);
    let seq = h.seq.wrapping_add(delta);
    let reported = {
        let mut pkt = IcmpPacket::<V6>::parse_in(&mut buf, mode).expect("parses as before");
        if p[0] & P_FLOW != 0 {
            let ep = |addr, port| Endpoint { addr, port };
            let mut f = Flow::new(
                1,
                2,
                Role::Front,
                ep(h.inner.daddr, h.inner.dport),
                // The flow the module finds: its key is the quoted
                // segment's, from the VIP to the client.
                ep(h.inner.saddr, h.inner.sport),
                ep(backend, port),
                0,
            );
            f.phase = Phase::Forwarding;
            // seq_to_backend adds seq_delta.
            f.xlate = Translation {
                seq_delta: delta,
                ..Translation::default()
            };
            let want = if h.daddr == h.inner.saddr {
                Verdict::Rewritten
            } else {
                Verdict::Pass
            };
            assert_eq!(f.on_icmp_error(&mut pkt), want);
            if want == Verdict::Pass {
                None
            } else {
                Some(*pkt.header())
            }
        } else {
            pkt.set_daddr(backend);
            pkt.set_inner_source(Endpoint {
                addr: backend,
                port,
            });
            pkt.set_inner_seq(seq);
            Some(*pkt.header())
        }
    };
    let Some(reported) = reported else {
        assert_eq!(buf, before, "an error for someone else passes untouched");
        return;
    };
    assert_eq!(
        icmp::parse_in::<V6>(&buf),
        Ok(reported),
        "header() is the packet"
    );
    let mut want = before.clone();
    want[24..40].copy_from_slice(&backend);
    want[r.inner + 8..r.inner + 24].copy_from_slice(&backend);
    put16(&mut want, r.tcp, port);
    want[r.tcp + 4..r.tcp + 8].copy_from_slice(&seq.to_be_bytes());
    let mut checks = vec![check_at];
    if h.tcp_check {
        checks.push(r.tcp + 16);
    }
    for &at in &checks {
        want[at..at + 2].copy_from_slice(&buf[at..at + 2]);
    }
    assert_eq!(buf, want, "only the rewritten fields change");
    let (old, new) = (&before[..r.len], &buf[..r.len]);
    match mode {
        CsumMode::Full if fixed => {
            let mut z = new.to_vec();
            put16(&mut z, check_at, 0);
            assert_eq!(
                be16(new, check_at),
                !icmp_sum(&z, r.at, true),
                "ICMPv6 check"
            );
        }
        CsumMode::Full => {
            assert_eq!(
                oc(icmp_sum(old, r.at, true)),
                oc(icmp_sum(new, r.at, true)),
                "ICMPv6 check keeps its error"
            );
        }
        CsumMode::Partial if fixed => {
            assert_eq!(
                be16(new, check_at),
                icmp_sum(new, r.at, false),
                "partial check"
            );
        }
        CsumMode::Partial => {
            let off =
                |m: &[u8]| (oc(be16(m, check_at)) + 0xffff - oc(icmp_sum(m, r.at, false))) % 0xffff;
            assert_eq!(off(old), off(new), "partial check keeps its offset");
        }
    }
    if h.tcp_check {
        let sum = |m: &[u8]| {
            let mut d = m[r.inner + 8..r.inner + 24].to_vec();
            d.extend_from_slice(&m[r.tcp..]);
            oc(ref_fold_sum(&d))
        };
        assert_eq!(sum(old), sum(new), "quoted TCP checksum keeps its sum");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((params, input)) = data.split_first_chunk::<PARAMS>() else {
        return;
    };
    let parsed = icmp::parse_in::<V6>(input);
    match (ref_parse(input), parsed) {
        (Ok(r), Ok(h)) => {
            check_fields(input, &h, &r);
            // Bytes past the message do not count.
            let mut other = input.to_vec();
            for b in &mut other[r.len..] {
                *b = !*b;
            }
            assert_eq!(icmp::parse_in::<V6>(&other), Ok(h));
            for mode in [CsumMode::Full, CsumMode::Partial] {
                rewrite(input, &h, &r, params, mode);
            }
        }
        (Err(want), got) => {
            assert_eq!(got, Err(want), "reference parser refuses");
            let mut buf = input.to_vec();
            assert_eq!(
                IcmpPacket::<V6>::parse_in(&mut buf, CsumMode::Full).err(),
                Some(want)
            );
            assert_eq!(buf, input, "a packet that does not parse is never written");
        }
        (Ok(_), Err(e)) => panic!("reference parser accepts, parse says {e:?}"),
    }
});
