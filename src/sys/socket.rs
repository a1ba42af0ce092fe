// SPDX-License-Identifier: GPL-2.0

//! Kernel TCP sockets (IPv4 and IPv6), blocking with timeouts.
//!
//! C header: [`include/linux/net.h`].
//!
//! Used by the control channel from its kernel threads, in the manner of the
//! IPVS sync daemon: every call may sleep; receive and send time out after
//! the socket's timeouts (`EAGAIN`), and [`Socket::shutdown`] from another
//! thread wakes a blocked call. Sockets close abortively (RST) on drop, so
//! none outlives its namespace (a kernel socket holds no reference on it).
//!
//! [`include/linux/net.h`]: srctree/include/linux/net.h

use super::{bindings, netfilter::SkBuff, netns::Net};
use crate::proto::service::{Endpoint, Ip};
use core::{
    ffi::{c_int, c_void},
    mem::size_of,
    ptr::{null_mut, NonNull},
};
use kernel::prelude::*;

/// A socket address of either family, as the kernel's socket calls take
/// and give them.
#[repr(C)]
union RawAddr {
    v4: bindings::sockaddr_in,
    v6: bindings::sockaddr_in6,
}

impl RawAddr {
    /// The socket address of `e` and its length.
    fn new(e: Endpoint<Ip>) -> (Self, c_int) {
        match e.addr {
            Ip::V4(a) => (
                Self {
                    v4: bindings::sockaddr_in {
                        sin_family: bindings::AF_INET as u16,
                        sin_port: e.port.to_be(),
                        sin_addr: bindings::in_addr {
                            s_addr: u32::from_ne_bytes(a),
                        },
                        ..Default::default()
                    },
                },
                size_of::<bindings::sockaddr_in>() as c_int,
            ),
            Ip::V6(a) => (
                Self {
                    v6: bindings::sockaddr_in6 {
                        sin6_family: bindings::AF_INET6 as u16,
                        sin6_port: e.port.to_be(),
                        sin6_addr: bindings::in6_addr {
                            in6_u: bindings::in6_addr__bindgen_ty_1 { u6_addr8: a },
                        },
                        ..Default::default()
                    },
                },
                size_of::<bindings::sockaddr_in6>() as c_int,
            ),
        }
    }

    /// Room for an address of either family.
    fn empty() -> Self {
        Self {
            v6: Default::default(),
        }
    }

    fn as_mut_ptr(&mut self) -> *mut bindings::sockaddr {
        (self as *mut Self).cast()
    }

    /// The endpoint it holds (an IPv4-mapped address as IPv4), if it holds
    /// one of either family.
    fn endpoint(&self) -> Option<Endpoint<Ip>> {
        // SAFETY: both members are plain data, valid for any bytes, and
        // begin with the family.
        let family = u32::from(unsafe { self.v4.sin_family });
        if family == bindings::AF_INET {
            // SAFETY: as above; an `AF_INET` address is a `sockaddr_in`.
            let v4 = unsafe { self.v4 };
            return Some(Endpoint {
                addr: Ip::V4(v4.sin_addr.s_addr.to_ne_bytes()),
                port: u16::from_be(v4.sin_port),
            });
        }
        if family == bindings::AF_INET6 {
            // SAFETY: as above; an `AF_INET6` address is a `sockaddr_in6`,
            // and every view of an `in6_addr` is its 16 bytes.
            let (addr, port) = unsafe { (self.v6.sin6_addr.in6_u.u6_addr8, self.v6.sin6_port) };
            return Some(Endpoint {
                addr: Ip::from_v6(addr),
                port: u16::from_be(port),
            });
        }
        None
    }
}

/// Whether `e` says the kernel has no such address family (IPv6 disabled
/// at boot).
pub(crate) fn no_family(e: Error) -> bool {
    e.to_errno() == -(bindings::EAFNOSUPPORT as c_int)
}

/// A kernel TCP socket.
///
/// # Invariants
///
/// `sock` is a socket created by `sock_create_kern` (or accepted from one),
/// owned by this value and released exactly once, in `Drop`.
pub(crate) struct Socket {
    sock: NonNull<bindings::socket>,
}

/// `TCP_ESTABLISHED` of `include/net/tcp_states.h`.
const TCP_ESTABLISHED: u32 = 1;
/// `TCP_CLOSE_WAIT`: the peer sent its FIN.
const TCP_CLOSE_WAIT: u32 = 8;

