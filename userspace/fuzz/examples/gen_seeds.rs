// SPDX-License-Identifier: GPL-2.0

//! Writes the committed seed corpora `seeds/<target>/` of the fuzz targets:
//! a few valid packets, ICMP errors, control frames, HTTP requests and rule
//! sets. Run from `userspace/fuzz` with `cargo run --example gen_seeds`; the
//! output is deterministic.

use std::fs;
use std::path::Path;

use baton_proto::ctrl::{
    cap, encode, opt_bits, reason, Endpoint, HandoffAck, HandoffReq, Heartbeat, Hello, IdReason,
    Message, HEADER_LEN, MAX_PAYLOAD, NONCE_LEN,
};
use baton_proto::icmp::{DEST_UNREACH, FRAG_NEEDED, TIME_EXCEEDED};
use baton_proto::packet::{build, flags, opt, BuildOptions, Segment};

#[path = "../../baton-proto/tests/common/mod.rs"]
mod common;
use common::{icmp_error, with_ip_options, ICMP_ERROR_MAX};

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new("seeds").join(target);
    fs::create_dir_all(&dir).expect("seed directory");
    fs::write(dir.join(name), bytes).expect("seed file");
}

/// The `packet` target's parameter bytes: check bits, translation,
/// addresses and ports (see `fuzz_targets/packet.rs`).
fn params(bits: u8, seq_delta: u32, ts_delta: u32, fws: u8, bws: u8) -> Vec<u8> {
    let mut p = vec![bits];
    p.extend_from_slice(&seq_delta.to_be_bytes());
    p.extend_from_slice(&ts_delta.to_be_bytes());
    p.extend_from_slice(&[fws, bws]);
    p.extend_from_slice(&[198, 18, 0, 1, 0, 80]); // VIP
    p.extend_from_slice(&[198, 18, 0, 2, 0x1f, 0x90]); // back-end
    p.resize(28, 0);
    p
}

fn segment(flags: u8, options: BuildOptions, payload: &[u8]) -> Vec<u8> {
    let seg = Segment {
        saddr: [198, 18, 1, 10],
        daddr: [198, 18, 0, 1],
        sport: 40000,
        dport: 80,
        seq: 0xfffff000,
        ack: 0x1234_5678,
        flags,
        window: 502,
        options,
        payload,
    };
    let mut buf = vec![0; 2048];
    let n = build(&seg, &mut buf).expect("fits");
    buf.truncate(n);
    buf
}

/// An ACK with NOP NOP TS and a SACK option of `blocks` blocks after `lead`
/// NOPs (odd `lead`: the option at odd offsets); checks left wrong.
fn sack_segment(lead: usize, blocks: usize) -> Vec<u8> {
    let mut opts = vec![opt::NOP, opt::NOP, opt::TIMESTAMP, 10];
    opts.extend_from_slice(&[0, 0, 1, 0, 0xff, 0xff, 0xff, 0xf0]);
    opts.extend(std::iter::repeat_n(opt::NOP, lead));
    opts.extend_from_slice(&[opt::SACK, (2 + 8 * blocks) as u8]);
    // Edges across the wrap of the sequence space.
    for i in 0..blocks as u32 {
        let start = 0xffff_f000u32.wrapping_add(3000 * i);
        opts.extend_from_slice(&start.to_be_bytes());
        opts.extend_from_slice(&start.wrapping_add(1448).to_be_bytes());
    }
    while opts.len() % 4 != 0 {
        opts.push(opt::EOL);
    }
    let mut pkt = segment(flags::ACK, BuildOptions::default(), b"");
    pkt.splice(40..40, opts.iter().copied());
    let total = pkt.len() as u16;
    pkt[2..4].copy_from_slice(&total.to_be_bytes());
    pkt[32] = (((20 + opts.len()) / 4) as u8) << 4;
    pkt
}

