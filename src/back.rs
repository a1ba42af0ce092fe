// SPDX-License-Identifier: GPL-2.0

//! The handoff's back-end side (seed 003): a HANDOFF_REQ is replayed into
//! this node's stack (the client's SYN, the SYN/ACK stolen, the client's
//! ACK and request bytes), so that its ordinary server accepts the
//! connection, and answered with HANDOFF_ACK (the back-end's ISN, TSval and
//! window scale) or HANDOFF_NACK. Runs on the replay pool
//! ([`crate::replay`]) for a peer, on the worker for this node's own
//! services.

use crate::{
    conn::{ip, Fam, Stat},
    node::Node,
    proto::{
        ctrl::{
            cap, opt_bits, reason, HandoffAck, HandoffReq, IdReason, Message, MoveAck, MoveReq,
            MOVE_DATA_MAX,
        },
        flow::{Answer, Flow, Key, Phase, Role},
        packet::{self, flags, BuildOptions, Segment},
        seq::Translation,
    },
    sys::{
        kthread::{self, Stop},
        skb, socket, vec,
    },
    teardown,
};
use kernel::prelude::*;

/// How long, from the first SYN, the back-end waits for its stack's
/// SYN/ACK and then for the server's socket.
const REPLAY_TIMEOUT_MS: u64 = 1500;

/// The back-end injects the SYN again after this long without an answer
/// (a full accept queue drops SYNs, as it would a client's), and the ACK
/// with the request bytes while the server's socket does not exist.
const SYN_RETRY_MS: u64 = 200;

/// Largest payload of one injected segment.
const INJECT_MSS: usize = 1400;

fn inject<F: Fam>(node: &Node, seg: &Segment<'_, F>, buf: &mut [u8]) -> Result {
    let len = packet::build(seg, buf).ok_or(ENOSPC)?;
    skb::inject(node.net(), buf.get(..len).ok_or(EINVAL)?)
}

/// Takes connection `req` from front-end `from` (0: this node): replays the
/// handshake into this node's stack and answers HANDOFF_ACK or
/// HANDOFF_NACK.
pub(crate) fn take<F: Fam>(
    node: &Node,
    from: u32,
    req: &HandoffReq<'_, F>,
    stop: &Stop,
) -> Message<'static> {
    let nack = |reason| Message::HandoffNack(IdReason { id: req.id, reason });
    let key = Key {
        client: req.client,
        local: req.backend,
    };
    // Only this node's own servers can take a connection here: a request
    // for another address (a misconfigured or malicious peer) would make
    // this node forward a forged SYN.
    if !skb::is_local_addr(node.net(), req.backend.addr) {
        if kthread::net_ratelimit() {
            pr_warn!("handoff {} from peer {} names a back-end address that is not this node's, refused\n", req.id, from);
        }
        return nack(reason::INVALID);
    }
    if req.options & opt_bits::RESUME != 0 {
        if let Some(answer) = resume(node, from, req, &key, stop) {
            return answer;
        }
        // The owner's own request never came: a handoff as any other.
    }
    let flow = Flow::new(
        req.id,
        from,
        Role::Back,
        req.client,
        req.vip,
        req.backend,
        kthread::now_ms(),
    );
    match teardown::insert_replacing(node, flow) {
        Ok(()) => {}
        Err(e) if e == EEXIST => {
            if kthread::net_ratelimit() {
                pr_info!(
                    "handoff {} from peer {}: a connection from the same client address and port is still open here, refused\n",
                    req.id,
                    from
                );
            }
            return nack(reason::INVALID);
        }
        // Full, out of memory, or this node is going away.
        Err(_) => return nack(reason::OVERLOAD),
    }
    match replay(node, req, &key, stop) {
        Ok(ack) => {
            node.conns().stats().inc(Stat::Taken);
            Message::HandoffAck(ack)
        }
        Err(r) => {
            node.conns().remove(&key);
            nack(r)
        }
    }
}

