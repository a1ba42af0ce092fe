// SPDX-License-Identifier: GPL-2.0

//! The control channel between peers (the role of IPVS's `ip_vs_sync.c`).
//!
//! One persistent kernel TCP connection per peer pair, on each node's
//! `ctrl-port`: the node with the smaller node id connects, the other
//! accepts. Both send HELLO first (node id, capabilities, nonce), then AUTH,
//! tagged with the session key when the namespace has a key (see
//! [`crate::proto::ctrl`]); a channel is established only when the other
//! side's AUTH verified, and only then does it replace an older channel of
//! the same peer. Afterwards each side sends a HEARTBEAT every
//! [`HEARTBEAT_MS`] and declares the peer down when nothing arrived for
//! `heartbeat-timeout-ms` (a setting, 3 s by default). Handoff requests
//! are replayed by the pool of [`crate::replay`], never on a channel's
//! thread, so that a replay never delays a heartbeat. A connecting side
//! retries with
//! exponential backoff from [`BACKOFF_MIN_MS`] to [`BACKOFF_MAX_MS`].
//!
//! Threads: one listener per namespace (while the node id is set), which
//! turns strangers away and queues the other connections for
//! [`HANDSHAKE_THREADS`] handshake threads (at most [`PENDING_PER_ADDR`] per
//! address, [`PENDING_MAX`] in all, so that silent connections from one
//! address hold neither the port nor the other peers' handshakes), and one
//! thread per configured peer, each doing blocking socket calls with
//! timeouts, so that a stop request is seen within [`TICK_MS`]. Frames are
//! encoded and validated by [`crate::proto::ctrl`]; a frame that does not
//! validate closes that channel only, with a rate-limited log line.

use crate::{
    front,
    proto::{
        config::PeerConf,
        ctrl::{self as codec, Endpoint, IdReason, Message},
    },
    state::Runtime,
    sys::{
        crypto::{self, Hmac},
        kthread::{self, Stop, Thread},
        netns::NetPtr,
        socket::Socket,
        vec,
    },
    teardown,
};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use kernel::{
    new_condvar, new_mutex,
    prelude::*,
    sync::{Arc, CondVar, Mutex},
    time::msecs_to_jiffies,
};

