// SPDX-License-Identifier: GPL-2.0

//! The handoff itself (seed 003): the front-end side that turns an
//! accepted connection into a HANDOFF_REQ, and the back-end side that
//! replays the handshake into its own stack.
//!
//! ```text
//!  client            front-end                         back-end
//!    |--SYN/ACK/req-->| UTCP accepts, reads the request
//!    |                | freeze flow (drop both ways)
//!    |                |--HANDOFF_REQ (SYN state, data)-->| inject SYN
//!    |                |                                  | steal SYN/ACK
//!    |                |                                  | inject ACK+data
//!    |                |<--HANDOFF_ACK (ISN, TSval, ws)---| Established
//!    |                | Forwarding; socket dropped
//!    |--data--------->|--rewritten----------------------->|
//!    |<-----------------------------rewritten, direct-----|
//! ```

use crate::{
    proto::{
        config::MAX_PEERS,
        ctrl::{self, opt_bits, reason, Endpoint, HandoffAck, HandoffReq, IdReason, Message},
        flow::{Answer, Flow, Key, Phase, Role},
        http,
        packet::{self, flags, BuildOptions, Segment},
        rules, sched,
        seq::Translation,
        service::Scheduler,
    },
    state::{Runtime, ServiceView},
    sys::{
        kthread::{self, Stop},
        netns::Net,
        skb,
        socket::{self, Socket},
        vec,
    },
};
use core::sync::atomic::Ordering;
use kernel::{prelude::*, sync::Arc, time};

/// How long the back-end waits for its stack's SYN/ACK.
const REPLAY_TIMEOUT_MS: u64 = 1500;
/// The back-end injects the SYN again after this long without an answer
/// (a full accept queue drops SYNs, as it would a client's).
const SYN_RETRY_MS: u64 = 200;
/// Most request bytes the front-end reads before it decides.
const REQUEST_MAX: usize = 16 * 1024;
/// Largest payload of one injected segment.
const INJECT_MSS: usize = 1400;

/// The answer to a handoff request.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Reply {
    /// Taken.
    Ack(HandoffAck),
    /// Refused, with a [`reason`].
    Nack(u8),
}

/// Picks a back-end of `service` for a client: the first content rule
/// that matches the request, else the service's scheduler over the
/// back-ends with a weight (also for bytes that are not an HTTP request).
/// Returns the back-end and its peer (0: this node, whose id is `me`).
fn choose(
    rt: &Runtime,
    me: u32,
    service: &ServiceView,
    client: &Endpoint,
    request: &[u8],
) -> Option<(Endpoint, u32)> {
    let vip = &service.conf.vip;
    let local = |peer: u32| if peer == me { 0 } else { peer };
    if let Ok(req) = http::parse_request(request) {
        let target = rules::first_match(service.rules.iter().map(|r| (r.rule(), r.backend)), &req);
        if let Some(b) = target.and_then(|t| service.backends.iter().find(|b| b.addr == t)) {
            return Some((b.addr, local(b.peer)));
        }
    }
    let mut list = KVec::with_capacity(service.backends.len(), GFP_KERNEL).ok()?;
    for b in service.backends.iter() {
        let active = rt.conns.active(vip, &b.addr);
        list.push(
            sched::Backend {
                id: sched::endpoint_id(b.addr.addr, b.addr.port),
                weight: b.weight,
                active,
            },
            GFP_KERNEL,
        )
        .ok()?;
    }
    let i = match service.conf.scheduler {
        Scheduler::Rr => sched::round_robin(&list, &mut service.sched.lock().rr_cursor),
        Scheduler::Wrr => sched::weighted_round_robin(&list, &mut service.sched.lock().wrr_current),
        Scheduler::Lc => sched::weighted_least_conn(&list),
        Scheduler::Sh => sched::source_hash(&list, &client.addr),
    }?;
    let b = service.backends.get(i)?;
    Some((b.addr, local(b.peer)))
}

/// A connection accepted on a service while it delivers its first
/// request, which is read as it arrives, without holding a thread.
pub(crate) struct Arrival {
    sock: Socket,
    client: Endpoint,
    buf: KVec<u8>,
    n: usize,
    /// `kthread::now_ms()` after which it is handed off with what it has.
    deadline: u64,
    /// See [`Arrival::complete`].
    complete: bool,
}