/// What [`Socket::tcp_state`] reports of a connected TCP socket.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TcpState {
    /// In-order payload bytes received.
    pub(crate) bytes_received: u64,
    /// Oldest unacknowledged sequence number.
    pub(crate) snd_una: u32,
    /// Next sequence number to send.
    pub(crate) snd_nxt: u32,
    /// Next sequence number expected from the peer.
    pub(crate) rcv_nxt: u32,
    /// The peer's window, scaled.
    pub(crate) snd_wnd: u32,
    /// The peer's latest TSval.
    pub(crate) ts_recent: u32,
    /// This socket's TSval now.
    pub(crate) tsval_now: u32,
    /// MSS of the connection (from the peer's SYN, clamped).
    pub(crate) mss_clamp: u16,
    /// Timestamps negotiated.
    pub(crate) timestamps: bool,
    /// SACK negotiated.
    pub(crate) sack: bool,
    /// Window scaling negotiated.
    pub(crate) wscale: bool,
    /// The peer's window scale shift.
    pub(crate) snd_wscale: u8,
    /// This socket's window scale shift.
    pub(crate) rcv_wscale: u8,
    /// In `TCP_ESTABLISHED`.
    pub(crate) established: bool,
    /// In `TCP_CLOSE_WAIT`: the peer sent its FIN (counted in `rcv_nxt`).
    pub(crate) close_wait: bool,
}

// SAFETY: a `struct socket` may be used from any thread; every operation
// below takes the socket lock inside the kernel. Callers serialise writers
// themselves when frames must not interleave.
unsafe impl Send for Socket {}
// SAFETY: as above; concurrent calls on one socket are what the kernel's
// socket layer is built for (one reader, one writer, `shutdown` from anyone).
unsafe impl Sync for Socket {}

fn check(ret: c_int) -> Result<c_int> {
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(ret)
    }
}

impl Socket {
    /// A new IPv4 TCP socket in namespace `net`, with receive and send
    /// timeouts (milliseconds; `u32::MAX`: none, the call blocks until it is
    /// done, interrupted, or for `accept` the listener is shut down).
    pub(crate) fn tcp(net: &Net, rcv_timeout_ms: u32, snd_timeout_ms: u32) -> Result<Self> {
        Self::tcp_family(net, bindings::AF_INET, rcv_timeout_ms, snd_timeout_ms)
    }

    /// A new TCP socket of `addr`'s family, as [`Socket::tcp`].
    pub(crate) fn tcp_for(
        net: &Net,
        addr: Ip,
        rcv_timeout_ms: u32,
        snd_timeout_ms: u32,
    ) -> Result<Self> {
        let family = match addr {
            Ip::V4(_) => bindings::AF_INET,
            Ip::V6(_) => bindings::AF_INET6,
        };
        Self::tcp_family(net, family, rcv_timeout_ms, snd_timeout_ms)
    }

    fn tcp_family(
        net: &Net,
        family: u32,
        rcv_timeout_ms: u32,
        snd_timeout_ms: u32,
    ) -> Result<Self> {
        let mut raw = null_mut();
        // SAFETY: `net` is alive; `raw` is a valid out pointer.
        check(unsafe {
            bindings::sock_create_kern(
                net.as_ptr(),
                family as c_int,
                bindings::sock_type_SOCK_STREAM as c_int,
                bindings::IPPROTO_TCP as c_int,
                &mut raw,
            )
        })?;
        // INVARIANT: created above, owned from here on.
        let this = Self {
            sock: NonNull::new(raw).ok_or(ENOMEM)?,
        };
        this.prepare(rcv_timeout_ms, snd_timeout_ms);
        Ok(this)
    }

    fn prepare(&self, rcv_timeout_ms: u32, snd_timeout_ms: u32) {
        // SAFETY: `sock` is valid (type invariant) and has a `sk`.
        unsafe { bindings::baton_sock_prepare(self.sock.as_ptr()) };
        self.set_timeouts(rcv_timeout_ms, snd_timeout_ms);
    }

    /// Sets the timeouts of blocking receives and sends.
    pub(crate) fn set_timeouts(&self, rcv_timeout_ms: u32, snd_timeout_ms: u32) {
        // SAFETY: `sock` is valid (type invariant) and has a `sk`.
        unsafe {
            bindings::baton_sock_set_timeouts(self.sock.as_ptr(), rcv_timeout_ms, snd_timeout_ms);
        }
    }