fn packet_seeds() {
    let syn = BuildOptions {
        mss: Some(1460),
        wscale: Some(7),
        sack_permitted: true,
        timestamps: Some((1000, 0)),
    };
    let ts = BuildOptions {
        timestamps: Some((0x7fff_ffff, 0xffff_fff0)),
        ..BuildOptions::default()
    };
    let cases: [(&str, Vec<u8>, Vec<u8>); 6] = [
        (
            "syn",
            params(0x0d, 7, 9, 7, 9),
            segment(flags::SYN, syn, b""),
        ),
        (
            "synack-back",
            params(0x09, 0x8000_0000, 1, 7, 7),
            segment(flags::SYN | flags::ACK, syn, b""),
        ),
        (
            "data-front",
            params(0x05, 0xdead_beef, 0x1000, 7, 10),
            segment(
                flags::ACK | flags::PSH,
                ts,
                b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            ),
        ),
        (
            "data-back-partial",
            params(0x0a, 12345, 0xffff_0000, 14, 2),
            segment(flags::ACK, BuildOptions::default(), &[0x5a; 301]),
        ),
        (
            "sack-even",
            params(0x0f, 0xffff_ff00, 77, 0, 14),
            sack_segment(0, 3),
        ),
        (
            "sack-odd",
            params(0x05, 0x0100_0000, 5, 3, 3),
            sack_segment(1, 4),
        ),
    ];
    for (name, p, pkt) in cases {
        write("packet", name, &[p, pkt].concat());
    }
}

/// The `icmp` target's parameter bytes: check bits, seq_delta, back-end
/// (see `fuzz_targets/icmp.rs`).
fn icmp_params(bits: u8, seq_delta: u32) -> Vec<u8> {
    let mut p = vec![bits];
    p.extend_from_slice(&seq_delta.to_be_bytes());
    p.extend_from_slice(&[198, 18, 0, 3, 0x1f, 0x90]); // back-end
    p.resize(12, 0);
    p
}

/// ICMP errors a router sends to the VIP about a back-end's segment, as
/// Linux's `icmp_send` builds them.
fn icmp_seeds() {
    let data = BuildOptions {
        timestamps: Some((0x7fff_0000, 0x1234_5678)),
        ..BuildOptions::default()
    };
    let seg = Segment {
        saddr: [198, 18, 0, 1],
        daddr: [198, 18, 1, 10],
        sport: 80,
        dport: 40000,
        seq: 0xffff_ff00,
        ack: 0x1234_5678,
        flags: flags::ACK | flags::PSH,
        window: 501,
        options: data,
        payload: &[0x5a; 1448],
    };
    let mut wire = vec![0; 2048];
    let n = build(&seg, &mut wire).expect("fits");
    wire.truncate(n);
    let router = [198, 18, 0, 254];
    let frag = |quote| icmp_error(router, DEST_UNREACH, FRAG_NEEDED, 1280, &wire, quote, 0);
    let mut udp = wire.clone();
    udp[9] = 17;
    let cases: [(&str, Vec<u8>, Vec<u8>); 7] = [
        (
            "frag-needed",
            icmp_params(0x00, 0x200),
            frag(ICMP_ERROR_MAX),
        ),
        ("frag-needed-8", icmp_params(0x05, 0x8000_0000), frag(28)),
        ("frag-needed-18", icmp_params(0x03, 1), frag(38)),
        (
            "time-exceeded",
            icmp_params(0x04, 0xffff_ff00),
            icmp_error(router, TIME_EXCEEDED, 0, 0, &wire, ICMP_ERROR_MAX, 0),
        ),
        (
            "ip-options",
            icmp_params(0x01, 77),
            icmp_error(
                router,
                DEST_UNREACH,
                FRAG_NEEDED,
                576,
                &with_ip_options(&wire, 10),
                ICMP_ERROR_MAX,
                10,
            ),
        ),
        ("truncated", icmp_params(0x00, 5), frag(27)),
        (
            "udp",
            icmp_params(0x00, 5),
            icmp_error(router, DEST_UNREACH, 3, 0, &udp, 64, 0),
        ),
    ];
    for (name, p, pkt) in cases {
        write("icmp", name, &[p, pkt].concat());
    }
}

fn frame(msg: &Message<'_>, seq: u32) -> Vec<u8> {
    let mut buf = vec![0; HEADER_LEN + MAX_PAYLOAD];
    let n = encode(msg, seq, &mut buf).expect("fits");
    buf.truncate(n);
    buf
}

