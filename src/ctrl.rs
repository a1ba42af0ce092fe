// SPDX-License-Identifier: GPL-2.0

//! The control channel between peers (the role of IPVS's `ip_vs_sync.c`).
//!
//! One persistent kernel TCP connection per peer pair, on each node's
//! `ctrl-port`: the node with the smaller node id connects, the other
//! accepts. Both send HELLO first (node id, capabilities); afterwards each
//! side sends a HEARTBEAT every [`HEARTBEAT_MS`] and declares the peer down
//! when nothing arrived for [`DEAD_MS`]. A connecting side retries with
//! exponential backoff from [`BACKOFF_MIN_MS`] to [`BACKOFF_MAX_MS`].
//!
//! Threads: one listener per namespace (while the node id is set) and one
//! thread per configured peer, each doing blocking socket calls with
//! timeouts, so that a stop request is seen within [`TICK_MS`]. Frames are
//! encoded and validated by [`crate::proto::ctrl`]; a frame that does not
//! validate closes that channel only, with a rate-limited log line.

use crate::{
    handoff,
    proto::{
        config::PeerConf,
        ctrl::{self as codec, Message},
    },
    state::Runtime,
    sys::{
        kthread::{self, Thread},
        netns::NetPtr,
        socket::{SockAddr, Socket},
    },
};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// Interval between heartbeats.
pub(crate) const HEARTBEAT_MS: u64 = 1000;
/// Silence after which a peer is down.
pub(crate) const DEAD_MS: u64 = 3 * HEARTBEAT_MS;
/// Socket timeout of blocking calls, the latency of stop requests.
const TICK_MS: u32 = 250;
/// Time allowed for the HELLO exchange and for connecting.
const HELLO_MS: u32 = 2000;
/// First and last reconnect delay.
const BACKOFF_MIN_MS: u32 = 100;
const BACKOFF_MAX_MS: u32 = 5000;
/// Capabilities this node announces in HELLO.
const CAPABILITIES: u32 = 0;

/// What `batonctl peer list` shows of a peer's channel.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PeerStatus {
    /// A channel is established (HELLO exchanged, heartbeats on time).
    pub(crate) up: bool,
    /// Milliseconds since the last frame from the peer; `None` if never.
    pub(crate) last_rx_ago_ms: Option<u64>,
    /// Frames received and sent on all channels to this peer.
    pub(crate) msgs_in: u64,
    /// Frames sent.
    pub(crate) msgs_out: u64,
    /// Channels established so far.
    pub(crate) connects: u32,
}

/// The state of one peer, shared by its thread, the listener and netlink.
#[pin_data]
struct Peer {
    net: NetPtr,
    rt: Arc<Runtime>,
    me: u32,
    conf: PeerConf,
    up: AtomicBool,
    /// `kthread::now_ms()` of the last frame received, 0 if none.
    last_rx_ms: AtomicU64,
    msgs_in: AtomicU64,
    msgs_out: AtomicU64,
    connects: AtomicU32,
    /// The live socket, so that `stop` can wake a blocked call; also how
    /// the listener hands an accepted socket to an accepting peer.
    #[pin]
    sock: Mutex<Option<Arc<Socket>>>,
    #[pin]
    handover: Mutex<Option<Channel>>,
    /// The sending half of the live channel: any thread may send a frame.
    #[pin]
    tx: Mutex<Option<Tx>>,
}

impl Peer {
    fn initiator(&self) -> bool {
        self.me < self.conf.node_id
    }

    fn addr(&self) -> SockAddr {
        SockAddr {
            addr: self.conf.addr,
            port: self.conf.port,
        }
    }

    fn status(&self) -> PeerStatus {
        let last = self.last_rx_ms.load(Ordering::Relaxed);
        PeerStatus {
            up: self.up.load(Ordering::Relaxed),
            last_rx_ago_ms: (last != 0).then(|| kthread::now_ms().saturating_sub(last)),
            msgs_in: self.msgs_in.load(Ordering::Relaxed),
            msgs_out: self.msgs_out.load(Ordering::Relaxed),
            connects: self.connects.load(Ordering::Relaxed),
        }
    }

