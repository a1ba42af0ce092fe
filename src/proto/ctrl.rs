// SPDX-License-Identifier: GPL-2.0

//! The control-channel protocol between peers: framing and messages.
//!
//! Every frame is a fixed 16-byte header followed by `len` payload bytes;
//! all integers are big-endian:
//!
//! ```text
//!  0       4       5       6               8               12              16
//!  +-------+-------+-------+-------+-------+-------+-------+-------+-------+
//!  | magic "BATN"  |version| type  |     flags     |  payload len  |  seq  |
//!  +---------------+-------+-------+---------------+---------------+-------+
//! ```
//!
//! * `version` is [`VERSION`]; a frame of another version closes the channel.
//! * `flags` must be 0.
//! * `len` is at most [`MAX_PAYLOAD`] and must match the type's layout
//!   exactly.
//! * `seq` counts the frames of one direction of one channel from 0 (the
//!   HELLO); a gap or repeat closes the channel ([`SeqCheck`]).
//!
//! Messages (payload layouts):
//!
//! ```text
//!  HELLO      (1)  node_id u32 | capabilities u32                  8 bytes
//!  HEARTBEAT  (2)  sent_ms u64 (sender's monotonic clock)          8 bytes
//! ```
//!
//! Types 3-6 (HANDOFF_REQ, HANDOFF_ACK, HANDOFF_NACK, CONN_END) are
//! reserved for the handoff and refused until it exists.
//!
//! Decoding never panics and borrows nothing beyond the input; every error
//! is a reason to close the channel, with [`DecodeError::describe`] as the
//! log line.

/// Frame magic.
pub const MAGIC: [u8; 4] = *b"BATN";
/// Protocol version.
pub const VERSION: u8 = 1;
/// Length of the frame header.
pub const HEADER_LEN: usize = 16;
/// Largest payload accepted.
pub const MAX_PAYLOAD: usize = 16 * 1024;

/// Frame types.
pub mod msg_type {
    /// [`super::Hello`].
    pub const HELLO: u8 = 1;
    /// [`super::Heartbeat`].
    pub const HEARTBEAT: u8 = 2;
    /// Reserved: handoff request.
    pub const HANDOFF_REQ: u8 = 3;
    /// Reserved: handoff accepted.
    pub const HANDOFF_ACK: u8 = 4;
    /// Reserved: handoff refused.
    pub const HANDOFF_NACK: u8 = 5;
    /// Reserved: connection ended.
    pub const CONN_END: u8 = 6;
}

/// First frame on a channel, in both directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The sender's node id (never 0).
    pub node_id: u32,
    /// Capability bits of the sender (none defined yet).
    pub capabilities: u32,
}

/// Liveness, sent every heartbeat interval by both sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// The sender's monotonic clock in milliseconds.
    pub sent_ms: u64,
}

/// A decoded message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message {
    /// HELLO.
    Hello(Hello),
    /// HEARTBEAT.
    Heartbeat(Heartbeat),
}

impl Message {
    /// The frame type of this message.
    pub const fn msg_type(&self) -> u8 {
        match self {
            Message::Hello(_) => msg_type::HELLO,
            Message::Heartbeat(_) => msg_type::HEARTBEAT,
        }
    }

    const fn payload_len(&self) -> usize {
        match self {
            Message::Hello(_) | Message::Heartbeat(_) => 8,
        }
    }
}

/// A validated frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    msg_type: u8,
    len: u32,
    seq: u32,
}

impl Header {
    /// The frame type.
    pub const fn msg_type(&self) -> u8 {
        self.msg_type
    }

    /// Number of payload bytes that follow the header.
    pub const fn payload_len(&self) -> usize {
        self.len as usize
    }

    /// The frame's sequence number.
    pub const fn seq(&self) -> u32 {
        self.seq
    }
}

/// Why a frame was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than a header.
    Short,
    /// Not a baton frame.
    BadMagic,
    /// A protocol version this node does not speak.
    BadVersion(u8),
    /// A type this node does not know.
    UnknownType(u8),
    /// A reserved type this node does not handle yet.
    Unsupported(u8),
    /// Flags that are not 0.
    BadFlags,
    /// Payload longer than [`MAX_PAYLOAD`].
    TooLong,
    /// Payload length does not match the type's layout.
    BadLength,
    /// A field out of its range (e.g. node id 0).
    BadField,
    /// Sequence number not the expected one.
    OutOfOrder,
}

