// SPDX-License-Identifier: GPL-2.0

//! The control channel between peers (the role of IPVS's `ip_vs_sync.c`).
//!
//! One persistent kernel TCP connection per peer pair, on each node's
//! `ctrl-port`: the node with the smaller node id connects, the other
//! accepts. Both send HELLO first (node id, capabilities, nonce), then AUTH,
//! tagged with the session key when the namespace has a key (see
//! [`crate::proto::ctrl`]); a channel is established only when the other
//! side's AUTH verified, and only then does it replace an older channel of
//! the same peer. Afterwards each side sends a HEARTBEAT when it sent no
//! other frame for [`HEARTBEAT_MS`] (50 ms to a member of the front-end
//! group, whose silence its relay notices sooner than the timeout) and
//! declares the peer down when nothing arrived for `heartbeat-timeout-ms`
//! (a setting, 3 s by default). Handoff requests
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
//! validate closes that channel only, with a rate-limited log line. A frame
//! that may wait ([`Ctrl::send_later`]) is numbered and tagged at once and
//! written with the next one, several frames in one socket call.
//!
//! This file holds the configuration side ([`Ctrl`]: which threads run)
//! and the interface to the namespace ([`Dispatch`]); `peer.rs` a peer's
//! thread and channel life cycle, `accept.rs` the listener and handshake
//! threads, `channel.rs` framing, sequence numbers, HELLO/AUTH and the
//! frames' tags. Nothing here knows what a handoff is.

mod accept;
mod channel;
mod peer;

use accept::{handshake_main, listen_main, Pending, Shared};
use peer::{peer_main, Peer};

use crate::{
    proto::{config::PeerConf, ctrl::Message},
    sys::{crypto::Hmac, kthread::Thread, netns::NetPtr},
};
use channel::Closed;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use kernel::{
    new_condvar, new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// A heartbeat goes after this long without another frame.
pub(crate) const HEARTBEAT_MS: u64 = 1000;
/// Socket timeout of blocking calls, the latency of stop requests.
const TICK_MS: u32 = 250;
/// A frame queued with [`Ctrl::send_later`] goes with the next frame sent
/// to its peer, or once it waited this long, at the peer's thread's next
/// turn (at most [`TICK_MS`] later).
const LATER_MS: u64 = 50;
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
    /// Socket writes that carried them.
    pub(crate) writes_out: u64,
    /// Channels established so far.
    pub(crate) connects: u32,
}