    /// Sends `msg` on the live channel; `EPIPE` if there is none.
    fn send(&self, msg: &Message<'_>) -> core::result::Result<(), Closed> {
        let mut tx = self.tx.lock();
        let tx = tx.as_mut().ok_or(Closed::Io(EPIPE))?;
        tx.send(msg)?;
        self.msgs_out.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Wakes the peer's thread out of any socket call.
    fn wake(&self) {
        if let Some(s) = &*self.sock.lock() {
            s.shutdown();
        }
    }
}

/// Shared by the listener thread and the configuration side.
#[pin_data]
struct Shared {
    net: NetPtr,
    me: u32,
    port: u16,
    #[pin]
    peers: Mutex<KVec<Arc<Peer>>>,
}

struct Running {
    me: u32,
    port: u16,
    listener: Option<Thread<Shared>>,
    shared: Option<Arc<Shared>>,
    peers: KVec<Thread<Peer>>,
}

/// The control plane of one namespace.
///
/// Its threads hold the namespace's runtime; `Runtime::shutdown` stops
/// them (`reconcile` with no node id and no peers) before the runtime goes.
#[pin_data]
pub(crate) struct Ctrl {
    net: NetPtr,
    #[pin]
    running: Mutex<Running>,
}

impl Ctrl {
    /// A control plane with nothing running.
    pub(crate) fn new(net: NetPtr) -> impl PinInit<Self> {
        pin_init!(Self {
            net,
            running <- new_mutex!(Running {
                me: 0,
                port: 0,
                listener: None,
                shared: None,
                peers: KVec::new(),
            }, "baton_ctrl"),
        })
    }

    /// Makes the running channels match the configuration: listener on
    /// `port` while `me` (this node's id) is set, one thread per peer.
    /// Threads whose configuration is unchanged keep running.
    pub(crate) fn reconcile(
        &self,
        rt: &Arc<Runtime>,
        me: u32,
        port: u16,
        peers: &[PeerConf],
    ) -> Result {
        let mut old_threads = KVec::new();
        let mut old_listener = None;
        {
            let mut run = self.running.lock();
            let restart_all = run.me != me || run.port != port;
            // Keep the threads of peers whose configuration is unchanged.
            let mut keep = KVec::new();
            for t in core::mem::take(&mut run.peers) {
                let same = !restart_all && peers.contains(&t.data().conf);
                if same {
                    keep.push(t, GFP_KERNEL)?;
                } else {
                    t.data().wake();
                    old_threads.push(t, GFP_KERNEL)?;
                }
            }
            run.peers = keep;
            if restart_all {
                if let Some(s) = &run.shared {
                    *s.peers.lock() = KVec::new();
                }
                old_listener = run.listener.take();
                run.shared = None;
                run.me = me;
                run.port = port;
                if me != 0 {
                    let shared = Arc::pin_init(
                        pin_init!(Shared {
                            net: self.net,
                            me,
                            port,
                            peers <- new_mutex!(KVec::new(), "baton_ctrl_peers"),
                        }),
                        GFP_KERNEL,
                    )?;
                    match Thread::spawn(c"baton-listen", shared.clone(), listen_main) {
                        Ok(t) => run.listener = Some(t),
                        Err(e) => pr_err!("cannot start the control listener: {:?}\n", e),
                    }
                    run.shared = Some(shared);
                }
            }
            if me != 0 {
                for conf in peers {
                    if conf.node_id == me || run.peers.iter().any(|t| t.data().conf == *conf) {
                        continue;
                    }
                    let peer = Arc::pin_init(
                        pin_init!(Peer {
                            net: self.net,
                            rt: rt.clone(),
                            me,
                            conf: *conf,
                            up: AtomicBool::new(false),
                            last_rx_ms: AtomicU64::new(0),
                            msgs_in: AtomicU64::new(0),
                            msgs_out: AtomicU64::new(0),
                            connects: AtomicU32::new(0),
                            sock <- new_mutex!(None, "baton_peer_sock"),
                            handover <- new_mutex!(None, "baton_peer_handover"),
                            tx <- new_mutex!(None, "baton_peer_tx"),
                        }),
                        GFP_KERNEL,
                    )?;
                    let thread = Thread::spawn(c"baton-peer", peer.clone(), peer_main)?;
                    run.peers.push(thread, GFP_KERNEL)?;
                }
            }
            if let Some(s) = &run.shared {
                let mut list = KVec::with_capacity(run.peers.len(), GFP_KERNEL)?;
                for t in run.peers.iter() {
                    list.push(t.data().clone(), GFP_KERNEL)?;
                }
                *s.peers.lock() = list;
            }
        }
        // Stop the replaced threads outside the lock: the listener takes
        // the peer list lock, and stopping waits for a thread to return.
        drop(old_listener);
        drop(old_threads);
        Ok(())
    }