    /// Binds to `addr` (of the socket's family) and listens.
    pub(crate) fn listen(&self, addr: impl Into<Endpoint<Ip>>, backlog: i32) -> Result {
        let (mut raw, len) = RawAddr::new(addr.into());
        // SAFETY: `sock` is valid; `raw` is a valid socket address of the
        // length given.
        check(unsafe { bindings::kernel_bind(self.sock.as_ptr(), raw.as_mut_ptr(), len) })?;
        // SAFETY: `sock` is valid.
        check(unsafe { bindings::kernel_listen(self.sock.as_ptr(), backlog) })?;
        Ok(())
    }

    /// Waits for a connection (up to the receive timeout: `EAGAIN`); the
    /// new socket gets the given timeouts.
    pub(crate) fn accept(&self, rcv_timeout_ms: u32, snd_timeout_ms: u32) -> Result<Self> {
        self.accept_flags(0, rcv_timeout_ms, snd_timeout_ms)
    }

    /// Takes a connection that is already there, or fails with `EAGAIN`
    /// at once.
    pub(crate) fn accept_nowait(&self, rcv_timeout_ms: u32, snd_timeout_ms: u32) -> Result<Self> {
        self.accept_flags(
            bindings::O_NONBLOCK as c_int,
            rcv_timeout_ms,
            snd_timeout_ms,
        )
    }

    fn accept_flags(&self, flags: c_int, rcv_timeout_ms: u32, snd_timeout_ms: u32) -> Result<Self> {
        let mut raw = null_mut();
        // SAFETY: `sock` is a valid listening socket; `raw` a valid out pointer.
        check(unsafe { bindings::kernel_accept(self.sock.as_ptr(), &mut raw, flags) })?;
        // INVARIANT: `kernel_accept` gives us a new socket to own.
        let new = Self {
            sock: NonNull::new(raw).ok_or(ENOMEM)?,
        };
        new.prepare(rcv_timeout_ms, snd_timeout_ms);
        Ok(new)
    }

    /// Connects to `addr` (of the socket's family; up to the send
    /// timeout).
    pub(crate) fn connect(&self, addr: impl Into<Endpoint<Ip>>) -> Result {
        let (mut raw, len) = RawAddr::new(addr.into());
        // SAFETY: `sock` is valid; `raw` is a valid socket address of the
        // length given.
        check(unsafe { bindings::kernel_connect(self.sock.as_ptr(), raw.as_mut_ptr(), len, 0) })?;
        Ok(())
    }

    /// The address of the other end (an IPv4 peer of a dual-stack socket
    /// as IPv4).
    pub(crate) fn peer_addr(&self) -> Result<Endpoint<Ip>> {
        let mut raw = RawAddr::empty();
        // SAFETY: `sock` is valid; `raw` has room for an address of either
        // family.
        check(unsafe { bindings::kernel_getpeername(self.sock.as_ptr(), raw.as_mut_ptr()) })?;
        raw.endpoint().ok_or(EINVAL)
    }

    /// Whether an IPv6 socket takes IPv6 only (`IPV6_V6ONLY`), or IPv4
    /// too, as IPv4-mapped addresses.
    pub(crate) fn set_v6only(&self, on: bool) {
        // SAFETY: `sock` is valid and has a `sk`; process context (the
        // helper takes the socket lock).
        unsafe { bindings::baton_sock_set_v6only(self.sock.as_ptr(), on) };
    }

    /// Sends all of `data` (or fails: then the stream is unusable).
    pub(crate) fn send_all(&self, mut data: &[u8]) -> Result {
        while !data.is_empty() {
            let mut iov = bindings::kvec {
                iov_base: data.as_ptr().cast_mut().cast::<c_void>(),
                iov_len: data.len(),
            };
            let mut msg = bindings::msghdr {
                msg_flags: bindings::MSG_NOSIGNAL,
                ..Default::default()
            };
            // SAFETY: `sock` is valid; `iov` describes `data`, which the
            // kernel only reads.
            let sent = check(unsafe {
                bindings::kernel_sendmsg(self.sock.as_ptr(), &mut msg, &mut iov, 1, data.len())
            })?;
            if sent == 0 {
                return Err(EPIPE);
            }
            data = data.get(sent as usize..).unwrap_or_default();
        }
        Ok(())
    }

