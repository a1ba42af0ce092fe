// SPDX-License-Identifier: GPL-2.0

//! The handoff's front-end side (seed 003): an accepted connection whose
//! first request is read ([`Arrival`]) gets a back-end ([`sched::choose`]:
//! content rules, else the scheduler), its flow is frozen, its TCP state
//! and bytes go to the back-end in a HANDOFF_REQ, and the answer (or its
//! absence) decides: forwarding, a local back-end, or a reset.
//!
//! ```text
//!  client            front-end                         back-end
//!    |--SYN/ACK/req-->| UTCP accepts, reads the request
//!    |                | freeze flow (hold client packets)
//!    |                | HANDOFF_COPY to the backups, COPY_ACK (replica.rs)
//!    |                |--HANDOFF_REQ (SYN state, data)-->| replay (back.rs)
//!    |                |<--HANDOFF_ACK (ISN, TSval, ws)---|
//!    |                | Forwarding; held packets sent on; socket dropped
//!    |--data--------->|--rewritten----------------------->|
//!    |<-----------------------------rewritten, direct-----|
//! ```

use crate::{
    arrival::Arrival,
    back,
    conn::{ip, Fam, Stat},
    events,
    node::{Asked, Node, Reply},
    proto::{
        ctrl::{self, opt_bits, reason, Endpoint, HandoffReq, IdReason, Message},
        flow::{Flow, Key, Phase, Role},
        packet::{V4, V6},
        seq::Translation,
        service::Ip,
        uapi::handoff_result,
    },
    replica, sched,
    sys::{
        kthread::{self, Stop},
        socket::Socket,
        vec,
    },
    teardown,
};
use kernel::prelude::*;

/// Hands off a connection whose request is read (see [`Arrival::read`]),
/// or resets it if that fails. Called by the service's worker threads.
pub(crate) fn serve(node: &Node, vip: Endpoint<Ip>, arrival: Arrival, stop: &Stop) {
    let (sock, client, buf, n) = arrival.into_parts();
    match (vip.addr, client.addr) {
        (Ip::V4(v), Ip::V4(c)) => serve_in::<V4>(node, (v, c), (vip, client), sock, buf, n, stop),
        (Ip::V6(v), Ip::V6(c)) => serve_in::<V6>(node, (v, c), (vip, client), sock, buf, n, stop),
        // A listener takes its own family's connections only; dropped, the
        // socket resets this one.
        _ => {}
    }
}

