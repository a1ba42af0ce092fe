// SPDX-License-Identifier: GPL-2.0

//! Front-end groups (seeds 004 and 000): which member of a service's
//! front-ends owns a connection, which one keeps its backup copy, and the
//! membership view both are computed over. Plain data and pure functions,
//! no allocation, so that the module and the host tests run the same code.
//!
//! Ownership is highest-random-weight (rendezvous) hashing over (member id,
//! client address:port, VIP:port), as seed 004 scores (ILB id, connection)
//! and ranks the scores: the highest score owns the connection, the second
//! keeps its backup. Every member with the same view computes the same
//! pair with no message. When a member leaves, only the connections it
//! owned or backed up change hands, and its owned ones go to their backup,
//! which already holds the copy; when one joins, only the connections it
//! now ranks first or second for move. [`transition`] says what one member
//! does with one entry when the view changes (seed 000: the entry moves
//! between the member's active and common tables, locally).
//!
//! A view's epoch orders views: a member that sees the live set change
//! starts epoch + 1, and a member that hears a peer announce the same set
//! under a later epoch takes that epoch ([`View::merge`]), so members that
//! see the same set converge on one (epoch, set) however they got there.

use super::{
    packet::{Family, V4},
    sched::{draw, fnv1a, FNV_OFFSET},
    service::Endpoint,
};

/// Most members of a group.
pub const MAX_MEMBERS: usize = 64;

/// What ownership is computed over: the client and the VIP:port it called
/// (the same on every front-end, whatever the upstream hashed), of either
/// family.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlowId<A = V4> {
    /// The client.
    pub client: Endpoint<A>,
    /// The service's VIP and port.
    pub vip: Endpoint<A>,
}

impl<A: Family> FlowId<A> {
    /// The connection's hash, the same on every member and every run: FNV-1a
    /// over client address, client port, VIP, VIP port (ports big-endian),
    /// 12 bytes for IPv4 and 36 for IPv6.
    pub fn hash(&self) -> u64 {
        [self.client, self.vip].iter().fold(FNV_OFFSET, |h, e| {
            fnv1a(fnv1a(h, e.addr.as_ref()), &e.port.to_be_bytes())
        })
    }
}

/// The owner of a connection and the member that keeps its backup (none
/// in a group of one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owners {
    /// Handles the connection: its flow is in this member's active table.
    pub owner: u32,
    /// Keeps the copy in its common table, and owns the connection if the
    /// owner leaves.
    pub backup: Option<u32>,
}

/// Member `member`'s score for the connection hashed to `k`.
fn score(k: u64, member: u32) -> u64 {
    draw(k, u64::from(member))
}

/// The owner and backup of the connection hashed to `k` (see
/// [`FlowId::hash`]) among `members`, in any order (a repeated id counts
/// once); `None` without members. Ties, which take a 64-bit collision,
/// go to the smaller id.
pub fn owners(members: &[u32], k: u64) -> Option<Owners> {
    let mut first: Option<(u64, u32)> = None;
    let mut second: Option<(u64, u32)> = None;
    let beats = |a: (u64, u32), b: Option<(u64, u32)>| match b {
        None => true,
        Some(b) => a.0 > b.0 || (a.0 == b.0 && a.1 < b.1),
    };
    for &m in members {
        if first.is_some_and(|f| f.1 == m) || second.is_some_and(|s| s.1 == m) {
            continue;
        }
        let s = (score(k, m), m);
        if beats(s, first) {
            second = first;
            first = Some(s);
        } else if beats(s, second) {
            second = Some(s);
        }
    }
    first.map(|(_, owner)| Owners {
        owner,
        backup: second.map(|(_, b)| b),
    })
}

/// The backup of a connection hashed to `k` whose owner is `owner`: the
/// member ranked first among the others of `members`; `None` if there is
/// no other. A member that forwards a connection the upstream sent it
/// (not necessarily the one HRW ranks first) keeps its copy there, and
/// every member can tell where a copy is: the backup is the first or the
/// second of the whole ranking.
pub fn backup_of(members: &[u32], owner: u32, k: u64) -> Option<u32> {
    let o = owners(members, k)?;
    if o.owner == owner {
        o.backup
    } else {
        Some(o.owner)
    }
}