/// A member of a front-end group took over connection `req` from a failed
/// member's copy of its handoff (RESUME). With a flow of that connection
/// here (the failed member's request came), it answers to `from` from now
/// on, and the answer is the one the failed member got; a replay still
/// running is waited for. `None`: no such flow, the connection is to be
/// replayed.
fn resume<F: Fam>(
    node: &Node,
    from: u32,
    req: &HandoffReq<'_, F>,
    key: &Key<F>,
    stop: &Stop,
) -> Option<Message<'static>> {
    let nack = |reason| Some(Message::HandoffNack(IdReason { id: req.id, reason }));
    let start = kthread::now_ms();
    loop {
        let found = node.conns().with(key, |f| {
            if f.role != Role::Back || f.vip != req.vip || f.reset {
                return Err(reason::INVALID);
            }
            if f.phase != Phase::Established {
                return Ok(None);
            }
            f.peer = from;
            f.id = req.id;
            let (isn, tsval) = f.xlate.backend_answer(req.frontend_isn, req.frontend_tsval);
            Ok(Some(HandoffAck {
                id: req.id,
                backend_isn: isn,
                backend_tsval: tsval,
                backend_wscale: f.xlate.backend_wscale,
            }))
        });
        match found {
            None => return None,
            Some(Err(r)) => return nack(r),
            Some(Ok(Some(ack))) => {
                if kthread::net_ratelimit() {
                    pr_info!(
                        "handoff {}: peer {} took the connection over from its front-end\n",
                        req.id,
                        from
                    );
                }
                return Some(Message::HandoffAck(ack));
            }
            Some(Ok(None)) => {}
        }
        if kthread::now_ms() > start + REPLAY_TIMEOUT_MS || stop.requested() {
            return nack(reason::TIMEOUT);
        }
        kthread::sleep_us(200, 400);
    }
}

/// What the back-end of a MOVE_REQ answers: the connection given up, with
/// the bytes its server had received but not read (they go with it); or
/// the [`reason`] it stays.
pub(crate) type Released = core::result::Result<(MoveAck, KVec<u8>), u8>;

/// MOVE_REQ `m` from front-end `from` (0: this node): gives the
/// connection up for its move to another back-end if it is idle: its
/// server has read nothing since it last answered (the bytes it has not
/// read go with the connection, at most [`MOVE_DATA_MAX`], and only to a
/// front-end that takes them), nothing came after the held request's
/// first byte, and the client acknowledged all it sent (the held segment's
/// acknowledgment, which the server's stack may not have seen yet, its
/// last ACK lost).
/// Given up, the server's socket is closed without a packet to the client
/// and the flow goes without CONN_END: the front-end owns the connection's
/// next step. Runs on the channel's thread: it neither sleeps long nor
/// waits for a peer.
pub(crate) fn release<F: Fam>(node: &Node, from: u32, m: &MoveReq<F>) -> Released {
    let key = Key {
        client: m.client,
        local: m.backend,
    };
    let marks = node.conns().with(&key, |f| {
        if f.role != Role::Back || f.peer != from || f.id != m.id {
            return Err(reason::INVALID);
        }
        let busy = f.phase != Phase::Established
            || f.fin_client
            || f.fin_server
            || f.reset
            || f.client_rst;
        let read = f.read_at_answer().filter(|_| !busy).ok_or(reason::BUSY)?;
        // Whatever the server's stack sends from now on is dropped (as
        // during a replay): an RST to a segment that waited in the
        // socket's backlog while it was being closed must not reach the
        // client.
        f.phase = Phase::Replaying;
        Ok((f.xlate.ack_to_backend(m.ack), read))
    });
    let (snd_nxt, read) = marks.unwrap_or(Err(reason::INVALID))?;
    let stays = |r| {
        // Still its server's: served as before.
        node.conns().with(&key, |f| f.phase = Phase::Established);
        Err(r)
    };
    // Unread bytes go only to a front-end that takes them (this node does).
    let unread = m.seq.wrapping_sub(read) as usize;
    let room = from == 0 || node.ctrl().takes(from, cap::MOVE_DATA);
    if unread > MOVE_DATA_MAX || (unread > 0 && !room) {
        return stays(reason::BUSY);
    }
    let Ok(mut data) = vec::zeroed(unread, GFP_KERNEL) else {
        return stays(reason::OVERLOAD);
    };
    let (local, remote) = (ip(m.backend), ip(m.client));
    match socket::release_tcp(node.net(), local, remote, (m.seq, snd_nxt, read), &mut data) {
        Ok(syn) => {
            node.conns().remove(&key);
            node.conns().stats().inc(Stat::Released);
            let mut options = 0;
            if syn.sack {
                options |= opt_bits::SACK;
            }
            if syn.timestamps {
                options |= opt_bits::TIMESTAMPS;
            }
            if syn.wscale.is_some() {
                options |= opt_bits::WSCALE;
            }
            let ack = MoveAck {
                id: m.id,
                mss: syn.mss.max(64),
                client_wscale: syn.wscale.unwrap_or(0).min(14),
                options,
            };
            Ok((ack, data))
        }
        Err(e) => stays(if e == EBUSY {
            reason::BUSY
        } else {
            reason::INVALID
        }),
    }
}