    /// Sends `msg` to peer `node_id` on its live channel.
    pub(crate) fn send(&self, node_id: u32, msg: &Message<'_>) -> Result {
        let peer = {
            let run = self.running.lock();
            run.peers
                .iter()
                .find(|t| t.data().conf.node_id == node_id)
                .map(|t| t.data().clone())
        };
        let peer = peer.ok_or(ENOENT)?;
        if !peer.up.load(Ordering::Relaxed) {
            return Err(EPIPE);
        }
        peer.send(msg).map_err(|c| match c {
            Closed::Io(e) => e,
            _ => EPIPE,
        })
    }

    /// The channel status of peer `node_id`, if it has a thread.
    pub(crate) fn status(&self, node_id: u32) -> Option<PeerStatus> {
        let run = self.running.lock();
        run.peers
            .iter()
            .find(|t| t.data().conf.node_id == node_id)
            .map(|t| t.data().status())
    }
}

/// Largest frame on the wire.
const FRAME_MAX: usize = codec::HEADER_LEN + codec::MAX_PAYLOAD;

/// One channel: framing and sequence numbers on a socket, from the HELLO
/// exchange to its end.
struct Channel {
    sock: Arc<Socket>,
    rx: KVec<u8>,
    filled: usize,
    rx_seq: codec::SeqCheck,
    /// Moved to [`Peer::tx`] once the channel is established.
    tx: Option<Tx>,
}

/// The sending half of a channel: frame buffer and sequence numbers.
struct Tx {
    sock: Arc<Socket>,
    buf: KVec<u8>,
    seq: u32,
}

impl Tx {
    fn send(&mut self, msg: &Message<'_>) -> core::result::Result<(), Closed> {
        let len = codec::encode(msg, self.seq, &mut self.buf)
            .map_err(|_| Closed::Protocol("cannot encode a frame"))?;
        self.seq = self.seq.wrapping_add(1);
        let frame = self
            .buf
            .get(..len)
            .ok_or(Closed::Protocol("frame too long"))?;
        self.sock.send_all(frame).map_err(Closed::Io)
    }
}

/// Why a channel ended.
enum Closed {
    /// The stream ended or a socket call failed.
    Io(Error),
    /// The peer sent something invalid: logged, channel closed.
    Protocol(&'static str),
    /// No frame for [`DEAD_MS`].
    Dead,
    /// The thread was asked to stop.
    Stop,
}

impl Channel {
    fn new(sock: Socket) -> Result<Self> {
        let sock = Arc::new(sock, GFP_KERNEL)?;
        let rx = KVec::from_elem(0, FRAME_MAX, GFP_KERNEL)?;
        let buf = KVec::from_elem(0, FRAME_MAX, GFP_KERNEL)?;
        Ok(Self {
            sock: sock.clone(),
            rx,
            filled: 0,
            rx_seq: codec::SeqCheck::new(),
            tx: Some(Tx { sock, buf, seq: 0 }),
        })
    }