/// The `n` members of `members` other than `owner` that keep the copies
/// of a connection hashed to `k` whose owner is `owner`, best ranked
/// first, into `out`; how many (at most `n`, `out.len()` and the others
/// there are; a repeated id counts once). The first is [`backup_of`]'s:
/// the member that takes the connection over if its owner leaves.
pub fn backups(members: &[u32], owner: u32, k: u64, n: usize, out: &mut [u32]) -> usize {
    let mut ranked = [(0u64, 0u32); MAX_MEMBERS];
    let mut len = 0;
    for &m in members {
        if m == owner || len == MAX_MEMBERS || ranked[..len].iter().any(|r| r.1 == m) {
            continue;
        }
        ranked[len] = (score(k, m), m);
        len += 1;
    }
    // Highest score first, ties to the smaller id (as in `owners`).
    ranked[..len].sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let n = n.min(len).min(out.len());
    for (o, r) in out.iter_mut().zip(&ranked[..n]) {
        *o = r.1;
    }
    n
}

/// The longest a member goes without a frame to another member of its
/// front-end group: a heartbeat goes when nothing else did (other channels:
/// after a second). A member passes a connection's packets to another only
/// while it hears from it ([`pass_to`]), long before that member's channel
/// times out (`heartbeat-timeout-ms`, seconds) and the views drop it.
pub const MEMBER_HEARTBEAT_MS: u64 = 50;

/// A member not heard from for longer (five heartbeats) gets no packets
/// passed: it has probably failed, and the next of the ranking holds its
/// connections' copies.
pub const SILENT_MS: u64 = 5 * MEMBER_HEARTBEAT_MS;

/// How long the member ranked first for a connection it has nothing of
/// holds that connection's packets before its stack answers them (a
/// reset). Members replicate a handoff before its request is
/// acknowledged, so a client's retransmission that the upstream moves
/// here (a rehashed path, an ECMP change) can come while the owner's copy
/// is still on its way: longer than a busy owner takes to read a request
/// and send its copy, short enough that a connection no member holds is
/// still reset within seconds.
pub const COPY_WAIT_MS: u64 = 5_000;

/// Whether the member ranked first for a connection it has nothing of
/// holds a packet of it that comes at `now_ms` ([`COPY_WAIT_MS`]), the
/// first packet it holds of it having come at `first_held_ms` (`None`:
/// this is the first).
pub fn awaits_copy(first_held_ms: Option<u64>, now_ms: u64) -> bool {
    match first_held_ms {
        None => true,
        Some(t) => now_ms.saturating_sub(t) <= COPY_WAIT_MS,
    }
}

/// Entries of a namespace's holding area that packets awaiting a copy
/// ([`awaits_copy`]) may take, at most: a quarter of it. Anyone can send
/// packets of connections no member holds (bare ACKs to the VIP from
/// random ports); they wait like a moved client's would, and without a
/// share of their own they would crowd out the packets of handoffs under
/// way, which the area is for. Beyond it such packets are dropped (TCP
/// sends a real one again).
pub const AWAITING_MAX: usize = 256;

/// Age after which a packet held awaiting a copy is freed. Longer than
/// the wait ([`COPY_WAIT_MS`]): the connection's first held packet must
/// still be there when the client's next retransmission comes after the
/// wait, to send that one to the stack (a reset) instead of starting
/// another wait. Shorter than the age of a handoff's held packets, so
/// that packets nobody will claim leave the area soon.
pub const AWAITING_AGE_MS: u64 = 2 * COPY_WAIT_MS;

/// Whether one more packet awaiting a copy may be held when `awaiting`
/// are ([`AWAITING_MAX`]).
pub fn awaiting_admits(awaiting: usize) -> bool {
    awaiting < AWAITING_MAX
}

/// Whether a packet held awaiting a copy since `at_ms` is freed at
/// `now_ms` ([`AWAITING_AGE_MS`]).
pub fn awaiting_expired(at_ms: u64, now_ms: u64) -> bool {
    now_ms.saturating_sub(at_ms) > AWAITING_AGE_MS
}

/// A member not heard from for longer (two heartbeats) may have failed:
/// the packets passed to it from then on are kept
/// ([`relayed_fate`]) until it is heard from again, or passed again to
/// the next of the ranking once it is silent ([`SILENT_MS`]). Without
/// them, the packets passed to a failed member before its silence shows
/// are lost, and a client's ACKs lost so make its back-end wait for a
/// retransmission timeout, doubled at each one lost the same way.
pub const SUSPECT_MS: u64 = 2 * MEMBER_HEARTBEAT_MS;
const _: () = assert!(SUSPECT_MS < SILENT_MS);