    /// Receives into `buf`; `Ok(0)` at end of stream, `EAGAIN` after the
    /// receive timeout.
    pub(crate) fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        let mut iov = bindings::kvec {
            iov_base: buf.as_mut_ptr().cast::<c_void>(),
            iov_len: buf.len(),
        };
        let mut msg = bindings::msghdr::default();
        // SAFETY: `sock` is valid; `iov` describes `buf`, writable.
        let n = check(unsafe {
            bindings::kernel_recvmsg(self.sock.as_ptr(), &mut msg, &mut iov, 1, buf.len(), 0)
        })?;
        Ok(n as usize)
    }

    /// Receives what is queued into `buf` without waiting: `EAGAIN` if
    /// nothing is.
    pub(crate) fn recv_nowait(&self, buf: &mut [u8]) -> Result<usize> {
        let mut iov = bindings::kvec {
            iov_base: buf.as_mut_ptr().cast::<c_void>(),
            iov_len: buf.len(),
        };
        let mut msg = bindings::msghdr::default();
        // SAFETY: `sock` is valid; `iov` describes `buf`, writable.
        let n = check(unsafe {
            bindings::kernel_recvmsg(
                self.sock.as_ptr(),
                &mut msg,
                &mut iov,
                1,
                buf.len(),
                bindings::MSG_DONTWAIT as c_int,
            )
        })?;
        Ok(n as usize)
    }

    /// Limits the receive buffer (`SO_RCVBUF`): on a listener, this also
    /// bounds the window its connections announce.
    pub(crate) fn set_rcvbuf(&self, bytes: i32) {
        // SAFETY: `sock` is valid and has a `sk`.
        unsafe { bindings::baton_sock_set_rcvbuf(self.sock.as_ptr(), bytes) };
    }

    /// Whether a read would not block (data, the peer's FIN or an error
    /// waits): a lockless hint, which the read itself confirms.
    pub(crate) fn readable(&self) -> bool {
        // SAFETY: `sock` is valid and has a `sk`; the helper only reads.
        unsafe { bindings::baton_sock_readable(self.sock.as_ptr()) }
    }

    /// Marks the packets this socket sends (`SO_MARK`); a listener's
    /// accepted sockets inherit the mark.
    pub(crate) fn set_mark(&self, mark: u32) {
        // SAFETY: `sock` is valid and has a `sk`.
        unsafe { bindings::baton_sock_set_mark(self.sock.as_ptr(), mark) };
    }

    /// Clears the socket's mark and acknowledges at once what it received
    /// (the acknowledgements a hook withheld by the mark are due).
    pub(crate) fn unmark_ack(&self) {
        // SAFETY: `sock` is valid and has a `sk`; process context (the
        // helper takes the socket lock).
        unsafe { bindings::baton_sock_unmark_ack(self.sock.as_ptr()) };
    }

    /// Allows binding to an address this host does not have (yet)
    /// (`IP_FREEBIND`).
    pub(crate) fn set_freebind(&self) {
        // SAFETY: `sock` is valid and has a `sk`.
        unsafe { bindings::baton_sock_set_freebind(self.sock.as_ptr()) };
    }

    /// The TCP state a handoff needs, read under the socket lock.
    pub(crate) fn tcp_state(&self) -> Result<TcpState> {
        let mut raw = bindings::baton_tcp_state::default();
        // SAFETY: `sock` is valid; `raw` is a valid out pointer.
        check(unsafe { bindings::baton_tcp_state(self.sock.as_ptr(), &mut raw) })?;
        Ok(TcpState {
            bytes_received: raw.bytes_received,
            snd_una: raw.snd_una,
            snd_nxt: raw.snd_nxt,
            rcv_nxt: raw.rcv_nxt,
            snd_wnd: raw.snd_wnd,
            ts_recent: raw.ts_recent,
            tsval_now: raw.tsval_now,
            mss_clamp: raw.mss_clamp,
            timestamps: raw.tstamp_ok != 0,
            sack: raw.sack_ok != 0,
            wscale: raw.wscale_ok != 0,
            snd_wscale: raw.snd_wscale,
            rcv_wscale: raw.rcv_wscale,
            established: u32::from(raw.state) == TCP_ESTABLISHED,
            close_wait: u32::from(raw.state) == TCP_CLOSE_WAIT,
        })
    }

    /// Shuts both directions down, waking any thread blocked on the socket.
    pub(crate) fn shutdown(&self) {
        // SAFETY: `sock` is valid. Errors (not connected) do not matter.
        unsafe {
            bindings::kernel_sock_shutdown(
                self.sock.as_ptr(),
                bindings::sock_shutdown_cmd_SHUT_RDWR,
            )
        };
    }
}