    /// Waits up to one socket timeout for a complete frame and hands it to
    /// `f`. `Ok(false)` if none arrived in time.
    fn recv(
        &mut self,
        f: &mut dyn FnMut(&Message<'_>) -> core::result::Result<(), Closed>,
    ) -> core::result::Result<bool, Closed> {
        loop {
            // A complete frame already buffered?
            if self.filled >= codec::HEADER_LEN {
                let hdr = codec::decode_header(&self.rx[..codec::HEADER_LEN])
                    .map_err(|e| Closed::Protocol(e.describe()))?;
                let total = codec::HEADER_LEN + hdr.payload_len();
                if self.filled >= total {
                    self.rx_seq
                        .check(hdr.seq())
                        .map_err(|e| Closed::Protocol(e.describe()))?;
                    let msg = codec::decode(&hdr, &self.rx[codec::HEADER_LEN..total])
                        .map_err(|e| Closed::Protocol(e.describe()))?;
                    f(&msg)?;
                    self.rx.copy_within(total..self.filled, 0);
                    self.filled -= total;
                    return Ok(true);
                }
            }
            match self.sock.recv(&mut self.rx[self.filled..]) {
                Ok(0) => return Err(Closed::Io(EPIPE)),
                Ok(n) => self.filled += n,
                Err(e) if e == EAGAIN => return Ok(false),
                Err(e) => return Err(Closed::Io(e)),
            }
        }
    }

    /// Receives the peer's HELLO within [`HELLO_MS`]; returns its node id.
    fn expect_hello(&mut self) -> core::result::Result<u32, Closed> {
        let deadline = kthread::now_ms() + u64::from(HELLO_MS);
        let mut id = None;
        while id.is_none() {
            if kthread::now_ms() > deadline {
                return Err(Closed::Protocol("no HELLO in time"));
            }
            self.recv(&mut |m| match m {
                Message::Hello(h) => {
                    id = Some(h.node_id);
                    Ok(())
                }
                _ => Err(Closed::Protocol("first frame is not HELLO")),
            })?;
        }
        id.ok_or(Closed::Protocol("no HELLO"))
    }

    fn hello(&mut self, me: u32) -> core::result::Result<(), Closed> {
        self.tx
            .as_mut()
            .ok_or(Closed::Protocol("no sender"))?
            .send(&Message::Hello(codec::Hello {
                node_id: me,
                capabilities: CAPABILITIES,
            }))
    }
}

fn log_closed(me: u32, peer: u32, why: &Closed) {
    if matches!(why, Closed::Stop) || !kthread::net_ratelimit() {
        return;
    }
    match why {
        Closed::Io(e) => pr_info!("node {}: channel to peer {} closed: {:?}\n", me, peer, e),
        Closed::Protocol(what) => {
            pr_warn!(
                "node {}: peer {}: {}, closing the channel\n",
                me,
                peer,
                what
            )
        }
        Closed::Dead => pr_warn!("node {}: peer {}: heartbeat timeout\n", me, peer),
        Closed::Stop => {}
    }
}

/// Handles one frame of an established channel.
fn on_frame(peer: &Peer, m: &Message<'_>) -> core::result::Result<(), Closed> {
    match m {
        Message::Heartbeat(_) => Ok(()),
        Message::Hello(_) => Err(Closed::Protocol("HELLO on an established channel")),
        Message::HandoffReq(req) => {
            let reply = handoff::take(&peer.rt, peer.conf.node_id, req);
            peer.send(&reply)
        }
        Message::HandoffAck(_) | Message::HandoffNack(_) => {
            handoff::reply(&peer.rt, peer.conf.node_id, m);
            Ok(())
        }
        Message::ConnEnd(end) => {
            handoff::conn_end(&peer.rt, peer.conf.node_id, end);
            Ok(())
        }
    }
}

/// Runs an established channel until it ends.
fn session(peer: &Peer, ch: &mut Channel) -> Closed {
    let mut last_tx = 0u64;
    loop {
        if kthread::should_stop() {
            return Closed::Stop;
        }
        let now = kthread::now_ms();
        if now.saturating_sub(last_tx) >= HEARTBEAT_MS {
            if let Err(c) = peer.send(&Message::Heartbeat(codec::Heartbeat { sent_ms: now })) {
                // The peer closed or reset the channel: the frames it sent
                // before (e.g. the CONN_ENDs of a peer that goes away) are
                // still readable; handle them first.
                while let Ok(true) = ch.recv(&mut |m| on_frame(peer, m)) {
                    peer.msgs_in.fetch_add(1, Ordering::Relaxed);
                }
                return c;
            }
            last_tx = now;
        }
        let got = ch.recv(&mut |m| on_frame(peer, m));
        match got {
            Ok(true) => {
                peer.msgs_in.fetch_add(1, Ordering::Relaxed);
                peer.last_rx_ms.store(kthread::now_ms(), Ordering::Relaxed);
            }
            Ok(false) => {
                let last = peer.last_rx_ms.load(Ordering::Relaxed);
                if kthread::now_ms().saturating_sub(last) > DEAD_MS {
                    return Closed::Dead;
                }
            }
            Err(c) => return c,
        }
    }
}

/// Connects to the peer and exchanges HELLO.
fn dial(peer: &Peer) -> core::result::Result<Channel, Closed> {
    let sock = Socket::tcp(peer.net.get(), TICK_MS, HELLO_MS).map_err(Closed::Io)?;
    sock.connect(peer.addr()).map_err(Closed::Io)?;
    let mut ch = Channel::new(sock).map_err(Closed::Io)?;
    ch.hello(peer.me)?;
    let id = ch.expect_hello()?;
    if id != peer.conf.node_id {
        return Err(Closed::Protocol("HELLO from an unexpected node id"));
    }
    Ok(ch)
}

/// The thread of one peer: (re)connects or waits for the listener, runs
/// the channel, and marks the peer down when it ends.
fn peer_main(peer: &Peer) {
    let mut backoff = BACKOFF_MIN_MS;
    while !kthread::should_stop() {
        let mut ch = if peer.initiator() {
            match dial(peer) {
                Ok(s) => s,
                Err(c) => {
                    log_closed(peer.me, peer.conf.node_id, &c);
                    kthread::sleep_ms(backoff);
                    backoff = (backoff * 2).min(BACKOFF_MAX_MS);
                    continue;
                }
            }
        } else {
            match peer.handover.lock().take() {
                Some(s) => s,
                None => {
                    kthread::sleep_ms(TICK_MS);
                    continue;
                }
            }
        };
        backoff = BACKOFF_MIN_MS;
        *peer.sock.lock() = Some(ch.sock.clone());
        *peer.tx.lock() = ch.tx.take();
        peer.last_rx_ms.store(kthread::now_ms(), Ordering::Relaxed);
        peer.connects.fetch_add(1, Ordering::Relaxed);
        peer.up.store(true, Ordering::Relaxed);
        pr_info!(
            "node {}: channel to peer {} up\n",
            peer.me,
            peer.conf.node_id
        );
        let why = session(peer, &mut ch);
        peer.up.store(false, Ordering::Relaxed);
        *peer.tx.lock() = None;
        *peer.sock.lock() = None;
        handoff::peer_down(&peer.rt, peer.conf.node_id);
        log_closed(peer.me, peer.conf.node_id, &why);
        if !matches!(why, Closed::Stop) {
            pr_info!(
                "node {}: channel to peer {} down\n",
                peer.me,
                peer.conf.node_id
            );
        }
    }
}

/// Checks an accepted connection's HELLO and gives it to its peer.
fn admit(shared: &Shared, sock: Socket, from: SockAddr) -> core::result::Result<(), Closed> {
    // A stranger is turned away at once, before the listener spends any
    // time waiting for a HELLO from it.
    if !shared.peers.lock().iter().any(|p| p.conf.addr == from.addr) {
        return Err(Closed::Protocol("not a peer address"));
    }
    let mut ch = Channel::new(sock).map_err(Closed::Io)?;
    let id = ch.expect_hello()?;
    let peer = shared
        .peers
        .lock()
        .iter()
        .find(|p| p.conf.node_id == id)
        .cloned()
        .ok_or(Closed::Protocol("HELLO from an unknown node id"))?;
    if peer.conf.addr != from.addr {
        return Err(Closed::Protocol(
            "HELLO from the wrong address for its node id",
        ));
    }
    if peer.initiator() {
        return Err(Closed::Protocol(
            "connection from a peer that should accept",
        ));
    }
    ch.hello(shared.me)?;
    // A new channel replaces the old one (the peer restarted).
    peer.wake();
    *peer.handover.lock() = Some(ch);
    Ok(())
}

/// The listener thread of a namespace.
fn listen_main(shared: &Shared) {
    let listener = match Socket::tcp(shared.net.get(), TICK_MS, HELLO_MS).and_then(|s| {
        s.listen(
            SockAddr {
                addr: [0; 4],
                port: shared.port,
            },
            16,
        )?;
        Ok(s)
    }) {
        Ok(s) => s,
        Err(e) => {
            pr_err!(
                "node {}: cannot listen on port {}: {:?}\n",
                shared.me,
                shared.port,
                e
            );
            return;
        }
    };
    pr_info!(
        "node {}: control channel listening on port {}\n",
        shared.me,
        shared.port
    );
    while !kthread::should_stop() {
        match listener.accept(HELLO_MS, HELLO_MS) {
            Ok(sock) => {
                let from = sock.peer_addr().unwrap_or(SockAddr {
                    addr: [0; 4],
                    port: 0,
                });
                match admit(shared, sock, from) {
                    Err(Closed::Protocol(what)) if kthread::net_ratelimit() => {
                        let [a, b, c, d] = from.addr;
                        pr_warn!(
                            "node {}: connection from {}.{}.{}.{}:{} refused: {}\n",
                            shared.me,
                            a,
                            b,
                            c,
                            d,
                            from.port,
                            what
                        );
                    }
                    _ => {}
                }
            }
            // Timeout, or woken by a stop request.
            Err(e) if e == EAGAIN || e == EINTR || e == ERESTARTSYS => {}
            Err(e) => {
                if kthread::net_ratelimit() {
                    pr_warn!("node {}: accept failed: {:?}\n", shared.me, e);
                }
                kthread::sleep_ms(TICK_MS);
            }
        }
    }
}