/// What a namespace does with what its channels carry: given to
/// [`Ctrl::reconcile`] and called on the channels' threads, which
/// themselves only read and write frames.
pub(crate) trait Dispatch: Send + Sync {
    /// A frame from peer `from` other than the channel's own (HELLO, AUTH,
    /// heartbeats); returns the frame to answer with, if any.
    fn message(&self, from: u32, m: &Message<'_>) -> Option<Message<'static>>;

    /// The channel to `peer` came up (HELLO and AUTH exchanged).
    fn peer_up(&self, peer: u32);

    /// The channel to `peer` went down.
    fn peer_down(&self, peer: u32);

    /// A frame to send `peer` after each heartbeat, if any.
    fn announcement(&self, peer: u32) -> Option<Message<'static>>;

    /// `peer` came back with another boot id: its side of every
    /// connection shared with this node is gone. Called on the new
    /// channel's thread before it takes a frame; a long piece of work
    /// calls `keepalive` now and then, which sends the peer a heartbeat
    /// when one is due.
    fn peer_restarted(&self, peer: u32, keepalive: &dyn Fn());

    /// How long a channel may stay silent before it is declared dead.
    fn heartbeat_timeout_ms(&self) -> u64;

    /// A frame came from `peer`.
    fn heard(&self, peer: u32);

    /// Whether `peer` is a member of this node's front-end group in its
    /// view: its channel carries a heartbeat after
    /// [`crate::proto::cluster::MEMBER_HEARTBEAT_MS`] without another
    /// frame, not after [`HEARTBEAT_MS`].
    fn member(&self, peer: u32) -> bool;
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
/// Its peers' threads hold the [`Dispatch`] they were given; `reconcile`
/// with no node id and no peers stops them, which the namespace does
/// before it goes.
#[pin_data]
pub(crate) struct Ctrl {
    net: NetPtr,
    boot_id: u64,
    #[pin]
    running: Mutex<Running>,
}

impl Ctrl {
    /// A control plane with nothing running, of a node whose boot id is
    /// `boot_id`.
    pub(crate) fn new(net: NetPtr, boot_id: u64) -> impl PinInit<Self> {
        pin_init!(Self {
            net,
            boot_id,
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
        dispatch: &Arc<dyn Dispatch>,
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
                            boot_id: self.boot_id,
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
                            dispatch: dispatch.clone(),
                            boot_id: self.boot_id,
                            me,
                            conf: *conf,
                            key: key.cloned(),
                            up: AtomicBool::new(false),
                            last_rx_ms: AtomicU64::new(0),
                            last_tx_ms: AtomicU64::new(0),
                            msgs_in: AtomicU64::new(0),
                            msgs_out: AtomicU64::new(0),
                            writes_out: AtomicU64::new(0),
                            connects: AtomicU32::new(0),
                            boot: AtomicU64::new(0),
                            caps: AtomicU32::new(0),
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
    /// A message that needs a capability (IPv6, moves) goes only to a peer
    /// that announced it (`ENOTSUPP` otherwise): an older node would close
    /// the channel.
    pub(crate) fn send(&self, node_id: u32, msg: &Message<'_>) -> Result {
        let peer = self.peer(node_id)?;
        let need = msg.required_caps();
        if peer.caps.load(Ordering::Relaxed) & need != need {
            return Err(ENOTSUPP);
        }
        peer.send(msg).map_err(errno)
    }

    /// Whether peer `node_id`'s channel is up and its HELLO announced
    /// every one of `caps`.
    pub(crate) fn takes(&self, node_id: u32, caps: u32) -> bool {
        self.peer(node_id)
            .is_ok_and(|p| p.caps.load(Ordering::Relaxed) & caps == caps)
    }

    /// Peer `node_id` if its channel is up: `ENOENT` if it is not
    /// configured, `EPIPE` if it is down.
    fn peer(&self, node_id: u32) -> Result<Arc<Peer>> {
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
        Ok(peer)
    }

    /// Sends `msg` to peer `node_id` with the next frame sent to it, or
    /// within a quarter second ([`LATER_MS`], [`TICK_MS`]): for what a
    /// moment's delay cannot harm, one socket call for several frames.
    pub(crate) fn send_later(&self, node_id: u32, msg: &Message<'_>) -> Result {
        self.peer(node_id)?.send_later(msg).map_err(errno)
    }

    /// Adds the node ids of the peers whose channel is up to `out` (as many
    /// as fit its capacity).
    pub(crate) fn up_peers(&self, out: &mut KVec<u32>) {
        self.peers_where(|s| s.up, out);
    }

    /// Adds to `out` the peers whose channel is down and that sent no
    /// frame for `silent_ms` (or never), as many as fit its capacity.
    pub(crate) fn silent_peers(&self, silent_ms: u64, out: &mut KVec<u32>) {
        self.peers_where(
            |s| !s.up && s.last_rx_ago_ms.map_or(true, |ago| ago >= silent_ms),
            out,
        );
    }

    /// Adds to `out` the node ids of the peers whose status `pick`
    /// selects, as many as fit its capacity.
    fn peers_where(&self, pick: impl Fn(&PeerStatus) -> bool, out: &mut KVec<u32>) {
        let run = self.running.lock();
        for t in run.peers.iter() {
            if out.len() < out.capacity() && pick(&t.data().status()) {
                // Capacity checked: no allocation.
                let _ = out.push(t.data().conf.node_id, GFP_ATOMIC);
            }
        }
    }

    /// Whether the channel to peer `node_id` is up.
    pub(crate) fn is_up(&self, node_id: u32) -> bool {
        self.status(node_id).is_some_and(|s| s.up)
    }

    /// The IPv4 address of peer `node_id`, if it is configured with one.
    pub(crate) fn peer_addr(&self, node_id: u32) -> Option<[u8; 4]> {
        let run = self.running.lock();
        run.peers
            .iter()
            .find(|t| t.data().conf.node_id == node_id)
            .and_then(|t| t.data().conf.addr.v4())
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

/// The error a caller of [`Ctrl::send`] sees for a channel that closed.
fn errno(c: Closed) -> Error {
    match c {
        Closed::Io(e) => e,
        _ => EPIPE,
    }
}