fn replay<'a, F: Fam>(
    node: &Node,
    req: &HandoffReq<'a, F>,
    key: &Key<F>,
    stop: &Stop,
) -> core::result::Result<HandoffAck, u8> {
    let ts = req.options & opt_bits::TIMESTAMPS != 0;
    let ws = req.options & opt_bits::WSCALE != 0;
    let mut buf = vec::zeroed(40 + 60 + INJECT_MSS, GFP_KERNEL).map_err(|_| reason::OVERLOAD)?;
    let syn_window =
        (u32::from(req.client_window) << if ws { req.client_wscale } else { 0 }).min(65535) as u16;
    let syn = Segment {
        saddr: req.client.addr,
        daddr: req.backend.addr,
        sport: req.client.port,
        dport: req.backend.port,
        seq: req.client_isn,
        ack: 0,
        flags: flags::SYN,
        window: syn_window,
        options: BuildOptions {
            mss: Some(req.mss),
            wscale: ws.then_some(req.client_wscale),
            sack_permitted: req.options & opt_bits::SACK != 0,
            timestamps: ts.then_some((req.client_tsval, 0)),
        },
        payload: &[],
    };
    // The client chose this port knowing nothing of the back-end: an
    // earlier connection of the same tuple (the client's port reused,
    // through this or another VIP) may be in TIME_WAIT here, which takes a
    // SYN whose sequence number or timestamp is not newer than its own for
    // an old duplicate and answers it with an ACK, not a SYN/ACK. The
    // front-end has already accepted the new connection: the old one's
    // TIME_WAIT ends, as the client's own stack let it.
    socket::end_time_wait(node.net(), ip(req.backend), ip(req.client));
    inject(node, &syn, &mut buf).map_err(|_| reason::OTHER)?;
    let start = kthread::now_ms();
    let mut sent = start;
    let answer = loop {
        if let Some(a) = node.conns().with(key, |f| f.answer()).flatten() {
            break a;
        }
        let now = kthread::now_ms();
        if now > start + REPLAY_TIMEOUT_MS {
            return Err(reason::TIMEOUT);
        }
        // Stopped (its service or peer deleted, the module going): the
        // configuration change that stops this thread waits for it.
        if stop.requested() {
            return Err(reason::OTHER);
        }
        if now >= sent + SYN_RETRY_MS {
            inject(node, &syn, &mut buf).map_err(|_| reason::OTHER)?;
            sent = now;
        }
        // The stack mostly answers within the injection itself (netif_rx
        // runs the packet before returning); else soon after.
        kthread::sleep_us(200, 400);
    };
    let Answer::SynAck { isn, tsval, wscale } = answer else {
        return Err(reason::NO_LISTENER);
    };
    let backend_wscale = if ws { wscale.unwrap_or(0) } else { 0 };
    let backend_tsval = tsval.unwrap_or(0);
    let xlate = Translation::new(
        req.frontend_isn,
        isn,
        req.frontend_tsval,
        backend_tsval,
        req.frontend_wscale,
        backend_wscale,
    );
    // Established before the ACK goes in: the server may answer at once.
    node.conns().with(key, |f| {
        f.xlate = xlate;
        f.phase = Phase::Established;
    });
    // The client's segments after its SYN: ACK of the SYN/ACK with the
    // request bytes, then its FIN if it had closed.
    let segment = |seq: u32, flags: u8, payload: &'a [u8]| Segment {
        saddr: req.client.addr,
        daddr: req.backend.addr,
        sport: req.client.port,
        dport: req.backend.port,
        seq,
        ack: isn.wrapping_add(1),
        flags,
        window: req.client_window,
        options: BuildOptions {
            timestamps: (ts && tsval.is_some()).then_some((req.client_tsval, backend_tsval)),
            ..BuildOptions::default()
        },
        payload,
    };
    let send = |buf: &mut [u8]| -> core::result::Result<(), u8> {
        let mut seq = req.client_isn.wrapping_add(1);
        let mut chunks = req.data.chunks(INJECT_MSS);
        let mut first = true;
        loop {
            let payload = match chunks.next() {
                Some(c) => c,
                None if first => &[][..],
                None => break,
            };
            let push = if payload.is_empty() { 0 } else { flags::PSH };
            inject(node, &segment(seq, flags::ACK | push, payload), buf)
                .map_err(|_| reason::OTHER)?;
            seq = seq.wrapping_add(payload.len() as u32);
            first = false;
            if payload.is_empty() {
                break;
            }
        }
        if req.options & opt_bits::FIN != 0 {
            inject(node, &segment(seq, flags::FIN | flags::ACK, &[]), buf)
                .map_err(|_| reason::OTHER)?;
        }
        Ok(())
    };
    send(&mut buf)?;
    // The handshake ends when the listener takes the ACK. A full accept
    // queue drops it and keeps the request socket, which resends its
    // SYN/ACK: a client would answer with its ACK again, but the flow
    // drops that SYN/ACK (the client's ACK and bytes are here, the client
    // itself long established with the front-end). So they go again
    // until the server's socket exists, within the replay's
    // REPLAY_TIMEOUT_MS (the front-end waits no longer by default); a
    // queue still full then is an overloaded back-end, which refuses the
    // connection (its request socket, unanswered, expires).
    let mut sent = kthread::now_ms();
    loop {
        match socket::tcp_lookup(node.net(), ip(req.backend), ip(req.client)) {
            socket::Held::Full | socket::Held::TimeWait => break,
            // Reset by the stack: the flow saw it, and the collector ends it.
            socket::Held::None if node.conns().with(key, |f| f.reset).unwrap_or(true) => break,
            _ => {}
        }
        let now = kthread::now_ms();
        if now > start + REPLAY_TIMEOUT_MS {
            if kthread::net_ratelimit() {
                pr_info!(
                    "handoff {}: the server's accept queue stayed full, refused\n",
                    req.id
                );
            }
            return Err(reason::OVERLOAD);
        }
        if stop.requested() {
            return Err(reason::OTHER);
        }
        if now >= sent + SYN_RETRY_MS {
            send(&mut buf)?;
            sent = now;
        }
        kthread::sleep_us(200, 400);
    }
    Ok(HandoffAck {
        id: req.id,
        backend_isn: isn,
        backend_tsval,
        backend_wscale,
    })
}
