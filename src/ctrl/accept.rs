// SPDX-License-Identifier: GPL-2.0

//! The accept side of the control channel: one listener per namespace
//! turns strangers away and queues the other connections for a few
//! handshake threads, which hand each authenticated channel to its peer's
//! thread.

use super::{
    channel::{Channel, Closed},
    peer::Peer,
    HELLO_MS, PENDING_MAX, PENDING_PER_ADDR, TICK_MS,
};
use crate::{
    proto::service::{Endpoint, Ip},
    sys::{
        crypto::Hmac,
        kthread::{self, Stop},
        netns::NetPtr,
        socket::{self, Socket},
        vec,
    },
};
use kernel::{
    prelude::*,
    sync::{Arc, CondVar, Mutex},
    time::msecs_to_jiffies,
};

/// Shared by the listener thread and the configuration side.
#[pin_data]
pub(super) struct Shared {
    pub(super) net: NetPtr,
    /// This node's boot id, sent in HELLO.
    pub(super) boot_id: u64,
    pub(super) me: u32,
    pub(super) port: u16,
    pub(super) key: Option<Arc<Hmac>>,
    #[pin]
    pub(super) peers: Mutex<KVec<Arc<Peer>>>,
    /// Accepted connections for the handshake threads.
    #[pin]
    pub(super) pending: Mutex<Pending>,
    /// Signalled when a connection is queued.
    #[pin]
    pub(super) queued: CondVar,
}

/// Connections between accept and the end of their handshake.
pub(super) struct Pending {
    /// Waiting for a handshake thread.
    pub(super) queue: KVec<(Socket, Endpoint<Ip>)>,
    /// The address of each connection queued or in a handshake.
    pub(super) busy: KVec<Ip>,
}

impl Pending {
    /// Queues `sock`, unless the queue is full or `from` already has
    /// [`PENDING_PER_ADDR`] connections in it or in handshakes.
    pub(super) fn push(
        &mut self,
        sock: Socket,
        from: Endpoint<Ip>,
    ) -> core::result::Result<(), Closed> {
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
    pub(super) fn done(&mut self, addr: Ip) {
        if let Some(i) = self.busy.iter().position(|a| *a == addr) {
            vec::swap_remove(&mut self.busy, i);
        }
    }
}

/// Queues an accepted connection for a handshake thread. A stranger is
/// turned away at once.
pub(super) fn queue(
    shared: &Shared,
    sock: Socket,
    from: Endpoint<Ip>,
) -> core::result::Result<(), Closed> {
    if !shared.peers.lock().iter().any(|p| p.conf.addr == from.addr) {
        return Err(Closed::Protocol("not a peer address"));
    }
    shared.pending.lock().push(sock, from)?;
    shared.queued.notify_one();
    Ok(())
}

/// Logs why a connection from `from` was refused (rate-limited).
pub(super) fn log_refused(shared: &Shared, from: Endpoint<Ip>, why: &Closed) {
    if let Closed::Protocol(what) = why {
        if kthread::net_ratelimit() {
            pr_warn!(
                "node {}: connection from {} refused: {}\n",
                shared.me,
                from,
                what
            );
        }
    }
}

/// A handshake thread: runs the handshakes of queued connections.
pub(super) fn handshake_main(shared: &Shared, stop: &Stop) {
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
pub(super) fn admit(
    shared: &Shared,
    sock: Socket,
    from: Endpoint<Ip>,
) -> core::result::Result<(), Closed> {
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
    let mine = ch.hello(shared.me, shared.key.is_some(), shared.boot_id)?;
    ch.authenticate(shared.key.as_ref(), &theirs, &mine)?;
    ch.peer_boot = theirs.boot_id;
    ch.peer_caps = theirs.capabilities;
    // A new, authenticated channel replaces the old one (the peer
    // restarted).
    peer.wake();
    *peer.handover.lock() = Some(ch);
    Ok(())
}

/// A listening socket on the namespace's control port, for peers of
/// either family: one dual-stack socket, or IPv4 alone where the kernel
/// has no IPv6.
fn listener(shared: &Shared) -> Result<Socket> {
    let net = shared.net.get();
    let any6 = Ip::V6([0; 16]);
    let (s, any) = match Socket::tcp_for(net, any6, TICK_MS, HELLO_MS) {
        Ok(s) => {
            s.set_v6only(false);
            (s, any6)
        }
        Err(e) if socket::no_family(e) => (Socket::tcp(net, TICK_MS, HELLO_MS)?, Ip::V4([0; 4])),
        Err(e) => return Err(e),
    };
    s.listen(
        Endpoint {
            addr: any,
            port: shared.port,
        },
        16,
    )?;
    Ok(s)
}

/// The listener thread of a namespace. The port may still be taken for a
/// moment (the listener this one replaces is closing): it tries again
/// every [`TICK_MS`] until it gets the port or is stopped.
pub(super) fn listen_main(shared: &Shared, stop: &Stop) {
    let mut failed = None;
    let listener = loop {
        match listener(shared) {
            Ok(s) => break s,
            Err(e) => {
                if failed != Some(e) {
                    pr_err!(
                        "node {}: cannot listen on port {}: {:?}, trying again\n",
                        shared.me,
                        shared.port,
                        e
                    );
                    failed = Some(e);
                }
                if stop.requested() {
                    return;
                }
                kthread::sleep_ms(TICK_MS);
            }
        }
    };
    pr_info!(
        "node {}: control channel listening on port {}\n",
        shared.me,
        shared.port
    );
    while !stop.requested() {
        // The accepted channel's blocking calls time out as the dialer's
        // do: its thread wakes every TICK_MS to send heartbeats on time
        // (HELLO_MS would let it sleep past one while nothing arrives).
        match listener.accept(TICK_MS, HELLO_MS) {
            Ok(sock) => {
                let from = sock.peer_addr().unwrap_or(Endpoint {
                    addr: Ip::V4([0; 4]),
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
