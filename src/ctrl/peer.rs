// SPDX-License-Identifier: GPL-2.0

//! A peer's life cycle: its thread dials (or waits for the listener's
//! handover), runs the established channel (heartbeats, frames handed to
//! the namespace's [`Dispatch`]) and marks the peer down when it ends.

use super::{
    channel::{log_closed, Channel, Closed, Tx},
    Dispatch, PeerStatus, BACKOFF_MAX_MS, BACKOFF_MIN_MS, HEARTBEAT_MS, HELLO_MS, LATER_MS,
    TICK_MS,
};
use crate::{
    proto::{
        cluster,
        config::PeerConf,
        ctrl::{self as codec, Message},
        service::{Endpoint, Ip},
    },
    sys::{
        crypto::Hmac,
        kthread::{self, Stop},
        netns::NetPtr,
        socket::Socket,
    },
};
use core::{
    cell::Cell,
    sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
};
use kernel::{
    prelude::*,
    sync::{Arc, Mutex},
};

/// The state of one peer, shared by its thread, the listener and netlink.
#[pin_data]
pub(super) struct Peer {
    pub(super) net: NetPtr,
    pub(super) dispatch: Arc<dyn Dispatch>,
    /// This node's boot id, sent in HELLO.
    pub(super) boot_id: u64,
    pub(super) me: u32,
    pub(super) conf: PeerConf,
    /// The namespace's key when the peer was configured.
    pub(super) key: Option<Arc<Hmac>>,
    pub(super) up: AtomicBool,
    /// `kthread::now_ms()` of the last frame received, 0 if none.
    pub(super) last_rx_ms: AtomicU64,
    /// `kthread::now_ms()` of the last frame written to the channel.
    pub(super) last_tx_ms: AtomicU64,
    pub(super) msgs_in: AtomicU64,
    pub(super) msgs_out: AtomicU64,
    /// Socket writes that carried the frames counted in `msgs_out`.
    pub(super) writes_out: AtomicU64,
    pub(super) connects: AtomicU32,
    /// The peer's boot id on its last channel (0: none yet).
    pub(super) boot: AtomicU64,
    /// The capabilities the peer announced on its last channel: an IPv6
    /// connection is handed, a move asked, only of a peer that has them.
    pub(super) caps: AtomicU32,
    /// The live socket, so that `stop` can wake a blocked call; also how
    /// the listener hands an accepted socket to an accepting peer.
    #[pin]
    pub(super) sock: Mutex<Option<Arc<Socket>>>,
    #[pin]
    pub(super) handover: Mutex<Option<Channel>>,
    /// The sending half of the live channel: any thread may send a frame.
    #[pin]
    pub(super) tx: Mutex<Option<Tx>>,
}

impl Peer {
    pub(super) fn initiator(&self) -> bool {
        self.me < self.conf.node_id
    }

    pub(super) fn addr(&self) -> Endpoint<Ip> {
        Endpoint {
            addr: self.conf.addr,
            port: self.conf.port,
        }
    }

    pub(super) fn status(&self) -> PeerStatus {
        let last = self.last_rx_ms.load(Ordering::Relaxed);
        // Writes first: every frame they carried was counted in
        // `msgs_out` before, so no reading shows more writes than frames.
        let writes_out = self.writes_out.load(Ordering::Acquire);
        PeerStatus {
            up: self.up.load(Ordering::Relaxed),
            last_rx_ago_ms: (last != 0).then(|| kthread::now_ms().saturating_sub(last)),
            msgs_in: self.msgs_in.load(Ordering::Relaxed),
            msgs_out: self.msgs_out.load(Ordering::Relaxed),
            writes_out,
            connects: self.connects.load(Ordering::Relaxed),
        }
    }

    /// Sends `msg` on the live channel; `EPIPE` if there is none.
    pub(super) fn send(&self, msg: &Message<'_>) -> core::result::Result<(), Closed> {
        self.on_tx(|tx| tx.send(msg))
    }

    /// Queues `msg` on the live channel, to go with the next frame sent
    /// or within [`LATER_MS`]; `EPIPE` if there is none.
    pub(super) fn send_later(&self, msg: &Message<'_>) -> core::result::Result<(), Closed> {
        self.on_tx(|tx| tx.queue(msg))
    }

