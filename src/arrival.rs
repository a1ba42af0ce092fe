// SPDX-License-Identifier: GPL-2.0

//! The request reader of a front-end: a connection accepted on a service
//! while it delivers its first request, read as it arrives without holding
//! a thread, until it is complete enough to choose a back-end.
//!
//! In a front-end group the hooks withhold the socket's acknowledgements
//! of the request (see [`crate::conn`]), so that the back-end acknowledges
//! it after the group's copies of the handoff are confirmed. A request
//! whose first flight is not all of it would wait for those (a client
//! sends no more than its window unacknowledged, nor, with Nagle, a second
//! small write): its acknowledgements are released at once instead.

use crate::{
    proto::{
        http, mem,
        service::{Endpoint, Ip},
    },
    sys::{kthread, socket::Socket, vec},
};
use kernel::prelude::*;

/// Most request bytes the front-end reads before it decides.
const REQUEST_MAX: usize = 16 * 1024;
/// The buffer a request starts with: most request heads fit, and a buffer
/// is zeroed before use. It doubles as needed, up to [`REQUEST_MAX`].
const REQUEST_FIRST: usize = 2 * 1024;

/// A connection accepted on a service while it delivers its first
/// request, which is read as it arrives, without holding a thread.
pub(crate) struct Arrival {
    sock: Socket,
    client: Endpoint<Ip>,
    /// The request's bytes, `buf[..n]`.
    buf: KVec<u8>,
    n: usize,
    /// `kthread::now_ms()` after which it is handed off with what it has.
    deadline: u64,
    /// See [`Arrival::complete`].
    complete: bool,
    /// The hooks withheld the socket's acknowledgements at some read, and
    /// they are not released yet.
    withheld: bool,
    /// The socket's mark is cleared: the hooks withhold nothing of it.
    unmarked: bool,
    /// Released and not yet told ([`Arrival::released`]).
    released: bool,
}

impl Arrival {
    /// Bytes of memory it holds beyond its socket: its request buffer (as
    /// the kmalloc cache that holds it) and itself. Changes only when
    /// [`Arrival::read`] grows the buffer.
    pub(crate) fn bytes(&self) -> usize {
        mem::kmalloc_size(self.buf.len()) + core::mem::size_of::<Self>()
    }

    /// Starts reading from `sock`, for at most `timeout_ms`; `None` if the
    /// client is already gone or there is no memory for its request.
    pub(crate) fn new(sock: Socket, timeout_ms: u32) -> Option<Self> {
        let client = sock.peer_addr().ok()?;
        let buf = vec::zeroed(REQUEST_FIRST, GFP_KERNEL).ok()?;
        Some(Self {
            sock,
            client,
            buf,
            n: 0,
            deadline: kthread::now_ms() + u64::from(timeout_ms),
            complete: false,
            withheld: false,
            unmarked: false,
            released: false,
        })
    }

    /// Whether the last [`Arrival::read`] released the acknowledgements
    /// the hooks withheld (once per connection).
    pub(crate) fn released(&mut self) -> bool {
        core::mem::take(&mut self.released)
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
    /// as HTTP at all) or [`REQUEST_MAX`] bytes came. A connection that is
    /// ready otherwise ran out of time or closed half-way.
    pub(crate) fn complete(&self) -> bool {
        self.complete
    }

    /// Reads what has arrived (with `wait`, up to the socket's receive
    /// timeout for the first bytes). `Ok(true)` once the request is ready
    /// to hand off: its head is complete, [`REQUEST_MAX`] bytes came, the
    /// client closed its side after sending something, or the time is up.
    /// `EPIPE` if the client closed without sending anything. Without
    /// memory to grow its buffer it reads no more: the time runs out.
    /// `withholding`: whether the hooks withhold acknowledgements now.
    pub(crate) fn read(&mut self, mut wait: bool, withholding: bool) -> Result<bool> {
        // Withheld since the accept, or since the node joined a group.
        self.withheld |= withholding && !self.unmarked;
        loop {
            if self.n == self.buf.len() {
                if self.buf.len() >= REQUEST_MAX {
                    break;
                }
                let len = (2 * self.buf.len()).min(REQUEST_MAX);
                if vec::grow_zeroed(&mut self.buf, len, GFP_KERNEL).is_err() {
                    break;
                }
            }
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
        self.complete |= self.n == REQUEST_MAX;
        let ready = self.complete || kthread::now_ms() > self.deadline;
        if !ready && self.n > 0 && self.withheld {
            self.sock.unmark_ack();
            self.withheld = false;
            self.unmarked = true;
            self.released = true;
        }
        Ok(ready)
    }

    /// The socket, the client, and the buffer whose first `n` bytes are
    /// what was read.
    pub(crate) fn into_parts(self) -> (Socket, Endpoint<Ip>, KVec<u8>, usize) {
        (self.sock, self.client, self.buf, self.n)
    }
}