/// [`serve`] for a connection of family `F`: `addrs` are the VIP's and the
/// client's addresses of that family, `ends` the same endpoints as given.
fn serve_in<F: Fam>(
    node: &Node,
    addrs: (F, F),
    ends: (Endpoint<Ip>, Endpoint<Ip>),
    sock: Socket,
    mut buf: KVec<u8>,
    n: usize,
    stop: &Stop,
) {
    let (vip_ip, client_ip) = ends;
    let vip = Endpoint {
        addr: addrs.0,
        port: vip_ip.port,
    };
    let client = Endpoint {
        addr: addrs.1,
        port: client_ip.port,
    };
    // One copy of the configuration for the whole handoff: a change
    // meanwhile (the service deleted, say) applies to later connections.
    let config = node.published();
    let service = config.service(&vip_ip);
    let me = config.base.node_id;
    let chosen = service
        .and_then(|s| sched::choose(node.conns(), me, s, &client_ip, &buf[..n]))
        .and_then(|(b, peer)| {
            Some((
                Endpoint {
                    addr: F::from_ip(b.addr)?,
                    port: b.port,
                },
                peer,
            ))
        });
    let notify = |backend: &Endpoint<F>, peer, id, result, why| {
        let c = events::Conn {
            id,
            client: client_ip,
            vip: vip_ip,
            backend: ip(*backend),
            peer,
        };
        events::handoff(node.net(), &c, result, why);
    };
    let Some((backend, peer)) = chosen else {
        notify(
            &Endpoint::default(),
            0,
            0,
            handoff_result::FAILED,
            reason::OTHER,
        );
        node.conns().stats().inc(Stat::HandoffsFailed);
        if kthread::net_ratelimit() {
            pr_warn!("no back-end available for a connection to its service, resetting it\n");
        }
        return;
    };
    let max = service.map_or(0, |s| s.conf.max_conns);
    if max != 0 && node.conns().front_of(vip_ip) >= max {
        notify(&backend, peer, 0, handoff_result::REFUSED, reason::OVERLOAD);
        node.conns().stats().inc(Stat::HandoffsRefused);
        if kthread::net_ratelimit() {
            pr_info!(
                "a service is at its max-conns ({}), resetting a new client\n",
                max
            );
        }
        return;
    }
    let key = Key { client, local: vip };
    let id = node.conns().next_id(&key);
    let flow = Flow::new(
        id,
        peer,
        Role::Front,
        client,
        vip,
        backend,
        kthread::now_ms(),
    );
    if teardown::insert_replacing(node, flow).is_err() {
        notify(&backend, peer, id, handoff_result::FAILED, reason::OTHER);
        node.conns().stats().inc(Stat::HandoffsFailed);
        return;
    }
    let result = match freeze(&sock, id, client, vip, backend, &mut buf, n) {
        Ok((req, fe_wscale)) => {
            // The front-end's half of the translation, for `reply` to
            // complete as soon as the back-end's ACK comes.
            // Where the client's next request starts, should the service
            // dispatch each request (`migrate`).
            let per_request = service.is_some_and(|s| s.per_request());
            // Read after the flow is in the table: a drain published
            // since the back-end was chosen marks it here, or its walk
            // (`Conns::mark_draining`) finds it.
            let draining = node
                .published()
                .service(&vip_ip)
                .is_some_and(|s| s.draining(&ip(backend)));
            let next = req
                .client_isn
                .wrapping_add(1)
                .wrapping_add(req.data.len() as u32);
            node.conns().with(&key, |f| {
                f.xlate =
                    Translation::frontend_half(req.frontend_isn, req.frontend_tsval, fe_wscale);
                f.per_request = per_request;
                f.draining |= draining;
                f.client_nxt = next;
            });
            // Before the back-end hears of it: should this node fail once
            // the back-end took the connection, a backup completes the
            // handoff from its copy. A connection served here dies with
            // this node whatever its copies.
            let copied = replica::copy_handoff(node, peer, &req, stop);
            if peer != 0 && !copied {
                node.conns().stats().inc(Stat::Unconfirmed);
            }
            let timeout = config.base.handoff_timeout_ms;
            let mut reply = ask(node, peer, &req, timeout, stop);
            if let (Reply::Nack(r), true) = (reply, peer != 0 && reply_is_final(reply)) {
                // Refused by the peer, or the peer is down: serve it here
                // if the service has a local back-end. Not after a
                // timeout: the peer may still take it, and a connection
                // must never have two servers.
                let local = service
                    .and_then(|s| sched::local_backend(me, s))
                    .and_then(|b| {
                        Some(Endpoint {
                            addr: F::from_ip(b.addr)?,
                            port: b.port,
                        })
                    });
                if let Some(local) = local {
                    if kthread::net_ratelimit() {
                        pr_info!(
                            "handoff {} refused by peer {} (reason {}), serving it locally\n",
                            id,
                            peer,
                            r
                        );
                    }
                    node.conns().retarget(&key, local, 0);
                    reply = ask(
                        node,
                        0,
                        &HandoffReq {
                            backend: local,
                            ..req
                        },
                        timeout,
                        stop,
                    );
                }
            }
            match reply {
                Reply::Ack(a) => Ok((
                    Translation::new(
                        req.frontend_isn,
                        a.backend_isn,
                        req.frontend_tsval,
                        a.backend_tsval,
                        fe_wscale,
                        a.backend_wscale,
                    ),
                    req.options & opt_bits::FIN != 0,
                )),
                Reply::Nack(r) => Err(r),
                // Not an answer `ask` returns.
                Reply::Copied(_) | Reply::Released(_) => Err(reason::OTHER),
            }
        }
        Err(r) => Err(r),
    };
    // Where it went: a refused handoff may have been served locally.
    let (backend, peer) = node
        .conns()
        .with(&key, |f| (f.backend, f.peer))
        .unwrap_or((backend, peer));
    match result {
        Ok((xlate, fin)) => {
            notify(&backend, peer, id, handoff_result::OK, 0);
            node.conns().with(&key, |f| {
                f.xlate = xlate;
                f.phase = Phase::Forwarding;
                f.fin_client |= fin;
            });
            // Already done by `reply` for a peer's ACK; for this node's own
            // replay, here.
            node.conns().held().release(&key);
            node.conns().stats().inc(Stat::HandoffsOk);
            // Dropping the socket sends an RST, which the flow drops.
        }
        Err(r) => {
            if let Some(f) = node.conns().remove(&key) {
                replica::forget_handoff(node, &f);
            }
            node.conns().held().discard(&key);
            let (c, result) = if r == reason::OTHER || r == reason::TIMEOUT {
                (Stat::HandoffsFailed, handoff_result::FAILED)
            } else {
                (Stat::HandoffsRefused, handoff_result::REFUSED)
            };
            notify(&backend, peer, id, result, r);
            node.conns().stats().inc(c);
            if kthread::net_ratelimit() {
                pr_info!(
                    "handoff {} refused or failed (reason {}), resetting the client\n",
                    id,
                    r
                );
            }
            // Dropping the socket resets the client: a clean refusal.
        }
    }
}

