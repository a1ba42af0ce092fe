// SPDX-License-Identifier: GPL-2.0

//! Sequence, timestamp and window translation of a handed-off connection.
//!
//! The client did its handshake with the front-end and knows the
//! front-end's initial sequence number (ISN), timestamp clock and window
//! scale. The back-end replayed that handshake into its own stack, which
//! chose its own. From then on:
//!
//! ```text
//!  client -> back-end (rewritten at the front-end, to_backend):
//!      ack  += seq_delta        SACK edges += seq_delta
//!      TSecr -= ts_delta
//!  back-end -> client (rewritten at the back-end, to_client):
//!      seq  -= seq_delta        TSval += ts_delta
//!      window: rescaled from the back-end's shift to the front-end's
//! ```
//!
//! with `seq_delta = backend_isn - frontend_isn` and `ts_delta =
//! frontend_tsval - backend_tsval` taken at the handoff, all modulo 2^32.
//! The client's own sequence numbers and timestamps are never changed,
//! and neither are the SACK blocks the back-end sends (they name client
//! data).

use super::packet::{Family, TcpPacket};

/// The translation of one handed-off connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Translation {
    /// `backend_isn - frontend_isn` (wrapping).
    pub seq_delta: u32,
    /// `frontend_tsval - backend_tsval` (wrapping); used only when the
    /// connection has timestamps.
    pub ts_delta: u32,
    /// Window scale shift the front-end announced to the client (0 without
    /// window scaling).
    pub frontend_wscale: u8,
    /// Window scale shift the back-end's stack uses for the same direction.
    pub backend_wscale: u8,
}

/// Largest window scale shift (RFC 7323).
pub const MAX_WSCALE: u8 = 14;

impl Translation {
    /// The translation for a handoff where the front-end's ISN was
    /// `frontend_isn` and its TSval at the handoff `frontend_tsval`, and the
    /// back-end answered with ISN `backend_isn` and TSval `backend_tsval`.
    /// Shifts above 14 are clamped as TCP does.
    pub fn new(
        frontend_isn: u32,
        backend_isn: u32,
        frontend_tsval: u32,
        backend_tsval: u32,
        frontend_wscale: u8,
        backend_wscale: u8,
    ) -> Self {
        Self {
            seq_delta: backend_isn.wrapping_sub(frontend_isn),
            ts_delta: frontend_tsval.wrapping_sub(backend_tsval),
            frontend_wscale: frontend_wscale.min(MAX_WSCALE),
            backend_wscale: backend_wscale.min(MAX_WSCALE),
        }
    }

    /// The front-end's half of a translation, known before the back-end
    /// answers: what [`Translation::new`] gives with the back-end's ISN,
    /// TSval and shift still 0. [`Translation::with_backend`] completes it.
    pub fn frontend_half(frontend_isn: u32, frontend_tsval: u32, frontend_wscale: u8) -> Self {
        Self::new(frontend_isn, 0, frontend_tsval, 0, frontend_wscale, 0)
    }

    /// A [`Translation::frontend_half`] completed with the back-end's answer:
    /// the same as [`Translation::new`] with all six values.
    pub fn with_backend(self, backend_isn: u32, backend_tsval: u32, backend_wscale: u8) -> Self {
        Self {
            seq_delta: self.seq_delta.wrapping_add(backend_isn),
            ts_delta: self.ts_delta.wrapping_sub(backend_tsval),
            frontend_wscale: self.frontend_wscale,
            backend_wscale: backend_wscale.min(MAX_WSCALE),
        }
    }

    /// The back-end's ISN and TSval that, with the front-end's
    /// `frontend_isn` and `frontend_tsval`, give this translation: what
    /// the back-end answered the handoff with, answered again to a member
    /// of the front-end's group that took the connection over.
    pub fn backend_answer(&self, frontend_isn: u32, frontend_tsval: u32) -> (u32, u32) {
        (
            frontend_isn.wrapping_add(self.seq_delta),
            frontend_tsval.wrapping_sub(self.ts_delta),
        )
    }

    /// A back-end sequence number as the client knows it.
    pub fn seq_to_client(&self, seq: u32) -> u32 {
        seq.wrapping_sub(self.seq_delta)
    }

    /// A back-end sequence number the client knows (quoted in an ICMP
    /// error about a back-end's segment) as the back-end knows it: the
    /// inverse of [`Translation::seq_to_client`].
    pub fn seq_to_backend(&self, seq: u32) -> u32 {
        seq.wrapping_add(self.seq_delta)
    }

    /// A client's acknowledgment (or SACK edge) as the back-end knows it.
    pub fn ack_to_backend(&self, ack: u32) -> u32 {
        ack.wrapping_add(self.seq_delta)
    }

    /// A back-end TSval in the front-end's clock.
    pub fn tsval_to_client(&self, tsval: u32) -> u32 {
        tsval.wrapping_add(self.ts_delta)
    }

    /// A client's TSecr in the back-end's clock.
    pub fn tsecr_to_backend(&self, tsecr: u32) -> u32 {
        tsecr.wrapping_sub(self.ts_delta)
    }

    /// The window field the client must see for the back-end's field
    /// `window`: the same number of bytes in the front-end's scale,
    /// rounded down (never announcing more than the back-end has), and
    /// at most 65535.
    pub fn window_to_client(&self, window: u16) -> u16 {
        // The fields are public: clamp again so that no shift can overflow.
        let bytes = u64::from(window) << self.backend_wscale.min(MAX_WSCALE);
        let field = bytes >> self.frontend_wscale.min(MAX_WSCALE);
        u16::try_from(field).unwrap_or(u16::MAX)
    }

    /// Rewrites a client -> back-end packet (everything but the addresses
    /// and ports): ack if the ACK flag is set, SACK edges, TSecr; either
    /// IP version.
    pub fn packet_to_backend<F: Family>(&self, pkt: &mut TcpPacket<'_, F>) {
        let h = pkt.header();
        let (ack, timestamps) = (
            h.has_flags(super::packet::flags::ACK).then_some(h.ack),
            h.options.timestamps,
        );
        if let Some(ack) = ack {
            pkt.set_ack(self.ack_to_backend(ack));
        }
        pkt.add_sack_delta(self.seq_delta);
        if let Some((_, tsecr)) = timestamps {
            pkt.set_tsecr(self.tsecr_to_backend(tsecr));
        }
    }

    /// Rewrites a back-end -> client packet (everything but the addresses
    /// and ports): seq, TSval and the window (not on a SYN, whose window is
    /// never scaled).
    pub fn packet_to_client<F: Family>(&self, pkt: &mut TcpPacket<'_, F>) {
        let h = pkt.header();
        let (seq, timestamps) = (h.seq, h.options.timestamps);
        let window = (!h.has_flags(super::packet::flags::SYN)).then_some(h.window);
        pkt.set_seq(self.seq_to_client(seq));
        if let Some((tsval, _)) = timestamps {
            pkt.set_tsval(self.tsval_to_client(tsval));
        }
        if let Some(window) = window {
            pkt.set_window(self.window_to_client(window));
        }
    }
}