/// Interval between heartbeats.
pub(crate) const HEARTBEAT_MS: u64 = 1000;
/// Socket timeout of blocking calls, the latency of stop requests.
const TICK_MS: u32 = 250;
/// Time allowed for the HELLO exchange and for connecting.
const HELLO_MS: u32 = 2000;
/// Handshake threads per namespace: the listener hands them accepted
/// connections, so that a slow or silent one holds a thread, not the port.
const HANDSHAKE_THREADS: usize = 4;
/// Accepted connections waiting for a handshake thread, at most.
const PENDING_MAX: usize = 16;
/// Connections from one address waiting or in a handshake, at most: a flood
/// from one address cannot keep the others' handshakes out.
const PENDING_PER_ADDR: usize = 2;
/// First and last reconnect delay.
const BACKOFF_MIN_MS: u32 = 100;
const BACKOFF_MAX_MS: u32 = 5000;

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
    /// The namespace's key when the peer was configured.
    key: Option<Arc<Hmac>>,
    up: AtomicBool,
    /// `kthread::now_ms()` of the last frame received, 0 if none.
    last_rx_ms: AtomicU64,
    msgs_in: AtomicU64,
    msgs_out: AtomicU64,
    connects: AtomicU32,
    /// The peer's boot id on its last channel (0: none yet).
    boot: AtomicU64,
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

    fn addr(&self) -> Endpoint {
        Endpoint {
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
    key: Option<Arc<Hmac>>,
    #[pin]
    peers: Mutex<KVec<Arc<Peer>>>,
    /// Accepted connections for the handshake threads.
    #[pin]
    pending: Mutex<Pending>,
    /// Signalled when a connection is queued.
    #[pin]
    queued: CondVar,
}

/// Connections between accept and the end of their handshake.
struct Pending {
    /// Waiting for a handshake thread.
    queue: KVec<(Socket, Endpoint)>,
    /// The address of each connection queued or in a handshake.
    busy: KVec<[u8; 4]>,
}

impl Pending {
    /// Queues `sock`, unless the queue is full or `from` already has
    /// [`PENDING_PER_ADDR`] connections in it or in handshakes.
    fn push(&mut self, sock: Socket, from: Endpoint) -> core::result::Result<(), Closed> {
        if self.busy.iter().filter(|a| **a == from.addr).count() >= PENDING_PER_ADDR {
            return Err(Closed::Protocol(
                "too many handshakes pending from this address",
            ));
        }
        if self.queue.len() >= PENDING_MAX {
            return Err(Closed::Protocol("too many handshakes pending"));
        }
        self.busy
            .push(from.addr, GFP_KERNEL)
            .map_err(|e| Closed::Io(e.into()))?;
        if let Err(e) = self.queue.push((sock, from), GFP_KERNEL) {
            self.done(from.addr);
            return Err(Closed::Io(e.into()));
        }
        Ok(())
    }

    /// A handshake of a connection from `addr` ended.
    fn done(&mut self, addr: [u8; 4]) {
        if let Some(i) = self.busy.iter().position(|a| *a == addr) {
            vec::swap_remove(&mut self.busy, i);
        }
    }
}

/// Threads a [`Ctrl::reconcile`] stopped (already woken): joined when
/// this is dropped, which the caller does once it holds no lock they may
/// wait for.
#[derive(Default)]
pub(crate) struct Stopped {
    listener: Option<Thread<Shared>>,
    handshakers: KVec<Thread<Shared>>,
    peers: KVec<Thread<Peer>>,
}

struct Running {
    me: u32,
    port: u16,
    key: Option<Arc<Hmac>>,
    listener: Option<Thread<Shared>>,
    handshakers: KVec<Thread<Shared>>,
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
                key: None,
                listener: None,
                handshakers: KVec::new(),
                shared: None,
                peers: KVec::new(),
            }, "baton_ctrl"),
        })
    }

    /// Makes the running channels match the configuration: listener on
    /// `port` while `me` (this node's id) is set, one thread per peer,
    /// channels authenticated with `key` if there is one. Threads whose
    /// configuration is unchanged keep running; a new key restarts all.
    /// The threads that stop go to `stopped`, joined by the caller.
    pub(crate) fn reconcile(
        &self,
        rt: &Arc<Runtime>,
        me: u32,
        port: u16,
        peers: &[PeerConf],
        key: Option<&Arc<Hmac>>,
        stopped: &mut Stopped,
    ) -> Result {
        {
            let mut run = self.running.lock();
            let same_key = match (&run.key, key) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            };
            let restart_all = run.me != me || run.port != port || !same_key;
            // Keep the threads of peers whose configuration is unchanged.
            // Room first: no thread is dropped (joined) under the lock.
            let mut keep = KVec::with_capacity(run.peers.len() + peers.len(), GFP_KERNEL)?;
            stopped.peers.reserve(run.peers.len(), GFP_KERNEL)?;
            stopped
                .handshakers
                .reserve(run.handshakers.len(), GFP_KERNEL)?;
            for t in core::mem::take(&mut run.peers) {
                let same = !restart_all && peers.contains(&t.data().conf);
                let list = if same {
                    &mut keep
                } else {
                    t.data().wake();
                    &mut stopped.peers
                };
                // Within the capacity reserved: cannot fail.
                let _ = list.push(t, GFP_KERNEL);
            }
            run.peers = keep;
            if restart_all {
                if let Some(s) = &run.shared {
                    *s.peers.lock() = KVec::new();
                }
                stopped.listener = run.listener.take();
                for t in core::mem::take(&mut run.handshakers) {
                    // Within the capacity reserved: cannot fail.
                    let _ = stopped.handshakers.push(t, GFP_KERNEL);
                }
                run.shared = None;
                run.me = me;
                run.port = port;
                run.key = key.cloned();
                if me != 0 {
                    let shared = Arc::pin_init(
                        pin_init!(Shared {
                            net: self.net,
                            me,
                            port,
                            key: key.cloned(),
                            peers <- new_mutex!(KVec::new(), "baton_ctrl_peers"),
                            pending <- new_mutex!(
                                Pending {
                                    queue: KVec::new(),
                                    busy: KVec::new(),
                                },
                                "baton_ctrl_pending"
                            ),
                            queued <- new_condvar!("baton_ctrl_queued"),
                        }),
                        GFP_KERNEL,
                    )?;
                    for _ in 0..HANDSHAKE_THREADS {
                        match Thread::spawn(c"baton-handshake", shared.clone(), handshake_main) {
                            Ok(t) => run.handshakers.push(t, GFP_KERNEL)?,
                            Err(e) => pr_err!("cannot start a handshake thread: {:?}\n", e),
                        }
                    }
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
                            key: key.cloned(),
                            up: AtomicBool::new(false),
                            last_rx_ms: AtomicU64::new(0),
                            msgs_in: AtomicU64::new(0),
                            msgs_out: AtomicU64::new(0),
                            connects: AtomicU32::new(0),
                            boot: AtomicU64::new(0),
                            sock <- new_mutex!(None, "baton_peer_sock"),
                            handover <- new_mutex!(None, "baton_peer_handover"),
                            tx <- new_mutex!(None, "baton_peer_tx"),
                        }),
                        GFP_KERNEL,
                    )?;
                    let thread = Thread::spawn(c"baton-peer", peer.clone(), peer_main)?;
                    // Within the capacity of `keep`.
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

    /// Adds the node ids of the peers whose channel is up to `out` (as many
    /// as fit its capacity).
    pub(crate) fn up_peers(&self, out: &mut KVec<u32>) {
        let run = self.running.lock();
        for t in run.peers.iter() {
            if out.len() < out.capacity() && t.data().status().up {
                // Capacity checked: no allocation.
                let _ = out.push(t.data().conf.node_id, GFP_ATOMIC);
            }
        }
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
const FRAME_MAX: usize = codec::HEADER_LEN + codec::MAX_PAYLOAD + codec::MAC_LEN;

/// One channel: framing and sequence numbers on a socket, from the HELLO
/// exchange to its end.
struct Channel {
    sock: Arc<Socket>,
    rx: KVec<u8>,
    filled: usize,
    rx_seq: codec::SeqCheck,
    /// The session's tag transform once derived, on a channel with a key.
    auth: Option<Arc<Hmac>>,
    /// Direction byte of the frames received.
    rx_dir: u8,
    /// Moved to [`Peer::tx`] once the channel is established.
    tx: Option<Tx>,
    /// The peer's boot id from its HELLO (0: none), once authenticated.
    peer_boot: u64,
}

/// The sending half of a channel: frame buffer and sequence numbers.
struct Tx {
    sock: Arc<Socket>,
    buf: KVec<u8>,
    seq: u32,
    /// The session's tag transform, on an authenticated channel.
    auth: Option<Arc<Hmac>>,
    /// Direction byte of the frames sent.
    dir: u8,
}

impl Tx {
    fn send(&mut self, msg: &Message<'_>) -> core::result::Result<(), Closed> {
        let mut len = codec::encode(msg, self.seq, &mut self.buf)
            .map_err(|_| Closed::Protocol("cannot encode a frame"))?;
        if let Some(auth) = &self.auth {
            let body = len;
            len = codec::add_mac_room(&mut self.buf, body)
                .map_err(|_| Closed::Protocol("cannot encode a frame"))?;
            let tag = auth
                .tag(&[&[self.dir], &self.buf[..body]])
                .map_err(Closed::Io)?;
            self.buf[body..len].copy_from_slice(&tag.0);
        }
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
    /// No frame for `heartbeat-timeout-ms`.
    Dead,
    /// The thread was asked to stop.
    Stop,
}

impl Channel {
    fn new(sock: Socket, initiator: bool) -> Result<Self> {
        let (tx_dir, rx_dir) = if initiator {
            (codec::dir::FROM_INITIATOR, codec::dir::FROM_ACCEPTOR)
        } else {
            (codec::dir::FROM_ACCEPTOR, codec::dir::FROM_INITIATOR)
        };
        let sock = Arc::new(sock, GFP_KERNEL)?;
        let rx = KVec::from_elem(0, FRAME_MAX, GFP_KERNEL)?;
        let buf = KVec::from_elem(0, FRAME_MAX, GFP_KERNEL)?;
        Ok(Self {
            sock: sock.clone(),
            rx,
            filled: 0,
            rx_seq: codec::SeqCheck::new(),
            auth: None,
            rx_dir,
            tx: Some(Tx {
                sock,
                buf,
                seq: 0,
                auth: None,
                dir: tx_dir,
            }),
            peer_boot: 0,
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
                let total = hdr.frame_len();
                if self.filled >= total {
                    self.check_tag(&hdr)?;
                    self.rx_seq
                        .check(hdr.seq())
                        .map_err(|e| Closed::Protocol(e.describe()))?;
                    let body = codec::HEADER_LEN + hdr.payload_len();
                    let msg = codec::decode(&hdr, &self.rx[codec::HEADER_LEN..body])
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

    /// Verifies the tag of the complete frame at the start of the buffer,
    /// or that it has none on a channel without a key.
    fn check_tag(&self, hdr: &codec::Header) -> core::result::Result<(), Closed> {
        let refuse = |e: codec::DecodeError| Err(Closed::Protocol(e.describe()));
        let body = codec::HEADER_LEN + hdr.payload_len();
        match (&self.auth, hdr.has_mac()) {
            (Some(auth), true) => {
                let ok = auth
                    .verify(
                        &[&[self.rx_dir], &self.rx[..body]],
                        &self.rx[body..hdr.frame_len()],
                    )
                    .map_err(Closed::Io)?;
                if ok {
                    Ok(())
                } else {
                    refuse(codec::DecodeError::BadMac)
                }
            }
            (Some(_), false) => refuse(codec::DecodeError::MissingMac),
            (None, true) => refuse(codec::DecodeError::UnexpectedMac),
            (None, false) => Ok(()),
        }
    }

    /// Receives the next frame within [`HELLO_MS`] and hands it to `pick`,
    /// which keeps what it wants or refuses the frame.
    fn expect<T>(
        &mut self,
        mut pick: impl FnMut(&Message<'_>) -> core::result::Result<T, Closed>,
    ) -> core::result::Result<T, Closed> {
        let deadline = kthread::now_ms() + u64::from(HELLO_MS);
        let mut got = None;
        while got.is_none() {
            if kthread::now_ms() > deadline {
                return Err(Closed::Protocol("handshake not completed in time"));
            }
            self.recv(&mut |m| {
                got = Some(pick(m)?);
                Ok(())
            })?;
        }
        got.ok_or(Closed::Protocol("no frame"))
    }

    /// Receives the peer's HELLO.
    fn expect_hello(&mut self) -> core::result::Result<codec::Hello, Closed> {
        self.expect(|m| match m {
            Message::Hello(h) => Ok(*h),
            _ => Err(Closed::Protocol("first frame is not HELLO")),
        })
    }

    /// Sends this node's HELLO, with a fresh nonce and the namespace's boot
    /// id `boot`; returns it.
    fn hello(
        &mut self,
        me: u32,
        keyed: bool,
        boot: u64,
    ) -> core::result::Result<codec::Hello, Closed> {
        let auth = if keyed { codec::cap::AUTH } else { 0 };
        let mut hello = codec::Hello {
            node_id: me,
            capabilities: auth | codec::cap::BOOT,
            nonce: [0; codec::NONCE_LEN],
            boot_id: boot,
        };
        crypto::random_bytes(&mut hello.nonce);
        self.tx
            .as_mut()
            .ok_or(Closed::Protocol("no sender"))?
            .send(&Message::Hello(hello))?;
        Ok(hello)
    }

    /// Completes the handshake after the HELLO exchange: with `key`,
    /// derives the session key from both HELLOs and tags every frame from
    /// now on; sends AUTH and waits for the peer's, whose tag proves that
    /// the peer has the key.
    fn authenticate(
        &mut self,
        key: Option<&Arc<Hmac>>,
        initiator: &codec::Hello,
        acceptor: &codec::Hello,
    ) -> core::result::Result<(), Closed> {
        let theirs = if self.rx_dir == codec::dir::FROM_INITIATOR {
            initiator
        } else {
            acceptor
        };
        let keyed = theirs.capabilities & codec::cap::AUTH != 0;
        match key {
            Some(_) if !keyed => {
                return Err(Closed::Protocol(
                    "the peer has no key, and this node requires authentication",
                ))
            }
            None if keyed => {
                return Err(Closed::Protocol(
                    "the peer requires authentication, and this node has no key",
                ))
            }
            _ => {}
        }
        if let Some(key) = key {
            let (boot, len) = codec::session_boot_info(initiator, acceptor);
            let session = key
                .tag(&[
                    &codec::session_info(initiator, acceptor),
                    boot.get(..len).unwrap_or(&[]),
                ])
                .map_err(Closed::Io)?;
            let auth = Arc::new(Hmac::new(&session.0).map_err(Closed::Io)?, GFP_KERNEL)
                .map_err(|e| Closed::Io(e.into()))?;
            self.tx.as_mut().ok_or(Closed::Protocol("no sender"))?.auth = Some(auth.clone());
            self.auth = Some(auth);
        }
        self.tx
            .as_mut()
            .ok_or(Closed::Protocol("no sender"))?
            .send(&Message::Auth)?;
        self.expect(|m| match m {
            Message::Auth => Ok(()),
            _ => Err(Closed::Protocol("first frame after HELLO is not AUTH")),
        })
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
        Message::Hello(_) | Message::Auth => Err(Closed::Protocol(
            "handshake frame on an established channel",
        )),
        // Replayed by the pool: this thread only reads and writes frames.
        Message::HandoffReq(req) => {
            match peer.rt.replays.submit(&peer.rt, peer.conf.node_id, req) {
                Ok(()) => Ok(()),
                Err(why) => peer.send(&Message::HandoffNack(IdReason {
                    id: req.id,
                    reason: why,
                })),
            }
        }
        Message::HandoffAck(_) | Message::HandoffNack(_) => {
            front::reply(&peer.rt, peer.conf.node_id, m);
            Ok(())
        }
        Message::ConnEnd(end) => {
            front::conn_end(&peer.rt, peer.conf.node_id, end);
            Ok(())
        }
    }
}

/// Runs an established channel until it ends.
fn session(peer: &Peer, ch: &mut Channel, stop: &Stop) -> Closed {
    let mut last_tx = 0u64;
    loop {
        if stop.requested() {
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
                // A setting (`heartbeat-timeout-ms`), read as it is now.
                let dead = u64::from(peer.rt.published().base.heartbeat_timeout_ms);
                if kthread::now_ms().saturating_sub(last) > dead {
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
    let mut ch = Channel::new(sock, true).map_err(Closed::Io)?;
    let mine = ch.hello(peer.me, peer.key.is_some(), peer.rt.boot_id)?;
    let theirs = ch.expect_hello()?;
    if theirs.node_id != peer.conf.node_id {
        return Err(Closed::Protocol("HELLO from an unexpected node id"));
    }
    ch.authenticate(peer.key.as_ref(), &mine, &theirs)?;
    ch.peer_boot = theirs.boot_id;
    Ok(ch)
}

/// The thread of one peer: (re)connects or waits for the listener, runs
/// the channel, and marks the peer down when it ends.
fn peer_main(peer: &Peer, stop: &Stop) {
    let mut backoff = BACKOFF_MIN_MS;
    while !stop.requested() {
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
        // Another boot id: the peer restarted (module reloaded, node
        // rebooted) and its side of every connection shared with this
        // node is gone; they end here before the new channel takes any.
        let before = peer.boot.swap(ch.peer_boot, Ordering::Relaxed);
        if before != 0 && ch.peer_boot != 0 && before != ch.peer_boot {
            teardown::peer_restarted(&peer.rt, peer.conf.node_id);
        }
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
        let why = session(peer, &mut ch, stop);
        peer.up.store(false, Ordering::Relaxed);
        *peer.tx.lock() = None;
        *peer.sock.lock() = None;
        front::peer_down(&peer.rt, peer.conf.node_id);
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

/// Queues an accepted connection for a handshake thread. A stranger is
/// turned away at once.
fn queue(shared: &Shared, sock: Socket, from: Endpoint) -> core::result::Result<(), Closed> {
    if !shared.peers.lock().iter().any(|p| p.conf.addr == from.addr) {
        return Err(Closed::Protocol("not a peer address"));
    }
    shared.pending.lock().push(sock, from)?;
    shared.queued.notify_one();
    Ok(())
}

/// Logs why a connection from `from` was refused (rate-limited).
fn log_refused(shared: &Shared, from: Endpoint, why: &Closed) {
    if let Closed::Protocol(what) = why {
        if kthread::net_ratelimit() {
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
    }
}

/// A handshake thread: runs the handshakes of queued connections.
fn handshake_main(shared: &Shared, stop: &Stop) {
    while !stop.requested() {
        let job = {
            let mut pending = shared.pending.lock();
            if pending.queue.is_empty() {
                // Woken by a queued connection or a stop request.
                let _ = shared
                    .queued
                    .wait_interruptible_timeout(&mut pending, msecs_to_jiffies(TICK_MS));
            }
            let last = pending.queue.len().checked_sub(1);
            last.and_then(|i| vec::swap_remove(&mut pending.queue, i))
        };
        if let Some((sock, from)) = job {
            if let Err(why) = admit(shared, sock, from) {
                log_refused(shared, from, &why);
            }
            shared.pending.lock().done(from.addr);
        }
    }
}

/// Runs the handshake of an accepted connection and gives the channel to
/// its peer.
fn admit(shared: &Shared, sock: Socket, from: Endpoint) -> core::result::Result<(), Closed> {
    let mut ch = Channel::new(sock, false).map_err(Closed::Io)?;
    let theirs = ch.expect_hello()?;
    let id = theirs.node_id;
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
    let mine = ch.hello(shared.me, shared.key.is_some(), peer.rt.boot_id)?;
    ch.authenticate(shared.key.as_ref(), &theirs, &mine)?;
    ch.peer_boot = theirs.boot_id;
    // A new, authenticated channel replaces the old one (the peer
    // restarted).
    peer.wake();
    *peer.handover.lock() = Some(ch);
    Ok(())
}

/// The listener thread of a namespace.
fn listen_main(shared: &Shared, stop: &Stop) {
    let listener = match Socket::tcp(shared.net.get(), TICK_MS, HELLO_MS).and_then(|s| {
        s.listen(
            Endpoint {
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
    while !stop.requested() {
        match listener.accept(HELLO_MS, HELLO_MS) {
            Ok(sock) => {
                let from = sock.peer_addr().unwrap_or(Endpoint {
                    addr: [0; 4],
                    port: 0,
                });
                if let Err(why) = queue(shared, sock, from) {
                    log_refused(shared, from, &why);
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