impl Arrival {
    /// Bytes of memory an arrival holds beyond its socket.
    pub(crate) const BYTES: usize = REQUEST_MAX + core::mem::size_of::<Self>();

    /// Starts reading from `sock`; `None` if the client is already gone or
    /// there is no memory for its request.
    pub(crate) fn new(rt: &Runtime, sock: Socket) -> Option<Self> {
        let client = sock.peer_addr().ok()?;
        let buf = KVec::from_elem(0u8, REQUEST_MAX, GFP_KERNEL).ok()?;
        let timeout = rt.published().base.request_timeout_ms;
        Some(Self {
            sock,
            client,
            buf,
            n: 0,
            deadline: kthread::now_ms() + u64::from(timeout),
            complete: false,
        })
    }

    /// When it arrived, as its deadline tells.
    pub(crate) fn deadline(&self) -> u64 {
        self.deadline
    }

    /// Whether something arrived (data, a FIN or an error) that
    /// [`Arrival::read`] has not read yet. Costs no socket call.
    pub(crate) fn readable(&self) -> bool {
        self.sock.readable()
    }

    /// Whether its request came: the head is complete (or does not parse
    /// as HTTP at all) or the buffer is full. A connection that is ready
    /// otherwise ran out of time or closed half-way.
    pub(crate) fn complete(&self) -> bool {
        self.complete
    }

    /// Reads what has arrived (with `wait`, up to the socket's receive
    /// timeout for the first bytes). `Ok(true)` once the request is ready
    /// to hand off: its head is complete, the buffer is full, the client
    /// closed its side after sending something, or the time is up. `EPIPE`
    /// if the client closed without sending anything.
    pub(crate) fn read(&mut self, mut wait: bool) -> Result<bool> {
        while self.n < self.buf.len() {
            let got = if wait {
                self.sock.recv(&mut self.buf[self.n..])
            } else {
                self.sock.recv_nowait(&mut self.buf[self.n..])
            };
            wait = false;
            match got {
                Ok(0) if self.n == 0 => return Err(EPIPE),
                // Closed after some bytes: hand those (and the FIN) over.
                Ok(0) => return Ok(true),
                Ok(k) => self.n += k,
                Err(e) if e == EAGAIN => break,
                Err(e) => return Err(e),
            }
            if !matches!(
                http::parse_request(&self.buf[..self.n]),
                Err(http::HttpError::Incomplete)
            ) {
                self.complete = true;
                return Ok(true);
            }
        }
        self.complete |= self.n == self.buf.len();
        Ok(self.complete || kthread::now_ms() > self.deadline)
    }
}