    /// Runs `f` on the live channel's sending half to pass one frame on.
    fn on_tx(
        &self,
        f: impl FnOnce(&mut Tx) -> core::result::Result<(), Closed>,
    ) -> core::result::Result<(), Closed> {
        self.with_tx(|tx| {
            let tx = tx.ok_or(Closed::Io(EPIPE))?;
            // Counted before it can be written (see `status`).
            self.msgs_out.fetch_add(1, Ordering::Relaxed);
            f(tx)
        })
    }

    /// Runs `f` on the live channel's sending half, if any, and notes the
    /// socket writes it made (when, how many).
    fn with_tx(
        &self,
        f: impl FnOnce(Option<&mut Tx>) -> core::result::Result<(), Closed>,
    ) -> core::result::Result<(), Closed> {
        let mut guard = self.tx.lock();
        match guard.as_mut() {
            Some(tx) => {
                let writes = tx.writes;
                let r = f(Some(&mut *tx));
                if tx.writes != writes {
                    self.last_tx_ms.store(kthread::now_ms(), Ordering::Relaxed);
                    self.writes_out
                        .fetch_add(tx.writes - writes, Ordering::Release);
                }
                r
            }
            None => f(None),
        }
    }

    /// Sends the queued frames.
    fn flush(&self) -> core::result::Result<(), Closed> {
        self.with_tx(|tx| tx.map_or(Ok(()), Tx::flush))
    }

    /// Sends the frames queued [`LATER_MS`] ago or earlier.
    fn flush_later(&self) -> core::result::Result<(), Closed> {
        self.with_tx(|tx| tx.map_or(Ok(()), |tx| tx.flush_older(LATER_MS)))
    }

    /// Wakes the peer's thread out of any socket call.
    pub(super) fn wake(&self) {
        if let Some(s) = &*self.sock.lock() {
            s.shutdown();
        }
    }
}

/// Handles one frame of an established channel; whether it queued an
/// answer, which goes with the answers to the frames read with it (see
/// [`session`]).
pub(super) fn on_frame(peer: &Peer, m: &Message<'_>) -> core::result::Result<bool, Closed> {
    match m {
        Message::Heartbeat(_) => Ok(false),
        Message::Hello(_) | Message::Auth => Err(Closed::Protocol(
            "handshake frame on an established channel",
        )),
        _ => match peer.dispatch.message(peer.conf.node_id, m) {
            Some(answer) => peer.send_later(&answer).map(|()| true),
            None => Ok(false),
        },
    }
}

/// How often `peer` gets a heartbeat: more often a member of the group.
fn beat_interval(peer: &Peer) -> u64 {
    if peer.dispatch.member(peer.conf.node_id) {
        cluster::MEMBER_HEARTBEAT_MS
    } else {
        HEARTBEAT_MS
    }
}

/// Runs an established channel until it ends. Every frame proves this node
/// alive: a heartbeat goes when no other frame went for
/// [`HEARTBEAT_MS`], or [`cluster::MEMBER_HEARTBEAT_MS`] to a member of
/// the front-end group, so that its silence shows within
/// [`cluster::SILENT_MS`] (see [`cluster::pass_to`]) at no cost while
/// frames flow; the thread's socket calls time out as often. The group's
/// announcement (VIEW) goes once a [`HEARTBEAT_MS`].
pub(super) fn session(peer: &Peer, ch: &mut Channel, stop: &Stop) -> Closed {
    let mut last_announced = 0u64;
    let mut every = HEARTBEAT_MS;
    let mut answered = false;
    loop {
        if stop.requested() {
            return Closed::Stop;
        }
        let beats = beat_interval(peer);
        if beats != every {
            every = beats;
            let wake = every.min(u64::from(TICK_MS)) as u32;
            ch.sock.set_timeouts(wake, HELLO_MS);
        }
        let now = kthread::now_ms();
        let quiet = now.saturating_sub(peer.last_tx_ms.load(Ordering::Relaxed)) >= every;
        let announce = now.saturating_sub(last_announced) >= HEARTBEAT_MS;
        if quiet || announce {
            let beat = match quiet {
                true => peer.send(&Message::Heartbeat(codec::Heartbeat { sent_ms: now })),
                false => Ok(()),
            }
            .and_then(|()| match announce {
                true => match peer.dispatch.announcement(peer.conf.node_id) {
                    Some(m) => peer.send(&m),
                    None => Ok(()),
                },
                false => Ok(()),
            });
            if let Err(c) = beat {
                // The peer closed or reset the channel: the frames it sent
                // before (e.g. the CONN_ENDs of a peer that goes away) are
                // still readable; handle them first.
                while let Ok(true) = ch.recv(&mut |m| on_frame(peer, m).map(drop)) {
                    peer.msgs_in.fetch_add(1, Ordering::Relaxed);
                }
                return c;
            }
            if announce {
                last_announced = now;
            }
        }
        if let Err(c) = peer.flush_later() {
            return c;
        }
        let got = ch.recv(&mut |m| {
            answered |= on_frame(peer, m)?;
            Ok(())
        });
        match got {
            Ok(true) => {
                peer.msgs_in.fetch_add(1, Ordering::Relaxed);
                peer.last_rx_ms.store(kthread::now_ms(), Ordering::Relaxed);
                peer.dispatch.heard(peer.conf.node_id);
                // The answers to frames that came together (a burst of
                // HANDOFF_COPYs) go in one socket call, once the last of
                // them is handled.
                if answered && !ch.frame_ready() {
                    answered = false;
                    if let Err(c) = peer.flush() {
                        return c;
                    }
                }
            }
            Ok(false) => {
                let last = peer.last_rx_ms.load(Ordering::Relaxed);
                // A setting (`heartbeat-timeout-ms`), read as it is now.
                let dead = peer.dispatch.heartbeat_timeout_ms();
                if kthread::now_ms().saturating_sub(last) > dead {
                    return Closed::Dead;
                }
            }
            Err(c) => return c,
        }
    }
}