/// `e` as the C helpers take an endpoint of either family.
pub(super) fn raw_endpoint(e: Endpoint<Ip>) -> bindings::baton_endpoint {
    let mut addr = [0u8; 16];
    let family = match e.addr {
        Ip::V4(a) => {
            addr[..4].copy_from_slice(&a);
            bindings::AF_INET
        }
        Ip::V6(a) => {
            addr = a;
            bindings::AF_INET6
        }
    };
    bindings::baton_endpoint {
        addr,
        port: e.port.to_be(),
        family: family as u16,
    }
}

/// Aborts the TCP connection of `net` from `local` (this host) to `remote`,
/// whoever owns it (as `ss -K` does): the stack sends its RST, the owner's
/// calls fail with `ECONNABORTED`. `ENOENT` if there is none. Process
/// context.
pub(crate) fn abort_tcp(
    net: &Net,
    local: impl Into<Endpoint<Ip>>,
    remote: impl Into<Endpoint<Ip>>,
) -> Result {
    let (local, remote) = (raw_endpoint(local.into()), raw_endpoint(remote.into()));
    // SAFETY: `net` is alive; the endpoints are valid for reads during the
    // call. The helper takes and drops its own reference on the socket it
    // finds.
    check(unsafe { bindings::baton_tcp_abort(net.as_ptr(), &local, &remote) }).map(|_| ())
}

/// What a connection given up by [`release_tcp`] had agreed with its peer
/// in the handshake.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PeerSyn {
    /// The peer's MSS (clamped).
    pub(crate) mss: u16,
    /// The peer's window scale shift, if window scaling is on.
    pub(crate) wscale: Option<u8>,
    /// SACK is on.
    pub(crate) sack: bool,
    /// Timestamps are on.
    pub(crate) timestamps: bool,
}

/// Gives up the TCP connection of `net` from `local` (this host) to
/// `remote` if it is idle: its owner read the peer's bytes up to
/// `read_from` and no further, nothing came after `rcv_nxt`, it sent up
/// to `snd_nxt` (which the caller knows the peer acknowledged) and nothing
/// is queued. The bytes from `read_from` to `rcv_nxt` (received, not read)
/// are copied to `unread`, which holds exactly that many (`EINVAL` if not),
/// and go with the connection. Closed without a packet to the peer; the
/// owner reads the end of the stream. Returns the handshake's options;
/// `EBUSY` if not idle, `ENOENT` if there is no such connection. Process
/// context.
pub(crate) fn release_tcp(
    net: &Net,
    local: impl Into<Endpoint<Ip>>,
    remote: impl Into<Endpoint<Ip>>,
    (rcv_nxt, snd_nxt, read_from): (u32, u32, u32),
    unread: &mut [u8],
) -> Result<PeerSyn> {
    let room = rcv_nxt.wrapping_sub(read_from);
    if unread.len() != room as usize {
        return Err(EINVAL);
    }
    let (local, remote) = (raw_endpoint(local.into()), raw_endpoint(remote.into()));
    let mut out = bindings::baton_tcp_syn::default();
    // SAFETY: `net` is alive; the endpoints are valid for reads, `out` for
    // writes and `unread` for writes of `room` bytes during the call. The
    // helper takes and drops its own reference on the socket it finds.
    check(unsafe {
        bindings::baton_tcp_release(
            net.as_ptr(),
            &local,
            &remote,
            rcv_nxt,
            snd_nxt,
            read_from,
            unread.as_mut_ptr(),
            room,
            &mut out,
        )
    })?;
    Ok(PeerSyn {
        mss: out.mss_clamp,
        wscale: (out.wscale_ok != 0).then_some(out.snd_wscale),
        sack: out.sack_ok != 0,
        timestamps: out.tstamp_ok != 0,
    })
}