/// Entries of a namespace's holding area that such kept packets may take,
/// at most (as [`AWAITING_MAX`]).
pub const RELAYED_MAX: usize = 256;

/// What becomes of a packet kept at `at_ms` when it was passed to a
/// suspect member ([`SUSPECT_MS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relayed {
    /// Kept: the member is neither heard from since nor silent yet.
    Keep,
    /// Freed: the member was heard from after the packet went, so it was
    /// alive to take it.
    Free,
    /// Passed again, to whichever member the ranking now gives (the next):
    /// the member went silent, or left the view.
    Again,
}

/// What becomes at `now_ms` of a packet passed at `at_ms` to a member
/// last heard from at `heard_ms` (`None`: no longer in the view).
pub fn relayed_fate(heard_ms: Option<u64>, at_ms: u64, now_ms: u64) -> Relayed {
    match heard_ms {
        None => Relayed::Again,
        Some(h) if h > at_ms => Relayed::Free,
        // So a packet is kept at most SILENT_MS after it went.
        Some(h) if now_ms.saturating_sub(h) > SILENT_MS => Relayed::Again,
        Some(_) => Relayed::Keep,
    }
}

/// Whether a member last heard from at `heard_ms` is suspect at `now_ms`
/// ([`SUSPECT_MS`]).
pub fn suspect(heard_ms: u64, now_ms: u64) -> bool {
    now_ms.saturating_sub(heard_ms) > SUSPECT_MS
}

/// Where a member without state for a connection sends its packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// To this member.
    To(u32),
    /// Nowhere: dropped (TCP sends it again) until the view decides. The
    /// member ranked first is silent, and the next is silent too or is
    /// this node, which has nothing to forward the packet with.
    Hold,
}

/// Where a member `me` without state for a connection hashed to `k` passes
/// its packets (seed 004's handing off to the owner): the first of
/// `members`' ranking, unless that is `me`. Whoever owns the connection,
/// its first copy is on the first member of the ranking other than the
/// owner ([`backup_of`]), so the first of the whole ranking holds the
/// connection, as owner or as backup, with any `copies`; and a takeover
/// gives the connection to that same member. A first that is `silent`
/// (not heard from for [`SILENT_MS`]) is skipped for the second, which
/// holds the copy when the first owned the connection, and takes it over:
/// a failed member's connections resume once its silence is noticed, not
/// once its channel times out. `None` when `me` ranks first (it should
/// hold the connection, and nobody is better placed) or there are no
/// members.
pub fn pass_to(
    members: &[u32],
    me: u32,
    k: u64,
    mut silent: impl FnMut(u32) -> bool,
) -> Option<Pass> {
    let o = owners(members, k)?;
    if o.owner == me {
        return None;
    }
    if !silent(o.owner) {
        return Some(Pass::To(o.owner));
    }
    Some(match o.backup {
        Some(b) if b != me && !silent(b) => Pass::To(b),
        _ => Pass::Hold,
    })
}

/// Why a view refused a member set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewError {
    /// More than [`MAX_MEMBERS`] distinct members.
    TooMany,
    /// Member id 0 (it means "this node" elsewhere in baton).
    ZeroId,
}

/// A membership view: the live members, sorted and distinct, and the
/// epoch that names this set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    epoch: u64,
    len: usize,
    members: [u32; MAX_MEMBERS],
}

impl View {
    /// The first view of member `me`: itself alone, epoch 1.
    pub fn new(me: u32) -> Result<Self, ViewError> {
        if me == 0 {
            return Err(ViewError::ZeroId);
        }
        let mut members = [0; MAX_MEMBERS];
        members[0] = me;
        Ok(Self {
            epoch: 1,
            len: 1,
            members,
        })
    }

    /// The view (`epoch`, `members`) as a peer announced it: `None` unless
    /// the epoch is at least 1 and the members are 1 to [`MAX_MEMBERS`]
    /// ids, none 0, strictly increasing (the one encoding of a set).
    pub fn announced(epoch: u64, members: impl IntoIterator<Item = u32>) -> Option<Self> {
        let mut view = Self {
            epoch,
            len: 0,
            members: [0; MAX_MEMBERS],
        };
        let mut last = 0;
        for id in members {
            if id <= last || view.len == MAX_MEMBERS {
                return None;
            }
            view.members[view.len] = id;
            view.len += 1;
            last = id;
        }
        (epoch >= 1 && view.len >= 1).then_some(view)
    }