/// Connects to the peer and exchanges HELLO.
pub(super) fn dial(peer: &Peer) -> core::result::Result<Channel, Closed> {
    let sock =
        Socket::tcp_for(peer.net.get(), peer.conf.addr, TICK_MS, HELLO_MS).map_err(Closed::Io)?;
    sock.connect(peer.addr()).map_err(Closed::Io)?;
    let mut ch = Channel::new(sock, true).map_err(Closed::Io)?;
    let mine = ch.hello(peer.me, peer.key.is_some(), peer.boot_id)?;
    let theirs = ch.expect_hello()?;
    if theirs.node_id != peer.conf.node_id {
        return Err(Closed::Protocol("HELLO from an unexpected node id"));
    }
    ch.authenticate(peer.key.as_ref(), &mine, &theirs)?;
    ch.peer_boot = theirs.boot_id;
    ch.peer_caps = theirs.capabilities;
    Ok(ch)
}

/// The thread of one peer: (re)connects or waits for the listener, runs
/// the channel, and marks the peer down when it ends.
pub(super) fn peer_main(peer: &Peer, stop: &Stop) {
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
        // Ending them may take long on a loaded node: the channel's sender
        // is installed first, so that the peer keeps hearing heartbeats
        // (nothing else goes out before `up`).
        *peer.sock.lock() = Some(ch.sock.clone());
        *peer.tx.lock() = ch.tx.take();
        peer.caps.store(ch.peer_caps, Ordering::Relaxed);
        let before = peer.boot.swap(ch.peer_boot, Ordering::Relaxed);
        if before != 0 && ch.peer_boot != 0 && before != ch.peer_boot {
            let last = Cell::new(kthread::now_ms());
            let every = beat_interval(peer) / 2;
            let keepalive = || {
                let now = kthread::now_ms();
                if now.saturating_sub(last.get()) >= every {
                    last.set(now);
                    let _ = peer.send(&Message::Heartbeat(codec::Heartbeat { sent_ms: now }));
                }
            };
            peer.dispatch.peer_restarted(peer.conf.node_id, &keepalive);
        }
        peer.last_rx_ms.store(kthread::now_ms(), Ordering::Relaxed);
        peer.connects.fetch_add(1, Ordering::Relaxed);
        peer.up.store(true, Ordering::Relaxed);
        peer.dispatch.peer_up(peer.conf.node_id);
        pr_info!(
            "node {}: channel to peer {} up\n",
            peer.me,
            peer.conf.node_id
        );
        let why = session(peer, &mut ch, stop);
        peer.up.store(false, Ordering::Relaxed);
        *peer.tx.lock() = None;
        *peer.sock.lock() = None;
        peer.dispatch.peer_down(peer.conf.node_id);
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