fn ctrl_seeds() {
    let ep = |last: u8, port: u16| Endpoint {
        addr: [198, 18, 0, last],
        port,
    };
    let hello = frame(
        &Message::Hello(Hello {
            node_id: 1,
            capabilities: cap::AUTH | cap::BOOT,
            nonce: [0x3c; NONCE_LEN],
            boot_id: 0x0123_4567_89ab_cdef,
        }),
        0,
    );
    let auth = frame(&Message::Auth, 1);
    let heartbeat = frame(&Message::Heartbeat(Heartbeat { sent_ms: 123_456 }), 1);
    let req = frame(
        &Message::HandoffReq(HandoffReq {
            id: 7,
            client: ep(10, 40000),
            vip: ep(1, 80),
            backend: ep(2, 8080),
            client_isn: 0xffff_fff0,
            frontend_isn: 42,
            client_tsval: 1000,
            frontend_tsval: 2000,
            client_window: 502,
            mss: 1460,
            client_wscale: 7,
            frontend_wscale: 7,
            options: opt_bits::SACK | opt_bits::TIMESTAMPS | opt_bits::WSCALE,
            data: b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        }),
        2,
    );
    let ack = frame(
        &Message::HandoffAck(HandoffAck {
            id: 7,
            backend_isn: 99,
            backend_tsval: 5,
            backend_wscale: 9,
        }),
        3,
    );
    let nack = frame(
        &Message::HandoffNack(IdReason {
            id: 8,
            reason: reason::NO_LISTENER,
        }),
        4,
    );
    let end = frame(
        &Message::ConnEnd(IdReason {
            id: 7,
            reason: reason::CLOSED,
        }),
        5,
    );
    write("ctrl", "hello", &hello);
    write("ctrl", "auth", &auth);
    write("ctrl", "heartbeat", &heartbeat);
    write("ctrl", "handoff-req", &req);
    write("ctrl", "handoff-ack", &ack);
    write("ctrl", "handoff-nack", &nack);
    write("ctrl", "conn-end", &end);
    write(
        "ctrl",
        "stream",
        &[hello, heartbeat, req, ack, end].concat(),
    );
}

fn http_seeds() {
    let cases: [(&str, &[u8]); 8] = [
        (
            "curl",
            b"GET /b/index.html?x=1 HTTP/1.1\r\nHost: A.Example:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\nbody",
        ),
        ("http10-lf", b"GET / HTTP/1.0\n\n"),
        (
            "absolute",
            b"GET http://b.example:81/x?y#frag HTTP/1.1\r\nHost: a.example\r\n\r\n",
        ),
        ("ipv6", b"POST /api HTTP/1.1\r\nhost: [2001:db8::1]:80\r\nContent-Length: 2\r\n\r\n{}"),
        ("partial", b"GET /images/logo.png HTTP/1.1\r\nHost: www.exa"),
        ("duplicate-host", b"GET / HTTP/1.1\r\nHost: a\r\nHOST: b\r\n\r\n"),
        ("tls", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
        ("options", b"OPTIONS * HTTP/1.1\r\nHost:\t b.example \t\r\n\r\n"),
    ];
    for (name, bytes) in cases {
        write("http", name, bytes);
    }
}

/// The `rules` target's input: host, target and rules, cut at NUL bytes
/// (see `fuzz_targets/rules.rs`).
fn rules_seeds() {
    let cases: [(&str, &[u8]); 3] = [
        (
            "suffix-and-path",
            b"www.Example.com\0/api/v1/users?id=3\0\x03*.example.com\x01/api\0\x01WWW.EXAMPLE.COM\0\x02\x01/",
        ),
        (
            "dot-domain",
            b"example.com\0/\0\x01.example.com\0\x01*.ample.com\0\x02\x01/static/",
        ),
        (
            "no-host",
            b"\0http://b.example/x#y\0\x01b.example\0\x02\x01/x\0\x03*.\x01x",
        ),
    ];
    for (name, bytes) in cases {
        write("rules", name, bytes);
    }
}

fn main() {
    packet_seeds();
    ctrl_seeds();
    http_seeds();
    rules_seeds();
    icmp_seeds();
}