/// Whether a reply says for sure that the peer does not serve the
/// connection (a NACK, or the request could not even be sent).
fn reply_is_final(reply: Reply) -> bool {
    !matches!(reply, Reply::Nack(reason::TIMEOUT))
}

/// How often [`freeze`] drains again for bytes that reached the socket
/// after it looked.
const STRAGGLER_TRIES: u32 = 3;

/// With the flow frozen, takes what the socket still has and collects the
/// TCP state into a HANDOFF_REQ; also returns the front-end's window scale.
fn freeze<'a, F: Fam>(
    sock: &Socket,
    id: u64,
    client: Endpoint<F>,
    vip: Endpoint<F>,
    backend: Endpoint<F>,
    buf: &'a mut KVec<u8>,
    mut n: usize,
) -> core::result::Result<(HandoffReq<'a, F>, u8), u8> {
    // The flow is frozen: the client's further packets are held for the
    // back-end (`hold`). Every byte the stack acknowledged must travel. A
    // full buffer may not be all: reading it opened the window again, and
    // a slow worker finds more queued than it holds. It grows, once full,
    // to what a HANDOFF_REQ carries, far beyond what the listener's
    // receive window lets in.
    fn grow(buf: &mut KVec<u8>, n: usize) -> core::result::Result<(), u8> {
        if n == buf.len() && buf.len() < ctrl::MAX_DATA {
            vec::grow_zeroed(buf, ctrl::MAX_DATA, GFP_KERNEL).map_err(|_| reason::OTHER)?;
        }
        Ok(())
    }
    // A packet that passed the hook just before the freeze may still be on
    // its way to the socket (another CPU's softirq): the socket then counts
    // bytes not read yet, and the drain goes again once it landed. One
    // landing after the last look is harmless: the socket's ACK of it is
    // dropped with the rest of its output, so the client sends it again,
    // to the back-end. No fixed pause for stragglers on every handoff
    // (a timer costs a millisecond under emulation).
    let mut tries = 0;
    let (st, fin, taken) = loop {
        grow(buf, n)?;
        while let Some(rest) = buf.get_mut(n..).filter(|r| !r.is_empty()) {
            match sock.recv_nowait(rest) {
                Ok(k) if k > 0 => n += k,
                _ => break,
            }
            grow(buf, n)?;
        }
        let st = sock.tcp_state().map_err(|_| reason::OTHER)?;
        // A client may have sent its request and closed its side (FIN, as
        // HTTP/1.0 clients that shut down writing do): the FIN is handed
        // over too.
        let fin = st.close_wait;
        // `bytes_received` counts the sequence space taken in order: the
        // FIN takes one.
        let taken = n as u64 + u64::from(fin);
        if st.bytes_received == taken || tries == STRAGGLER_TRIES || n == buf.len() {
            break (st, fin, taken);
        }
        tries += 1;
        kthread::sleep_us(50, 100);
    };
    if !(st.established || fin) || st.bytes_received != taken || st.snd_una != st.snd_nxt {
        if kthread::net_ratelimit() {
            pr_info!(
                "handoff {}: connection not in a state to hand off (established {}, client closed {}, {} of {} bytes read, unacked data {})\n",
                id,
                st.established,
                fin,
                taken,
                st.bytes_received,
                st.snd_una != st.snd_nxt
            );
        }
        return Err(reason::INVALID);
    }
    let mut options = 0;
    if fin {
        options |= opt_bits::FIN;
    }
    if st.sack {
        options |= opt_bits::SACK;
    }
    if st.timestamps {
        options |= opt_bits::TIMESTAMPS;
    }
    if st.wscale {
        options |= opt_bits::WSCALE;
    }
    let frontend_wscale = if st.wscale { st.rcv_wscale } else { 0 };
    let client_wscale = if st.wscale { st.snd_wscale } else { 0 };
    let window = (st.snd_wnd >> client_wscale).min(65535) as u16;
    let req = HandoffReq {
        id,
        client,
        vip,
        backend,
        client_isn: st
            .rcv_nxt
            .wrapping_sub(n as u32)
            .wrapping_sub(1)
            .wrapping_sub(u32::from(fin)),
        frontend_isn: st.snd_nxt.wrapping_sub(1),
        client_tsval: if st.timestamps { st.ts_recent } else { 0 },
        frontend_tsval: if st.timestamps { st.tsval_now } else { 0 },
        client_window: window,
        mss: st.mss_clamp.max(64),
        client_wscale,
        frontend_wscale,
        options,
        data: buf.get(..n).ok_or(reason::OTHER)?,
    };
    Ok((req, frontend_wscale))
}

