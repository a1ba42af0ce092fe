// SPDX-License-Identifier: GPL-2.0

//! One control channel on a socket: framing, sequence numbers, the HELLO
//! and AUTH exchange, and the HMAC tag of every frame once the session key
//! is derived.

use super::HELLO_MS;
use crate::{
    proto::ctrl::{self as codec, Message},
    sys::{
        crypto::{self, Hmac},
        kthread,
        socket::Socket,
        vec,
    },
};
use kernel::{prelude::*, sync::Arc};

/// Largest frame on the wire.
pub(super) const FRAME_MAX: usize = codec::HEADER_LEN + codec::MAX_PAYLOAD + codec::MAC_LEN;

/// One channel: framing and sequence numbers on a socket, from the HELLO
/// exchange to its end.
pub(super) struct Channel {
    pub(super) sock: Arc<Socket>,
    pub(super) rx: KVec<u8>,
    pub(super) filled: usize,
    pub(super) rx_seq: codec::SeqCheck,
    /// The session's tag transform once derived, on a channel with a key.
    pub(super) auth: Option<Arc<Hmac>>,
    /// Direction byte of the frames received.
    pub(super) rx_dir: u8,
    /// Moved to [`Peer::tx`] once the channel is established.
    pub(super) tx: Option<Tx>,
    /// The peer's boot id from its HELLO (0: none), once authenticated.
    pub(super) peer_boot: u64,
    /// The capabilities the peer's HELLO announced ([`codec::cap`]).
    pub(super) peer_caps: u32,
}

/// The sending half of a channel: frame buffer and sequence numbers.
pub(super) struct Tx {
    pub(super) sock: Arc<Socket>,
    pub(super) buf: KVec<u8>,
    pub(super) seq: u32,
    /// The session's tag transform, on an authenticated channel.
    pub(super) auth: Option<Arc<Hmac>>,
    /// Direction byte of the frames sent.
    pub(super) dir: u8,
    /// Frames numbered and tagged but not sent yet ([`Tx::queue`]).
    pub(super) later: KVec<u8>,
    /// When the oldest of `later` was queued (ms).
    pub(super) later_ms: u64,
    /// Socket writes so far, each of one frame or more.
    pub(super) writes: u64,
}

/// Most bytes of frames [`Tx::queue`] keeps before it sends them.
const LATER_MAX: usize = 8192;

impl Tx {
    /// Sends `msg`, after the frames queued before it, in one socket call.
    pub(super) fn send(&mut self, msg: &Message<'_>) -> core::result::Result<(), Closed> {
        let len = self.frame(msg)?;
        if self.later.is_empty() {
            return self.write_buf(len);
        }
        self.append(len)?;
        self.flush()
    }

    /// Writes the frame of `len` bytes in `buf`.
    fn write_buf(&mut self, len: usize) -> core::result::Result<(), Closed> {
        self.sock.send_all(&self.buf[..len]).map_err(Closed::Io)?;
        self.wrote();
        Ok(())
    }

    /// Counts a socket write that went through.
    fn wrote(&mut self) {
        self.writes += 1;
    }

    /// Numbers and tags `msg` now and sends it with the next frame sent,
    /// or by [`Tx::flush_older`]: one socket call for several frames that
    /// may wait a moment. Sent at once if it cannot be kept.
    pub(super) fn queue(&mut self, msg: &Message<'_>) -> core::result::Result<(), Closed> {
        let len = self.frame(msg)?;
        if self.later.len() + len > LATER_MAX {
            self.flush()?;
        }
        if self.later.is_empty() {
            self.later_ms = kthread::now_ms();
        }
        self.append(len)
    }

    /// Adds the frame of `len` bytes in `buf` to the queued ones; without
    /// memory for it, sends them and it at once.
    fn append(&mut self, len: usize) -> core::result::Result<(), Closed> {
        if self
            .later
            .extend_from_slice(&self.buf[..len], GFP_KERNEL)
            .is_err()
        {
            self.flush()?;
            return self.write_buf(len);
        }
        Ok(())
    }

    /// Sends the queued frames.
    pub(super) fn flush(&mut self) -> core::result::Result<(), Closed> {
        if self.later.is_empty() {
            return Ok(());
        }
        let r = self.sock.send_all(&self.later).map_err(Closed::Io);
        vec::clear_copy(&mut self.later);
        if r.is_ok() {
            self.wrote();
        }
        r
    }

    /// Sends the queued frames if the oldest waited `ms` or more.
    pub(super) fn flush_older(&mut self, ms: u64) -> core::result::Result<(), Closed> {
        if !self.later.is_empty() && kthread::now_ms().saturating_sub(self.later_ms) >= ms {
            return self.flush();
        }
        Ok(())
    }

    /// Encodes `msg` under the next sequence number, tagged, into `buf`;
    /// its length.
    fn frame(&mut self, msg: &Message<'_>) -> core::result::Result<usize, Closed> {
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
        if len > self.buf.len() {
            return Err(Closed::Protocol("frame too long"));
        }
        self.seq = self.seq.wrapping_add(1);
        Ok(len)
    }
}

/// Why a channel ended.
pub(super) enum Closed {
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
    pub(super) fn new(sock: Socket, initiator: bool) -> Result<Self> {
        let (tx_dir, rx_dir) = if initiator {
            (codec::dir::FROM_INITIATOR, codec::dir::FROM_ACCEPTOR)
        } else {
            (codec::dir::FROM_ACCEPTOR, codec::dir::FROM_INITIATOR)
        };
        let sock = Arc::new(sock, GFP_KERNEL)?;
        let rx = vec::zeroed(FRAME_MAX, GFP_KERNEL)?;
        let buf = vec::zeroed(FRAME_MAX, GFP_KERNEL)?;
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
                later: KVec::new(),
                later_ms: 0,
                writes: 0,
            }),
            peer_boot: 0,
            peer_caps: 0,
        })
    }

    /// Waits up to one socket timeout for a complete frame and hands it to
    /// `f`. `Ok(false)` if none arrived in time.
    pub(super) fn recv(
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

    /// Whether a complete frame is buffered: [`Channel::recv`] returns it
    /// without a socket call.
    pub(super) fn frame_ready(&self) -> bool {
        self.filled >= codec::HEADER_LEN
            && codec::decode_header(&self.rx[..codec::HEADER_LEN])
                .map_or(true, |h| self.filled >= h.frame_len())
    }

    /// Verifies the tag of the complete frame at the start of the buffer,
    /// or that it has none on a channel without a key.
    pub(super) fn check_tag(&self, hdr: &codec::Header) -> core::result::Result<(), Closed> {
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
    pub(super) fn expect<T>(
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
    pub(super) fn expect_hello(&mut self) -> core::result::Result<codec::Hello, Closed> {
        self.expect(|m| match m {
            Message::Hello(h) => Ok(*h),
            _ => Err(Closed::Protocol("first frame is not HELLO")),
        })
    }

    /// Sends this node's HELLO, with a fresh nonce and the namespace's boot
    /// id `boot`; returns it.
    pub(super) fn hello(
        &mut self,
        me: u32,
        keyed: bool,
        boot: u64,
    ) -> core::result::Result<codec::Hello, Closed> {
        let auth = if keyed { codec::cap::AUTH } else { 0 };
        let mut hello = codec::Hello {
            node_id: me,
            capabilities: auth
                | codec::cap::BOOT
                | codec::cap::IPV6
                | codec::cap::MOVE
                | codec::cap::MOVE_DATA
                | codec::cap::GROUP6,
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
    pub(super) fn authenticate(
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

pub(super) fn log_closed(me: u32, peer: u32, why: &Closed) {
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