/// How far the server sending `skb` had read its peer's bytes (its TCP
/// socket's `copied_seq`), if `skb` carries new data of that socket:
/// `end_seq` (the sequence number after its last byte, as the server's
/// stack numbers them) beyond what the socket sent before. `None` for a
/// retransmission or a packet of no TCP socket. Any context (a hook).
pub(crate) fn read_position(skb: &SkBuff, end_seq: u32) -> Option<u32> {
    let mut copied = 0u32;
    // SAFETY: `skb` is valid (borrowed); the helper reads its socket's
    // fields once, under the reference `skb` holds on it, and writes
    // `copied`.
    let sent = unsafe { bindings::baton_skb_tcp_read_seq(skb.as_ptr(), end_seq, &mut copied) };
    (sent == 1).then_some(copied)
}

/// What a namespace holds of a TCP connection ([`tcp_lookup`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Held {
    /// Nothing.
    None,
    /// A request socket: the handshake is not complete (its last ACK not
    /// taken yet, or dropped because the listener's accept queue was full).
    Request,
    /// A full socket.
    Full,
    /// A time-wait socket.
    TimeWait,
}

/// What `net` holds of the TCP connection from `local` (this host) to
/// `remote`. Any context.
pub(crate) fn tcp_lookup(
    net: &Net,
    local: impl Into<Endpoint<Ip>>,
    remote: impl Into<Endpoint<Ip>>,
) -> Held {
    let (local, remote) = (raw_endpoint(local.into()), raw_endpoint(remote.into()));
    // SAFETY: `net` is alive; the endpoints are valid for reads during the
    // call.
    let found = unsafe { bindings::baton_tcp_lookup(net.as_ptr(), &local, &remote) };
    match u32::try_from(found) {
        Ok(bindings::BATON_TCP_REQUEST) => Held::Request,
        Ok(bindings::BATON_TCP_FULL) => Held::Full,
        Ok(bindings::BATON_TCP_TIME_WAIT) => Held::TimeWait,
        _ => Held::None,
    }
}

/// Whether `net` has a TCP socket (full, request or time-wait) from
/// `local` (this host) to `remote`.
pub(crate) fn tcp_exists(
    net: &Net,
    local: impl Into<Endpoint<Ip>>,
    remote: impl Into<Endpoint<Ip>>,
) -> bool {
    tcp_lookup(net, local, remote) != Held::None
}

/// Who takes a TCP segment arriving at this host ([`demux`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Demux {
    /// A socket of its connection (full, request or time-wait).
    Socket,
    /// No such socket, but a listener on the local end with the mark asked
    /// for.
    Marked,
    /// Neither.
    None,
}

/// Who in `net` takes a TCP segment from `remote` to `local` (this host)
/// that `skb` brought, as the stack's own lookup would find it (its input
/// interface counts): a socket of the connection, or a listener marked
/// `mark`. Any context (a hook).
pub(crate) fn demux(
    net: &Net,
    skb: &SkBuff,
    local: impl Into<Endpoint<Ip>>,
    remote: impl Into<Endpoint<Ip>>,
    mark: u32,
) -> Demux {
    let (local, remote) = (raw_endpoint(local.into()), raw_endpoint(remote.into()));
    // SAFETY: `net` is alive and `skb` valid (borrowed); the helper reads
    // only `skb`'s input interface and drops the reference its lookup
    // takes; the endpoints are valid for reads during the call.
    let ret =
        unsafe { bindings::baton_tcp_demux(net.as_ptr(), skb.as_ptr(), &local, &remote, mark) };
    match ret {
        1 => Demux::Socket,
        2 => Demux::Marked,
        _ => Demux::None,
    }
}

/// Ends the TIME_WAIT of the TCP connection from `local` (this host) to
/// `remote` in `net`, if there is one; whether there was. Process context.
pub(crate) fn end_time_wait(
    net: &Net,
    local: impl Into<Endpoint<Ip>>,
    remote: impl Into<Endpoint<Ip>>,
) -> bool {
    let (local, remote) = (raw_endpoint(local.into()), raw_endpoint(remote.into()));
    // SAFETY: `net` is alive; the endpoints are valid for reads during the
    // call. The helper drops the reference its lookup took.
    unsafe { bindings::baton_tcp_end_timewait(net.as_ptr(), &local, &remote) == 1 }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // SAFETY: we own `sock` (type invariant); released exactly once.
        unsafe { bindings::sock_release(self.sock.as_ptr()) };
    }
}