/// Sends `req` to `peer` (0: this node) and waits for the answer, at most
/// `timeout_ms`.
pub(crate) fn ask<F: Fam>(
    node: &Node,
    peer: u32,
    req: &HandoffReq<'_, F>,
    timeout_ms: u32,
    stop: &Stop,
) -> Reply {
    if peer == 0 {
        return match back::take(node, 0, req, stop) {
            Message::HandoffAck(a) => Reply::Ack(a),
            Message::HandoffNack(m) => Reply::Nack(m.reason),
            _ => Reply::Nack(reason::OTHER),
        };
    }
    if node.ctrl().send(peer, &F::handoff_req(*req)).is_err() {
        node.replies().forget(req.id, Asked::Handoff);
        return Reply::Nack(reason::OTHER);
    }
    let deadline = kthread::now_ms() + u64::from(timeout_ms);
    loop {
        let left = deadline.saturating_sub(kthread::now_ms()).max(1);
        match node
            .replies()
            .wait(req.id, Asked::Handoff, left as u32, stop)
        {
            // A backup's late confirmation of its copy.
            Reply::Copied(_) => continue,
            r => return r,
        }
    }
}

/// COPY_ACK from member `from`: it keeps the copy of handoff `id`, which
/// the worker of that handoff waits for.
pub(crate) fn copied(node: &Node, from: u32, id: u64) {
    if node.group().is_member(from) && node.conns().front_frozen(id) {
        node.replies().post(id, Asked::Handoff, Reply::Copied(1));
    }
}

/// A HANDOFF_ACK or HANDOFF_NACK from peer `from`: given to the waiting
/// front-end worker if the handoff is still pending.
pub(crate) fn reply(node: &Node, from: u32, msg: &Message<'_>) {
    let (id, r) = match msg {
        Message::HandoffAck(a) => (a.id, Reply::Ack(*a)),
        Message::HandoffNack(m) => (m.id, Reply::Nack(m.reason)),
        _ => return,
    };
    if !reply_in::<V4>(node, from, id, r) {
        reply_in::<V6>(node, from, id, r);
    }
}