/// Hands off a connection whose request is read (see [`Arrival::read`]),
/// or resets it if that fails. Called by the service's worker threads.
pub(crate) fn serve(rt: &Arc<Runtime>, vip: Endpoint, arrival: Arrival, stop: &Stop) {
    let Arrival {
        sock,
        client,
        mut buf,
        n,
        ..
    } = arrival;
    // One copy of the configuration for the whole handoff: a change
    // meanwhile (the service deleted, say) applies to later connections.
    let config = rt.published();
    let service = config.service(&vip);
    let me = config.base.node_id;
    let chosen = service.and_then(|s| choose(rt, me, s, &client, &buf[..n]));
    let Some((backend, peer)) = chosen else {
        rt.conns
            .stats
            .handoffs_failed
            .fetch_add(1, Ordering::Relaxed);
        if kthread::net_ratelimit() {
            pr_warn!("no back-end available for a connection to its service, resetting it\n");
        }
        return;
    };
    let max = service.map_or(0, |s| s.conf.max_conns);
    if max != 0 && rt.conns.front_of(&vip) >= max {
        rt.conns
            .stats
            .handoffs_refused
            .fetch_add(1, Ordering::Relaxed);
        if kthread::net_ratelimit() {
            pr_info!(
                "a service is at its max-conns ({}), resetting a new client\n",
                max
            );
        }
        return;
    }
    let key = Key { client, local: vip };
    let id = rt.conns.next_id(&key);
    let flow = Flow::new(
        id,
        peer,
        Role::Front,
        client,
        vip,
        backend,
        kthread::now_ms(),
    );
    if insert_replacing(rt, flow).is_err() {
        rt.conns
            .stats
            .handoffs_failed
            .fetch_add(1, Ordering::Relaxed);
        return;
    }
    let result = match freeze(&sock, id, client, vip, backend, &mut buf, n) {
        Ok((req, fe_wscale)) => {
            // The front-end's half of the translation, for `reply` to
            // complete as soon as the back-end's ACK comes.
            rt.conns.with(&key, |f| {
                f.xlate =
                    Translation::frontend_half(req.frontend_isn, req.frontend_tsval, fe_wscale);
            });
            let timeout = config.base.handoff_timeout_ms;
            let mut reply = ask(rt, peer, &req, timeout, stop);
            if let (Reply::Nack(r), true) = (reply, peer != 0 && reply_is_final(reply)) {
                // Refused by the peer, or the peer is down: serve it here
                // if the service has a local back-end. Not after a
                // timeout: the peer may still take it, and a connection
                // must never have two servers.
                if let Some(local) = service.and_then(|s| local_backend(me, s)) {
                    if kthread::net_ratelimit() {
                        pr_info!(
                            "handoff {} refused by peer {} (reason {}), serving it locally\n",
                            id,
                            peer,
                            r
                        );
                    }
                    rt.conns.retarget(&key, local, 0);
                    reply = ask(
                        rt,
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
            }
        }
        Err(r) => Err(r),
    };
    match result {
        Ok((xlate, fin)) => {
            rt.conns.with(&key, |f| {
                f.xlate = xlate;
                f.phase = Phase::Forwarding;
                f.fin_client |= fin;
            });
            // Already done by `reply` for a peer's ACK; for this node's own
            // replay, here.
            rt.conns.hold.release(&key);
            rt.conns.stats.handoffs_ok.fetch_add(1, Ordering::Relaxed);
            // Dropping the socket sends an RST, which the flow drops.
        }
        Err(r) => {
            rt.conns.remove(&key);
            rt.conns.hold.discard(&key);
            let c = if r == reason::OTHER || r == reason::TIMEOUT {
                &rt.conns.stats.handoffs_failed
            } else {
                &rt.conns.stats.handoffs_refused
            };
            c.fetch_add(1, Ordering::Relaxed);
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

/// Inserts `flow`; a flow of the same tuple that a new connection
/// supersedes ([`Flow::superseded`]: the client reused its port, through
/// the same or another VIP, while the old connection's flow lingered) is
/// removed first, and its end told as the collector would. On a back-end
/// the old server socket, if it is still there past TIME_WAIT (closing,
/// or waiting for the client's last ACK), is aborted while no flow
/// rewrites its RST: its reset goes nowhere, and the replayed SYN meets a
/// free tuple.
fn insert_replacing(rt: &Runtime, flow: Flow) -> Result {
    match rt.conns.insert(flow) {
        Err(e) if e == EEXIST => {}
        other => return other,
    }
    let Some(old) = rt
        .conns
        .remove_stale(&flow.key(), |f| f.role == flow.role && f.superseded())
    else {
        return Err(EEXIST);
    };
    if old.role == Role::Back {
        let _ = socket::abort_tcp(rt.net.get(), old.backend, old.client);
    }
    ended(rt, &[(old, reason::CLOSED)]);
    rt.conns.insert(flow)
}

/// Whether a reply says for sure that the peer does not serve the
/// connection (a NACK, or the request could not even be sent).
fn reply_is_final(reply: Reply) -> bool {
    !matches!(reply, Reply::Nack(reason::TIMEOUT))
}

/// The first local back-end (peer 0 or this node, `me`) of `service` with
/// a weight, if any.
fn local_backend(me: u32, service: &ServiceView) -> Option<Endpoint> {
    service
        .backends
        .iter()
        .find(|b| (b.peer == 0 || b.peer == me) && b.weight > 0)
        .map(|b| b.addr)
}

/// With the flow frozen, takes what the socket still has and collects the
/// TCP state into a HANDOFF_REQ; also returns the front-end's window scale.
fn freeze<'a>(
    sock: &Socket,
    id: u64,
    client: Endpoint,
    vip: Endpoint,
    backend: Endpoint,
    buf: &'a mut KVec<u8>,
    mut n: usize,
) -> core::result::Result<(HandoffReq<'a>, u8), u8> {
    // The flow is frozen: the client's further packets are held for the
    // back-end (`hold`). Let a packet already past the hook land, then
    // drain. msleep(1) would be two ticks, 8 ms at HZ=250.
    kthread::sleep_us(200, 400);
    // Every byte the stack acknowledged must travel. A full buffer may
    // not be all: reading it opened the window again, and a slow worker
    // finds more queued than it holds. It grows to what a HANDOFF_REQ
    // carries, far beyond what the listener's receive window lets in.
    if n == buf.len() {
        let more = ctrl::MAX_DATA.saturating_sub(buf.len());
        buf.extend_with(more, 0, GFP_KERNEL)
            .map_err(|_| reason::OTHER)?;
    }
    while let Some(rest) = buf.get_mut(n..).filter(|r| !r.is_empty()) {
        match sock.recv_nowait(rest) {
            Ok(k) if k > 0 => n += k,
            _ => break,
        }
    }
    let st = sock.tcp_state().map_err(|_| reason::OTHER)?;
    // A client may have sent its request and closed its side (FIN, as
    // HTTP/1.0 clients that shut down writing do): the FIN is handed over
    // too.
    let fin = st.close_wait;
    // `bytes_received` counts the sequence space taken in order: the FIN
    // takes one.
    let taken = n as u64 + u64::from(fin);
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
fn ask(rt: &Runtime, peer: u32, req: &HandoffReq<'_>, timeout_ms: u32, stop: &Stop) -> Reply {
    if peer == 0 {
        return match take(rt, 0, req, stop) {
            Message::HandoffAck(a) => Reply::Ack(a),
            Message::HandoffNack(m) => Reply::Nack(m.reason),
            _ => Reply::Nack(reason::OTHER),
        };
    }
    if rt.ctrl.send(peer, &Message::HandoffReq(*req)).is_err() {
        forget_reply(rt, req.id);
        return Reply::Nack(reason::OTHER);
    }
    wait_reply(rt, req.id, timeout_ms, stop)
}

/// Most time [`wait_reply`] sleeps between looks (it is woken when a
/// reply comes; this bounds a stop request's wait).
const REPLY_WAIT_SLICE_MS: u64 = 100;

fn wait_reply(rt: &Runtime, id: u64, timeout_ms: u32, stop: &Stop) -> Reply {
    let deadline = kthread::now_ms() + u64::from(timeout_ms);
    let mut replies = rt.replies.lock();
    loop {
        if let Some(i) = replies.iter().position(|(rid, _)| *rid == id) {
            if let Some((_, r)) = vec::swap_remove(&mut replies, i) {
                return r;
            }
        }
        let now = kthread::now_ms();
        if now > deadline || stop.requested() {
            return Reply::Nack(reason::TIMEOUT);
        }
        // Woken by `reply` and `peer_down` (and by a stop request).
        let slice = (deadline - now).clamp(1, REPLY_WAIT_SLICE_MS) as u32;
        let _ = rt
            .replied
            .wait_interruptible_timeout(&mut replies, time::msecs_to_jiffies(slice));
    }
}

/// A HANDOFF_ACK or HANDOFF_NACK from peer `from`: given to the waiting
/// front-end worker if the handoff is still pending.
pub(crate) fn reply(rt: &Runtime, from: u32, msg: &Message<'_>) {
    let (id, r) = match msg {
        Message::HandoffAck(a) => (a.id, Reply::Ack(*a)),
        Message::HandoffNack(m) => (m.id, Reply::Nack(m.reason)),
        _ => return,
    };
    // Only for a frozen flow of ours handed to that peer. An ACK makes it
    // forward at once: the back-end may be answering the client already,
    // and the client's next packets must not meet a frozen flow (dropped,
    // they would cost a retransmission) while the worker wakes up.
    let pending = rt.conns.with_front_id(id, from, |f| {
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
    if let Some(Some(key)) = pending {
        if matches!(r, Reply::Ack(_)) {
            // What the client sent meanwhile goes on now, rewritten.
            rt.conns.hold.release(&key);
        }
        let _ = rt.replies.lock().push((id, r), GFP_KERNEL);
        rt.replied.notify_all();
    }
}

/// CONN_END from peer `from`: its end of connection `id` is gone.
pub(crate) fn conn_end(rt: &Runtime, from: u32, end: &IdReason) {
    rt.conns.remove_front_id(end.id, from);
}

/// Most pending handoffs [`peer_down`] fails at once; any others time out.
const PEER_DOWN_BATCH: usize = 256;

/// The channel to `peer` went down: the handoffs waiting for its answer
/// fail at once, as after a timeout (the peer may have taken them before
/// the channel went, so they are never served elsewhere: their clients are
/// reset). Forwarding flows stay until they end or expire.
pub(crate) fn peer_down(rt: &Runtime, peer: u32) {
    let Ok(mut frozen) = KVec::with_capacity(PEER_DOWN_BATCH, GFP_KERNEL) else {
        return;
    };
    rt.conns.snapshot_where(&mut frozen, |f| {
        f.role == Role::Front && f.peer == peer && f.phase == Phase::Frozen
    });
    if frozen.is_empty() {
        return;
    }
    let mut replies = rt.replies.lock();
    for f in frozen.iter() {
        if !replies.iter().any(|(id, _)| *id == f.id) {
            let _ = replies.push((f.id, Reply::Nack(reason::TIMEOUT)), GFP_KERNEL);
        }
    }
    rt.replied.notify_all();
}

/// Peer `peer` came back with another boot id: every connection this node
/// shared with it is over there (its stack lost them, and reset or will
/// reset their clients), so its flows end here at once rather than when
/// they idle out: a back-end's server sockets of that front-end's clients
/// are aborted (they would otherwise send until TCP gives up, some 15
/// minutes), a front-end's flows to that back-end freed.
pub(crate) fn peer_restarted(rt: &Runtime, peer: u32) {
    let mut ended = 0usize;
    for _ in 0..=rt.conns.max() / ABORT_BATCH {
        let Ok(mut gone) = KVec::with_capacity(ABORT_BATCH, GFP_KERNEL) else {
            break;
        };
        rt.conns
            .drain(&mut gone, |f| (f.peer == peer).then_some(reason::CLOSED));
        if gone.is_empty() {
            break;
        }
        for (i, (f, _)) in gone.iter().enumerate() {
            if f.role == Role::Back {
                // The flow is gone: the stack's RST leaves unrewritten, to
                // a client that has no connection with this address.
                let _ = socket::abort_tcp(rt.net.get(), f.backend, f.client);
            }
            if i % ABORT_YIELD_EVERY == ABORT_YIELD_EVERY - 1 {
                kthread::sleep_ms(1);
            }
        }
        ended += gone.len();
    }
    pr_info!(
        "peer {} restarted: {} connections shared with it ended\n",
        peer,
        ended
    );
}

/// Forgets any reply to handoff `id` (e.g. one [`peer_down`] left for a
/// request that was then never sent).
fn forget_reply(rt: &Runtime, id: u64) {
    let mut replies = rt.replies.lock();
    while let Some(i) = replies.iter().position(|(rid, _)| *rid == id) {
        let _ = vec::swap_remove(&mut replies, i);
    }
}

fn inject(rt: &Runtime, seg: &Segment<'_>, buf: &mut [u8]) -> Result {
    let len = packet::build(seg, buf).ok_or(ENOSPC)?;
    skb::inject_ipv4(rt.net.get(), buf.get(..len).ok_or(EINVAL)?)
}

/// Takes connection `req` from front-end `from` (0: this node): replays the
/// handshake into this node's stack and answers HANDOFF_ACK or
/// HANDOFF_NACK.
pub(crate) fn take(rt: &Runtime, from: u32, req: &HandoffReq<'_>, stop: &Stop) -> Message<'static> {
    let nack = |reason| Message::HandoffNack(IdReason { id: req.id, reason });
    let key = Key {
        client: req.client,
        local: req.backend,
    };
    // Only this node's own servers can take a connection here: a request
    // for another address (a misconfigured or malicious peer) would make
    // this node forward a forged SYN.
    if !skb::is_local_addr(rt.net.get(), req.backend.addr) {
        if kthread::net_ratelimit() {
            pr_warn!("handoff {} from peer {} names a back-end address that is not this node's, refused\n", req.id, from);
        }
        return nack(reason::INVALID);
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
    match insert_replacing(rt, flow) {
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
    match replay(rt, req, &key, stop) {
        Ok(ack) => {
            rt.conns.stats.taken.fetch_add(1, Ordering::Relaxed);
            Message::HandoffAck(ack)
        }
        Err(r) => {
            rt.conns.remove(&key);
            nack(r)
        }
    }
}

fn replay<'a>(
    rt: &Runtime,
    req: &HandoffReq<'a>,
    key: &Key,
    stop: &Stop,
) -> core::result::Result<HandoffAck, u8> {
    let ts = req.options & opt_bits::TIMESTAMPS != 0;
    let ws = req.options & opt_bits::WSCALE != 0;
    let mut buf =
        KVec::from_elem(0u8, 20 + 60 + INJECT_MSS, GFP_KERNEL).map_err(|_| reason::OVERLOAD)?;
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
    socket::end_time_wait(rt.net.get(), req.backend, req.client);
    inject(rt, &syn, &mut buf).map_err(|_| reason::OTHER)?;
    let start = kthread::now_ms();
    let mut sent = start;
    let answer = loop {
        if let Some(a) = rt.conns.with(key, |f| f.answer).flatten() {
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
            inject(rt, &syn, &mut buf).map_err(|_| reason::OTHER)?;
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
    rt.conns.with(key, |f| {
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
        inject(rt, &segment(seq, flags::ACK | push, payload), &mut buf)
            .map_err(|_| reason::OTHER)?;
        seq = seq.wrapping_add(payload.len() as u32);
        first = false;
        if payload.is_empty() {
            break;
        }
    }
    if req.options & opt_bits::FIN != 0 {
        inject(rt, &segment(seq, flags::FIN | flags::ACK, &[]), &mut buf)
            .map_err(|_| reason::OTHER)?;
    }
    Ok(HandoffAck {
        id: req.id,
        backend_isn: isn,
        backend_tsval,
        backend_wscale,
    })
}

/// Flows [`abort_servers`] looks at in one pass.
const ABORT_BATCH: usize = 1024;
/// [`abort_servers`] sleeps a moment after this many aborts.
const ABORT_YIELD_EVERY: usize = 32;
/// How long [`abort_servers`] keeps the flows after the aborts, so that a
/// client's challenge ACK (the RST's sequence number was not exactly the
/// one it expected: data in flight) gets the stack's exact RST through them.
const ABORT_GRACE_MS: u32 = 200;

/// The namespace goes away (module unload, namespace deleted) while its
/// hooks still run (see [`going_away`]): the server sockets of the established back-end flows
/// are aborted, so that their RSTs, rewritten by the flows, reset the
/// clients. Without this a client would wait forever for the rest of its
/// answer: the server's later packets would leave unrewritten, from an
/// address the client does not know.
fn abort_servers(rt: &Runtime) {
    let mut aborted = 0usize;
    // Each pass marks what it saw as reset: at most max / ABORT_BATCH
    // passes.
    for _ in 0..=rt.conns.max() / ABORT_BATCH {
        let Ok(mut live) = KVec::with_capacity(ABORT_BATCH, GFP_KERNEL) else {
            break;
        };
        rt.conns.snapshot_where(&mut live, |f| {
            f.role == Role::Back && f.phase == Phase::Established && !f.reset
        });
        if live.is_empty() {
            break;
        }
        for (i, f) in live.iter().enumerate() {
            // The front-end first, while the channel is surely up: it
            // frees its flow (a client's later packet then meets its
            // stack, which resets it too).
            if f.peer != 0 {
                let _ = rt.ctrl.send(
                    f.peer,
                    &Message::ConnEnd(IdReason {
                        id: f.id,
                        reason: reason::CLOSED,
                    }),
                );
            }
            if socket::abort_tcp(rt.net.get(), f.backend, f.client).is_ok() {
                aborted += 1;
            }
            // Its RST marked it already if it went out; also when there is
            // no socket any more.
            rt.conns.with(&f.key(), |f| f.reset = true);
            // Let the other threads (the channels' heartbeats) run: this
            // loop may take long with many connections on a slow machine.
            if i % ABORT_YIELD_EVERY == ABORT_YIELD_EVERY - 1 {
                kthread::sleep_ms(1);
            }
        }
    }
    if aborted > 0 {
        if kthread::net_ratelimit() {
            pr_info!(
                "{} handed-off connections reset: their node is going away\n",
                aborted
            );
        }
        kthread::sleep_ms(ABORT_GRACE_MS);
    }
}

/// The namespace goes away: after [`abort_servers`] (which already told
/// the front-ends of the established connections), every flow is removed
/// now, and each front-end whose connection this node served hears of it
/// (CONN_END) while the channel is still up, instead of keeping its flow
/// until it idles out.
pub(crate) fn going_away(rt: &Runtime) {
    // No new handoff from now on, either way: a peer's HANDOFF_REQ is
    // refused (NACK, it may serve the client elsewhere), a new client of
    // this node's services is reset. An insert that passed this check
    // before is over long before abort_servers' grace period ends.
    rt.conns.close();
    rt.conns.hold.expire(0, true);
    abort_servers(rt);
    for _ in 0..=rt.conns.max() / ABORT_BATCH {
        let Ok(mut done) = KVec::with_capacity(ABORT_BATCH, GFP_KERNEL) else {
            return;
        };
        rt.conns.drain(&mut done, |_| Some(reason::CLOSED));
        if done.is_empty() {
            return;
        }
        ended(rt, &done);
    }
}

/// Flows just removed: the front-end of each back-end flow hears of it,
/// a peer by CONN_END, this node (peer 0) by removing its front flow.
fn ended(rt: &Runtime, done: &[(Flow, u8)]) {
    for (f, why) in done.iter() {
        if f.role == Role::Back && f.peer != 0 {
            let msg = Message::ConnEnd(IdReason {
                id: f.id,
                reason: *why,
            });
            let _ = rt.ctrl.send(f.peer, &msg);
        } else if f.role == Role::Back {
            rt.conns.remove_front_id(f.id, 0);
        }
    }
}

/// Most flows one garbage-collection pass removes.
const GC_BATCH: usize = 256;
/// A garbage-collection pass (every 250 ms) walks this part of a table of
/// more than [`GC_SMALL`] flows: the whole table once a second, a bounded
/// time with the writer lock. A smaller table is walked whole every pass.
const GC_PARTS: usize = 4;
/// See [`GC_PARTS`].
const GC_SMALL: usize = 4096;
/// Most buckets a pass walks: a large table (`conn_tab_bits` 17: 131072
/// buckets) is walked in parts whatever it holds (every 2 s in all).
const GC_PASS_BUCKETS: usize = 16384;
/// Most batches of [`GC_BATCH`] one pass removes (8192 flows a second).
const GC_ROUNDS: usize = 8;

/// The garbage collector of a namespace: every second, removes flows that
/// closed or idled out, and tells the front-end of each back-end flow.
/// A back-end flow whose client sent an RST is over once the server's
/// stack took the RST: no socket is left for the connection. (An RST the
/// stack refused, its sequence number not the expected one, leaves the
/// socket and the flow as they were, as RFC 5961 wants.)
fn server_gone(net: &Net, f: &Flow) -> Option<u8> {
    let gone = f.role == Role::Back
        && f.phase == Phase::Established
        && f.client_rst
        && !socket::tcp_exists(net, f.backend, f.client);
    gone.then_some(reason::CLOSED)
}

pub(crate) fn gc_main(rt: &Runtime, stop: &Stop) {
    while !stop.requested() {
        kthread::sleep_ms(250);
        let now = kthread::now_ms();
        rt.conns.hold.expire(now, false);
        if rt.conns.len() == 0 {
            continue;
        }
        let idle = u64::from(rt.published().base.idle_timeout_ms);
        let Ok(mut done) = KVec::with_capacity(GC_BATCH, GFP_KERNEL) else {
            continue;
        };
        let net = rt.net.get();
        let up = KVec::with_capacity(MAX_PEERS, GFP_KERNEL)
            .ok()
            .map(|mut v| {
                rt.ctrl.up_peers(&mut v);
                v
            });
        // A front flow whose client reset it and whose back-end can no
        // longer send CONN_END (its channel is down: e.g. the node died).
        let orphan = |f: &Flow| {
            up.as_ref()
                .is_some_and(|up| f.peer != 0 && !up.contains(&f.peer) && f.reset_and_quiet(now))
                .then_some(reason::CLOSED)
        };
        // Many connections may end at once: a full batch is sent on and
        // the sweep goes on where it stopped, up to GC_ROUNDS batches.
        let parts = (rt.conns.buckets() / GC_PASS_BUCKETS).max(if rt.conns.len() > GC_SMALL {
            GC_PARTS
        } else {
            1
        });
        for _ in 0..GC_ROUNDS {
            vec::clear(&mut done);
            rt.conns.gc_sweep(parts, &mut done, |f| {
                f.expired(now, idle)
                    .or_else(|| server_gone(net, f))
                    .or_else(|| orphan(f))
            });
            ended(rt, &done);
            if done.len() < GC_BATCH {
                break;
            }
        }
    }
}