    /// How many members are live.
    pub const fn size(&self) -> usize {
        self.len
    }

    /// The live members, in increasing order.
    pub fn members(&self) -> &[u32] {
        &self.members[..self.len]
    }

    /// The epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Whether `id` is a live member.
    pub fn contains(&self, id: u32) -> bool {
        self.members().binary_search(&id).is_ok()
    }

    /// A hash of the member set alone (not the epoch): what members
    /// announce, with the epoch, to check that they agree.
    pub fn digest(&self) -> u64 {
        self.members()
            .iter()
            .fold(FNV_OFFSET, |h, m| fnv1a(h, &m.to_be_bytes()))
    }

    /// Makes `live` (any order, repeats ignored) the member set. A set
    /// that differs from the current one starts the next epoch; `Ok(true)`
    /// then. A refused set changes nothing.
    pub fn set_members(&mut self, live: &[u32]) -> Result<bool, ViewError> {
        let mut next = [0u32; MAX_MEMBERS];
        let mut len = 0;
        for &id in live {
            if id == 0 {
                return Err(ViewError::ZeroId);
            }
            match next[..len].binary_search(&id) {
                Ok(_) => {}
                Err(i) => {
                    if len == MAX_MEMBERS {
                        return Err(ViewError::TooMany);
                    }
                    next.copy_within(i..len, i + 1);
                    next[i] = id;
                    len += 1;
                }
            }
        }
        if next[..len] == *self.members() {
            return Ok(false);
        }
        self.members = next;
        self.len = len;
        self.epoch = self.epoch.saturating_add(1);
        Ok(true)
    }

    /// A peer announced its view as (`epoch`, `digest`): with the same
    /// member set under a later epoch, this view takes that epoch and
    /// returns `true`.
    pub fn merge(&mut self, epoch: u64, digest: u64) -> bool {
        if epoch > self.epoch && digest == self.digest() {
            self.epoch = epoch;
            return true;
        }
        false
    }

    /// Whether a peer that announced (`epoch`, `digest`) has this view.
    pub fn agrees(&self, epoch: u64, digest: u64) -> bool {
        epoch == self.epoch && digest == self.digest()
    }

    /// The owner and backup of `flow` in this view.
    pub fn owners<A: Family>(&self, flow: &FlowId<A>) -> Option<Owners> {
        owners(self.members(), flow.hash())
    }
}

/// Where one member keeps a connection's entry in a view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// It owns the connection: the active table, which the packet path
    /// reads.
    Active,
    /// It keeps the backup: the common table.
    Common,
    /// Neither.
    None,
}

/// Where member `me` keeps `flow`'s entry in `view`.
pub fn place<A: Family>(view: &View, me: u32, flow: &FlowId<A>) -> Place {
    match view.owners(flow) {
        Some(o) if o.owner == me => Place::Active,
        Some(o) if o.backup == Some(me) => Place::Common,
        _ => Place::None,
    }
}

/// What member `me` does with one connection's entry when its view goes
/// from `old` to `new` (seed 000: a move between its own tables, no
/// transfer, except a new backup that has no copy yet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Stays where it is.
    Stay,
    /// Common to active: this member takes over the connection from its
    /// copy (the owner left, or this member now ranks first).
    Promote,
    /// Active to common: another member now owns it, this one keeps the
    /// backup.
    Demote,
    /// This member neither owns nor backs it up any more: the entry goes
    /// (after the new owner confirmed it holds it).
    Release,
    /// This member is the new backup and has no copy: the owner must send
    /// one.
    Fetch,
    /// This member becomes the owner without holding a copy: a joining
    /// member (the table transfer gives it the entry before it takes
    /// traffic), or the owner and the backup both left at once; the entry
    /// must come from whoever still has it.
    Acquire,
}

/// See [`Transition`].
pub fn transition<A: Family>(old: &View, new: &View, me: u32, flow: &FlowId<A>) -> Transition {
    match (place(old, me, flow), place(new, me, flow)) {
        (a, b) if a == b => Transition::Stay,
        (Place::Common, Place::Active) => Transition::Promote,
        (Place::Active, Place::Common) => Transition::Demote,
        (Place::Active | Place::Common, Place::None) => Transition::Release,
        (Place::None, Place::Common) => Transition::Fetch,
        (Place::None, Place::Active) => Transition::Acquire,
        _ => Transition::Stay,
    }
}