/// [`reply`] for the flows of family `F`: whether one of them was the
/// handoff's.
fn reply_in<F: Fam>(node: &Node, from: u32, id: u64, r: Reply) -> bool {
    // Only for a frozen flow of ours handed to that peer. An ACK makes it
    // forward at once: the back-end may be answering the client already,
    // and the client's next packets must not meet a frozen flow (dropped,
    // they would cost a retransmission) while the worker wakes up.
    let pending = node.conns().with_front_id::<F, _>(id, from, |f| {
        if f.phase != Phase::Frozen {
            return None;
        }
        if let Reply::Ack(a) = r {
            f.xlate = f
                .xlate
                .with_backend(a.backend_isn, a.backend_tsval, a.backend_wscale);
            f.phase = Phase::Forwarding;
        }
        Some(f.key())
    });
    let Some(pending) = pending else {
        return false;
    };
    let Some(key) = pending else {
        return true;
    };
    if matches!(r, Reply::Ack(_)) {
        // What the client sent meanwhile goes on now, rewritten.
        node.conns().held().release(&key);
        if let Some(f) = node.conns().with(&key, |f| *f) {
            replica::replicate_answered(node, &f);
        }
    }
    if !node.replies().post(id, Asked::Handoff, r) {
        // A handoff taken over from a copy, which no worker waits for.
        resumed(node, &key, r);
    }
    true
}

/// The answer `r` to the handoff of `key` that this node took over from
/// another member's copy ([`replica`]'s RESUME): refused, the flow goes,
/// and the client's next packet meets this node's stack, which resets it.
fn resumed<F: Fam>(node: &Node, key: &Key<F>, r: Reply) {
    match r {
        Reply::Ack(_) => node.conns().stats().inc(Stat::HandoffsOk),
        _ => {
            if let Some(f) = node.conns().remove(key) {
                replica::forget_handoff(node, &f);
            }
            node.conns().held().discard(key);
            node.conns().stats().inc(Stat::HandoffsFailed);
            if kthread::net_ratelimit() {
                pr_info!("a connection taken over in its handoff was refused by its back-end, its client is reset\n");
            }
        }
    }
}

/// CONN_END from peer `from`: its end of connection `id` is gone.
pub(crate) fn conn_end(node: &Node, from: u32, end: &IdReason) {
    if let Some(f) = node.conns().remove_front_id::<V4>(end.id, from) {
        teardown::notify_end(node, &f, end.reason);
        replica::forget(node, &f, end.reason);
    } else if let Some(f) = node.conns().remove_front_id::<V6>(end.id, from) {
        teardown::notify_end(node, &f, end.reason);
        replica::forget(node, &f, end.reason);
    }
}

/// Most pending handoffs [`peer_down`] fails at once; any others time out.
const PEER_DOWN_BATCH: usize = 256;

/// The channel to `peer` went down: the handoffs waiting for its answer
/// fail at once, as after a timeout (the peer may have taken them before
/// the channel went, so they are never served elsewhere: their clients are
/// reset). Forwarding flows stay until they end or expire.
pub(crate) fn peer_down(node: &Node, peer: u32) {
    peer_down_in::<V4>(node, peer);
    peer_down_in::<V6>(node, peer);
}

/// [`peer_down`] for the flows of family `F`.
fn peer_down_in<F: Fam>(node: &Node, peer: u32) {
    let Ok(mut frozen) = KVec::<Flow<F>>::with_capacity(PEER_DOWN_BATCH, GFP_KERNEL) else {
        return;
    };
    node.conns().snapshot_where(&mut frozen, |f| {
        f.role == Role::Front && f.peer == peer && f.phase == Phase::Frozen
    });
    if frozen.is_empty() {
        return;
    }
    node.replies()
        .post_unanswered(frozen.iter().map(|f| f.id), Reply::Nack(reason::TIMEOUT));
}