impl DecodeError {
    /// A short description for log lines.
    pub const fn describe(self) -> &'static str {
        match self {
            DecodeError::Short => "truncated frame",
            DecodeError::BadMagic => "bad frame magic",
            DecodeError::BadVersion(_) => "unknown protocol version",
            DecodeError::UnknownType(_) => "unknown message type",
            DecodeError::Unsupported(_) => "message type not supported yet",
            DecodeError::BadFlags => "nonzero frame flags",
            DecodeError::TooLong => "frame too long",
            DecodeError::BadLength => "payload length does not match the message type",
            DecodeError::BadField => "field out of range",
            DecodeError::OutOfOrder => {
                "sequence number out of order (lost, replayed or reordered frame)"
            }
        }
    }
}

/// Why a message could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The buffer is too small.
    NoSpace,
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    let bytes = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    let bytes = b.get(at..at.checked_add(8)?)?;
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// Validates the header at the start of `buf`.
pub fn decode_header(buf: &[u8]) -> Result<Header, DecodeError> {
    let h = buf.get(..HEADER_LEN).ok_or(DecodeError::Short)?;
    if h.get(..4) != Some(&MAGIC[..]) {
        return Err(DecodeError::BadMagic);
    }
    let version = h.get(4).copied().ok_or(DecodeError::Short)?;
    if version != VERSION {
        return Err(DecodeError::BadVersion(version));
    }
    let msg_type = h.get(5).copied().ok_or(DecodeError::Short)?;
    match msg_type {
        msg_type::HELLO | msg_type::HEARTBEAT => {}
        msg_type::HANDOFF_REQ..=msg_type::CONN_END => {
            return Err(DecodeError::Unsupported(msg_type))
        }
        t => return Err(DecodeError::UnknownType(t)),
    }
    if h.get(6..8) != Some(&[0, 0][..]) {
        return Err(DecodeError::BadFlags);
    }
    let len = be_u32(h, 8).ok_or(DecodeError::Short)?;
    if len as usize > MAX_PAYLOAD {
        return Err(DecodeError::TooLong);
    }
    let seq = be_u32(h, 12).ok_or(DecodeError::Short)?;
    Ok(Header { msg_type, len, seq })
}

/// Decodes the payload of a frame whose header is `header`.
pub fn decode(header: &Header, payload: &[u8]) -> Result<Message, DecodeError> {
    if payload.len() != header.payload_len() {
        return Err(DecodeError::BadLength);
    }
    match header.msg_type {
        msg_type::HELLO => {
            if payload.len() != 8 {
                return Err(DecodeError::BadLength);
            }
            let node_id = be_u32(payload, 0).ok_or(DecodeError::BadLength)?;
            let capabilities = be_u32(payload, 4).ok_or(DecodeError::BadLength)?;
            if node_id == 0 {
                return Err(DecodeError::BadField);
            }
            Ok(Message::Hello(Hello {
                node_id,
                capabilities,
            }))
        }
        msg_type::HEARTBEAT => {
            if payload.len() != 8 {
                return Err(DecodeError::BadLength);
            }
            let sent_ms = be_u64(payload, 0).ok_or(DecodeError::BadLength)?;
            Ok(Message::Heartbeat(Heartbeat { sent_ms }))
        }
        t => Err(DecodeError::UnknownType(t)),
    }
}

/// Writes `msg` as a frame with sequence number `seq` into `buf`; returns
/// the frame's length.
pub fn encode(msg: &Message, seq: u32, buf: &mut [u8]) -> Result<usize, EncodeError> {
    let len = msg.payload_len();
    let frame = buf
        .get_mut(..HEADER_LEN + len)
        .ok_or(EncodeError::NoSpace)?;
    let (hdr, payload) = frame.split_at_mut(HEADER_LEN);
    hdr[..4].copy_from_slice(&MAGIC);
    hdr[4] = VERSION;
    hdr[5] = msg.msg_type();
    hdr[6..8].copy_from_slice(&[0, 0]);
    hdr[8..12].copy_from_slice(&(len as u32).to_be_bytes());
    hdr[12..16].copy_from_slice(&seq.to_be_bytes());
    match msg {
        Message::Hello(h) => {
            payload[..4].copy_from_slice(&h.node_id.to_be_bytes());
            payload[4..8].copy_from_slice(&h.capabilities.to_be_bytes());
        }
        Message::Heartbeat(h) => payload[..8].copy_from_slice(&h.sent_ms.to_be_bytes()),
    }
    Ok(HEADER_LEN + len)
}

/// Checks that the frames of one direction arrive numbered 0, 1, 2, ...
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqCheck {
    next: u32,
}

impl SeqCheck {
    /// Expects 0 first.
    pub const fn new() -> Self {
        Self { next: 0 }
    }

    /// Accepts `seq` if it is the next one.
    pub fn check(&mut self, seq: u32) -> Result<(), DecodeError> {
        if seq != self.next {
            return Err(DecodeError::OutOfOrder);
        }
        self.next = self.next.wrapping_add(1);
        Ok(())
    }
}
