// SPDX-License-Identifier: GPL-2.0

//! Copies of forwarding flows between the members of a front-end group
//! (seeds 000 and 004). When a flow starts forwarding (its back-end's
//! HANDOFF_ACK), its front-end sends a copy (REPLICA) to the flow's
//! backups, the `copies` members HRW ranks first among the others (one by
//! default); when it ends, they hear it (REPLICA_END) and drop their
//! copies. A member keeps the copies
//! in its common table, which forwards the packets the upstream moves to
//! it ([`crate::common`]). When the view changes, a member takes the copies
//! whose owner left into its own table (they are its connections now,
//! and their back-ends hear it: TAKEOVER) and sends each of its
//! connections' copy to the connection's backup in the new view, where it
//! may be missing (a member that joined or came back).
//!
//! Before a member asks a back-end to take a connection, its backups get
//! the request (HANDOFF_COPY) and confirm it (COPY_ACK), so that no
//! handoff the back-end may have taken exists on one front-end only: a
//! backup that takes over such a pending copy asks the back-end itself
//! (HANDOFF_REQ with RESUME), which answers as it answered the owner, or
//! replays the connection if the owner's request never reached it.

use crate::{
    common::{Entry, Pending},
    conn::{ip, Fam, Stat},
    node::{Asked, Node, Reply},
    proto::{
        cluster::{backup_of, backups, FlowId, View, MAX_MEMBERS},
        ctrl::{
            opt_bits, reason, HandoffCopy, HandoffReq, IdReason, Message, Replica, ReplicaEnd,
            Takeover,
        },
        flow::{since, stamp, Flow, Key, Phase, Role},
        packet::{V4, V6},
        seq::Translation,
    },
    sys::{
        kthread::{self, Stop},
        vec,
    },
};
use kernel::prelude::*;

/// Flows one batch of a view change handles.
const BATCH: usize = 256;

fn flow_id<F: Fam>(f: &Flow<F>) -> FlowId<F> {
    FlowId {
        client: f.client,
        vip: f.vip,
    }
}

/// Sends the copy of this node's flow `f` to its backups, if it has one
/// and backups exist.
pub(crate) fn replicate<F: Fam>(node: &Node, f: &Flow<F>) {
    replicate_to(node, f, copies(node), Delivery::Now);
}

/// [`replicate`] for a flow whose handoff the back-end just answered: the
/// copy may go with the next frame to each backup (within a quarter
/// second), one socket call for several. Until it comes, the backups'
/// pending copies (HANDOFF_COPY, confirmed before the back-end heard of
/// the connection) stand for it: should this node fail meanwhile, the
/// backup that takes the connection over asks the back-end for its answer
/// again (RESUME).
pub(crate) fn replicate_answered<F: Fam>(node: &Node, f: &Flow<F>) {
    replicate_to(node, f, copies(node), Delivery::Later);
}

/// Whether a frame goes at once or may wait for the next one to its peer
/// ([`crate::ctrl::Ctrl::send_later`]).
#[derive(Clone, Copy)]
enum Delivery {
    Now,
    Later,
}

/// How many members keep a copy of each of this node's connections.
fn copies(node: &Node) -> usize {
    node.published().base.copies as usize
}

/// Sends the copy of `f` to its first `copies` backups.
fn replicate_to<F: Fam>(node: &Node, f: &Flow<F>, copies: usize, how: Delivery) {
    let Some(r) = f.replica() else { return };
    for _ in 0..to_backups(node, f, copies, &F::replica(r), how) {
        node.conns().stats().inc(Stat::Replicated);
    }
}

/// Sends `msg` about this node's flow `f` to the flow's first `copies`
/// backups; how many took it (a backup whose channel just went keeps
/// nothing of this node's).
fn to_backups<F: Fam>(
    node: &Node,
    f: &Flow<F>,
    copies: usize,
    msg: &Message<'_>,
    how: Delivery,
) -> usize {
    to_backups_of(node, &flow_id(f), copies, msg, how)
}

/// Whether peer `peer` takes the group messages of family `F` (every
/// peer takes IPv4's; IPv6's, one that announced [`Fam::GROUP_CAP`]).
fn takes_group<F: Fam>(node: &Node, peer: u32) -> bool {
    F::GROUP_CAP == 0 || node.ctrl().takes(peer, F::GROUP_CAP)
}

/// Sends `msg` about this node's connection `id` to its first `copies`
/// backups; how many took it. An IPv6 connection's backups are the
/// members that keep IPv6 copies: the others are skipped, not counted.
fn to_backups_of<F: Fam>(
    node: &Node,
    id: &FlowId<F>,
    copies: usize,
    msg: &Message<'_>,
    how: Delivery,
) -> usize {
    let mut to = [0u32; MAX_MEMBERS];
    let n = node.group().backups(id, copies, &mut to);
    to[..n]
        .iter()
        .filter(|&&b| takes_group::<F>(node, b))
        .filter(|&&b| match how {
            Delivery::Now => node.ctrl().send(b, msg).is_ok(),
            Delivery::Later => node.ctrl().send_later(b, msg).is_ok(),
        })
        .count()
}

/// Sends the copy of handoff `req` (to back-end node `peer`) to its
/// backups and waits until each confirmed it, at most half the handoff
/// timeout; whether they all did (or there is none). A backup that does
/// not answer as long has failed or is overloaded, and the view will soon
/// say which: the back-end is asked anyway, and the connection served.
pub(crate) fn copy_handoff<F: Fam>(
    node: &Node,
    peer: u32,
    req: &HandoffReq<'_, F>,
    stop: &Stop,
) -> bool {
    let id = FlowId {
        client: req.client,
        vip: req.vip,
    };
    let copy = F::handoff_copy(HandoffCopy {
        backend_node: peer,
        req: *req,
    });
    let sent = to_backups_of(node, &id, copies(node), &copy, Delivery::Now);
    let deadline = kthread::now_ms() + u64::from(node.published().base.handoff_timeout_ms / 2);
    let mut confirmed = 0;
    while confirmed < sent {
        let left = deadline.saturating_sub(kthread::now_ms());
        if left == 0 {
            break;
        }
        match node
            .replies()
            .wait(req.id, Asked::Handoff, left as u32, stop)
        {
            Reply::Copied(n) => confirmed += n as usize,
            _ => break,
        }
    }
    if confirmed < sent {
        // A confirmation after this look must not linger as an answer.
        node.replies().forget(req.id, Asked::Handoff);
    }
    confirmed >= sent
}

/// This node's handoff of flow `f` failed or was refused: the copies of
/// it its backups may keep go.
pub(crate) fn forget_handoff<F: Fam>(node: &Node, f: &Flow<F>) {
    if f.role != Role::Front || f.peer == 0 || node.group().view().map_or(true, |v| v.size() < 2) {
        return;
    }
    end_copies(node, f, reason::CLOSED);
}

/// Tells `f`'s backups that its copies are over (REPLICA_END, `why`).
fn end_copies<F: Fam>(node: &Node, f: &Flow<F>, why: u8) {
    let end = ReplicaEnd {
        id: f.id,
        client: f.client,
        vip: f.vip,
        reason: why,
    };
    // A copy that outlives its connection by a moment is harmless: the
    // end may wait for the next frame.
    to_backups(node, f, copies(node), &F::replica_end(end), Delivery::Later);
}

/// Member `from` is about to hand off one of its connections (`c`): this
/// node keeps the copy, frozen, and confirms it (COPY_ACK). No answer when
/// it cannot keep it (not a member, no room): the member goes on
/// unconfirmed once it stops waiting.
pub(crate) fn keep_handoff<F: Fam>(
    node: &Node,
    from: u32,
    c: &HandoffCopy<'_, F>,
) -> Option<Message<'static>> {
    if !node.group().is_member(from) {
        return None;
    }
    let req = &c.req;
    let mut flow = Flow::new(
        req.id,
        c.backend_node,
        Role::Front,
        req.client,
        req.vip,
        req.backend,
        kthread::now_ms(),
    );
    flow.xlate =
        Translation::frontend_half(req.frontend_isn, req.frontend_tsval, req.frontend_wscale);
    if node.conns().with(&flow.key(), |_| ()).is_some() {
        return None;
    }
    match node.conns().common::<F>().keep_pending(from, flow, req) {
        Ok(()) => Some(Message::CopyAck(req.id)),
        Err(e) => {
            if kthread::net_ratelimit() {
                pr_warn!("cannot keep member {}'s copy of a handoff: {:?}\n", from, e);
            }
            None
        }
    }
}

/// How long after its arrival a pending copy whose owner lives is
/// forgotten: its handoff has long ended (the owner's REPLICA or
/// REPLICA_END replaces or drops it; this is for those lost with a
/// channel that went down and came back).
fn pending_max_ms(node: &Node) -> u64 {
    u64::from(node.published().base.handoff_timeout_ms) + 5000
}

/// Drops the pending copies of live owners that outlived their handoff.
/// The collector's thread.
pub(crate) fn expire_pending(node: &Node) {
    expire_pending_in::<V4>(node);
    expire_pending_in::<V6>(node);
}

/// [`expire_pending`] for the copies of family `F`.
fn expire_pending_in<F: Fam>(node: &Node) {
    let common = node.conns().common::<F>();
    if common.pending() == 0 {
        return;
    }
    let (now, max) = (kthread::now_ms(), pending_max_ms(node));
    let view = node.group().view();
    common.release_where(|r| {
        r.pending.is_some()
            && since(now, r.flow.created_ms) > max
            && view.as_ref().map_or(true, |v| v.contains(r.owner))
    });
}

/// This node's flow `f` ended (`why`: a CONN_END or GC reason): its
/// backups drop their copies. Those are all the members that hold one: a
/// member that no longer backs a connection up released its copy when
/// its view changed, and the members that kept a departed owner's copy
/// beside the one that took the connection over are among the backups of
/// that one (the next of the same ranking), which replaced their copies.
pub(crate) fn forget<F: Fam>(node: &Node, f: &Flow<F>, why: u8) {
    if f.role != Role::Front || f.replica().is_none() {
        return;
    }
    let why = if why == reason::IDLE {
        reason::IDLE
    } else {
        reason::CLOSED
    };
    end_copies(node, f, why);
}

/// Member `from` sent the copy `r` of one of its flows.
pub(crate) fn keep<F: Fam>(node: &Node, from: u32, r: &Replica<F>) {
    if !node.group().is_member(from) {
        return;
    }
    // Kept even if this node forwards the connection itself (it took it
    // over, and the sender does not know yet): its own flow goes first on
    // the packet path, and should it end here (the back-end tells it when
    // another member takes the connection), the copy forwards.
    let flow = Flow::from_replica(r, kthread::now_ms());
    if let Err(e) = node.conns().common::<F>().keep(from, flow) {
        if kthread::net_ratelimit() {
            pr_warn!("cannot keep member {}'s copy: {:?}\n", from, e);
        }
    }
    // Packets held by the pending copy this one replaced go on from it.
    node.conns().held::<F>().release(&flow.key());
}

/// Member `from`'s flow `e.id` ended. So did the connection of a copy
/// whose owner left the view: `from` took it over, and the copy is the
/// old owner's (each connection has one key while it lives).
pub(crate) fn ended<F: Fam>(node: &Node, from: u32, e: &ReplicaEnd<F>) {
    let key = Key {
        client: e.client,
        local: e.vip,
    };
    let view = node.group().view();
    node.conns().common::<F>().forget(&key, |r| {
        r.owner == from && r.flow.id == e.id || view.is_some_and(|v| !v.contains(r.owner))
    });
}

/// The group has no view any more (its last member deleted, or this
/// node's id): every copy goes.
pub(crate) fn no_group(node: &Node) {
    node.relay_follow_view();
    node.conns().withhold(false);
    node.conns().common::<V4>().release_where(|_| true);
    node.conns().common::<V6>().release_where(|_| true);
}

/// Makes the copy `f` this node's flow, under an id of this node's (its
/// answers find it by id), and tells its back-end, whose flow answers to
/// this node from now on: its CONN_END comes here, and the old owner's
/// return (a new boot id) no longer ends the connection.
fn take_over<F: Fam>(node: &Node, owner: u32, mut f: Flow<F>) -> Option<Flow<F>> {
    let old_id = f.id;
    f.id = node.conns().next_id(&f.key());
    // The copy's times are those of its arrival, and the packets it
    // forwarded since did not touch it: idle from now, not from then (a
    // copy older than the idle timeout would go at the next sweep).
    f.last_ms = stamp(kthread::now_ms());
    f.created_ms = f.last_ms;
    f.frozen_ms = f.last_ms;
    // Its service's dispatch, as this node's configuration says (a copy
    // does not carry it); where the client is in its stream, the next
    // packet forwarded tells.
    let (vip, backend) = (ip(f.vip), ip(f.backend));
    f.per_request = node
        .published()
        .service(&vip)
        .is_some_and(|s| s.per_request());
    f.stay = true;
    if node.conns().insert(f).is_err() {
        return None;
    }
    // Read once the flow is in the table, as a handoff's (`front`): a
    // drain's walk after this finds it.
    if node
        .published()
        .service(&vip)
        .is_some_and(|s| s.draining(&backend))
    {
        node.conns().with(&f.key(), |x| x.draining = true);
        f.draining = true;
    }
    node.conns().stats().inc(Stat::Promoted);
    if f.phase == Phase::Frozen {
        return resume(node, owner, old_id, &f).then_some(f);
    }
    let t = Takeover {
        old_id,
        new_id: f.id,
        client: f.client,
        backend: f.backend,
    };
    // A back-end that does not hear it keeps answering the old owner: the
    // flow then ends here when it idles out. So does one that would not
    // take it (an older version, which closes its channel on TAKEOVER6).
    if takes_group::<F>(node, f.peer) {
        let _ = node.ctrl().send(f.peer, &F::takeover(t));
    }
    Some(f)
}

/// Takes over the connections whose copies `pick` selects, `batch` (of
/// capacity [`BATCH`]) at a time, showing each one taken to `taken`; how
/// many. Each copy goes from the common table only once its flow is in
/// the active one: a packet that came in between would find neither, and
/// this node's stack would reset its client.
fn take_over_where<F: Fam>(
    node: &Node,
    batch: &mut KVec<(u32, Flow<F>)>,
    pick: impl Fn(&Entry<F>) -> bool,
    taken: impl Fn(&Flow<F>),
) -> u32 {
    let mut n = 0u32;
    for _ in 0..=node.conns().common::<F>().len() / BATCH {
        vec::clear(batch);
        node.conns().common::<F>().snapshot_where(&pick, batch);
        for &(owner, f) in batch.iter() {
            if let Some(mine) = take_over(node, owner, f) {
                taken(&mine);
                n += 1;
            }
            node.conns()
                .common::<F>()
                .forget(&f.key(), |r| r.owner == owner && r.flow.id == f.id);
        }
        if batch.len() < BATCH {
            break;
        }
    }
    n
}

/// Takes over the connections whose copies this node forwarded packets
/// from while their owner lives: the upstream sends them here now (its
/// hash moved, or an address did), so this node forwards them, and they
/// move from its common to its active table (seed 000), as those of an
/// owner that left do. Their back-ends answer to this node from then on
/// (TAKEOVER) and tell the old owner that they ended there; their copies
/// go to this node's backups. Else the owner, which sees none of their
/// packets any more, would end them when they idle out there. The
/// collector's thread, a few times a second.
pub(crate) fn take_over_used(node: &Node) {
    take_over_used_in::<V4>(node);
    take_over_used_in::<V6>(node);
}

/// [`take_over_used`] for the copies of family `F`.
fn take_over_used_in<F: Fam>(node: &Node) {
    if !node.conns().common::<F>().used() {
        return;
    }
    // Ready to walk before the mark is cleared: an early return keeps it.
    let Some(view) = node.group().view() else {
        return;
    };
    let Ok(mut batch) = KVec::with_capacity(BATCH, GFP_KERNEL) else {
        return;
    };
    if !node.conns().common::<F>().take_used() {
        return;
    }
    let taken = take_over_where::<F>(
        node,
        &mut batch,
        |r| r.used() && r.pending.is_none() && view.contains(r.owner),
        |mine| replicate(node, mine),
    );
    if taken > 0 {
        pr_info!(
            "node {}: front-end group epoch {}: took over {} connections whose packets reach this node\n",
            node.group().me(),
            view.epoch(),
            taken
        );
    }
}

/// Completes the handoff of the pending copy of `owner`'s flow `old_id`,
/// now this node's frozen flow `f`: asks the back-end (RESUME) without
/// waiting; [`crate::front::reply`] makes the flow forward when it
/// answers, or ends it. The copy goes once its request is read out.
fn resume<F: Fam>(node: &Node, owner: u32, old_id: u64, f: &Flow<F>) -> bool {
    let mut pending: Option<(HandoffReq<'static, F>, KVec<u8>)> = None;
    node.conns().common::<F>().take(
        &f.key(),
        |r| r.owner == owner && r.flow.id == old_id,
        |r| {
            if let Some(Pending { req, data }) = r.pending.as_deref() {
                if let Ok(d) = vec::copied(data, GFP_KERNEL) {
                    pending = Some((*req, d));
                }
            }
        },
    );
    let sent = pending.is_some_and(|(req, data)| {
        let req = HandoffReq {
            id: f.id,
            options: req.options | opt_bits::RESUME,
            data: &data,
            ..req
        };
        node.replies().detach(f.id).is_ok()
            && node.ctrl().send(f.peer, &F::handoff_req(req)).is_ok()
    });
    if sent {
        node.conns().stats().inc(Stat::Resumed);
    } else {
        node.replies().forget(f.id, Asked::Handoff);
        node.conns().remove(&f.key());
        node.conns().held::<F>().discard(&f.key());
    }
    sent
}

/// Front-end `from` took over connection `t.old_id` of this node's
/// back-end flow of (`t.client`, `t.backend`); the front-end that had it
/// hears that it ended there (CONN_END). Without that flow the
/// connection is over (its copy outlived it: the old owner's REPLICA_END
/// was lost with it), and the answer is the CONN_END that ends the
/// sender's flow.
pub(crate) fn taken_over<F: Fam>(
    node: &Node,
    from: u32,
    t: &Takeover<F>,
) -> Option<Message<'static>> {
    let key = Key {
        client: t.client,
        local: t.backend,
    };
    let moved = node.conns().with(&key, |f| {
        let ours = f.role == Role::Back && f.id == t.old_id;
        let old = f.peer;
        if ours {
            f.peer = from;
            f.id = t.new_id;
        }
        ours.then_some(old)
    });
    match moved {
        Some(Some(old)) => {
            // The old owner lives (the upstream moved the connection, or a
            // partition): its flow ends there, the new owner forwards it.
            if old != from && old != 0 {
                let end = Message::ConnEnd(IdReason {
                    id: t.old_id,
                    reason: reason::CLOSED,
                });
                let _ = node.ctrl().send(old, &end);
            }
            None
        }
        _ => Some(Message::ConnEnd(IdReason {
            id: t.new_id,
            reason: reason::CLOSED,
        })),
    }
}

/// The group's view is now `view`: the copies whose owner left become
/// this node's flows, and every flow of this node sends its copy to its
/// backup in the new view.
pub(crate) fn view_changed(node: &Node, view: &View) {
    node.relay_follow_view();
    let Ok(mut members) = KVec::with_capacity(MAX_MEMBERS, GFP_KERNEL) else {
        return;
    };
    node.group().member_ids(&mut members);
    let (p4, r4) = view_changed_in::<V4>(node, view, &members);
    let (p6, r6) = view_changed_in::<V6>(node, view, &members);
    let (promoted, released) = (p4 + p6, r4 + r6);
    if released > 0 {
        pr_info!(
            "node {}: front-end group epoch {}: released {} copies to other backups\n",
            node.group().me(),
            view.epoch(),
            released
        );
    }
    if promoted > 0 {
        pr_info!(
            "node {}: front-end group epoch {}: took over {} connections\n",
            node.group().me(),
            view.epoch(),
            promoted
        );
    }
    // With backups, a request is acknowledged by its back-end, after
    // they have its copy.
    node.conns().withhold(view.size() >= 2 && copies(node) > 0);
    if view.size() >= 2 {
        resend(node);
    }
}

/// [`view_changed`] for the copies of family `F`, the group's members
/// being `members`: how many it took over and how many it released.
fn view_changed_in<F: Fam>(node: &Node, view: &View, members: &[u32]) -> (u32, usize) {
    let me = node.group().me();
    let copies = copies(node);
    // With one copy, its holder takes the connection over; with more, the
    // first of the view's ranking does (the first backup that lives), and
    // the others keep forwarding from theirs until its copy replaces them.
    let promotes = |r: &Entry<F>| {
        !view.contains(r.owner)
            && members.contains(&r.owner)
            && (copies == 1
                || backup_of(view.members(), r.owner, flow_id(&r.flow).hash()) == Some(me))
    };
    let is_backup = |r: &Entry<F>| {
        let mut to = [0u32; MAX_MEMBERS];
        let n = backups(
            view.members(),
            r.owner,
            flow_id(&r.flow).hash(),
            copies,
            &mut to,
        );
        to[..n].contains(&me)
    };
    let Ok(mut batch) = KVec::with_capacity(BATCH, GFP_KERNEL) else {
        return (0, 0);
    };
    let promoted = take_over_where(node, &mut batch, promotes, |_| ());
    // A copy whose owner lives but whose backups are other members now (one
    // that joined or came back) goes: its owner sends those a copy. So
    // does the copy of a member deleted from the group (it still forwards
    // its connections: taking them over would split their bookkeeping).
    let released = node
        .conns()
        .common::<F>()
        .release_where(|r| !members.contains(&r.owner) || view.contains(r.owner) && !is_backup(r));
    (promoted, released)
}

/// Sends every flow's copy to its backup in the current view (a member
/// that joined, came back or just agreed on the view has none; one that
/// has it keeps the newer), then SYNCED to every member up: each has all
/// the copies it keeps for this node in this view, unless the view
/// changed meanwhile (the next resend says so then).
pub(crate) fn resend(node: &Node) {
    let Some(epoch) = node.group().view().map(|v| v.epoch()) else {
        return;
    };
    if resend_in::<V4>(node).is_err() || resend_in::<V6>(node).is_err() {
        return;
    }
    if node.group().view().is_some_and(|v| v.epoch() == epoch) {
        node.group()
            .send_to_live(node.ctrl(), &Message::Synced(epoch));
    }
}

/// [`resend`]'s copies of the flows of family `F`; `ENOMEM` if none went
/// (no room to gather them).
fn resend_in<F: Fam>(node: &Node) -> Result {
    let mut batch = KVec::<Flow<F>>::with_capacity(BATCH, GFP_KERNEL)?;
    let copies = copies(node);
    let buckets = node.conns().buckets_of::<F>();
    for b in 0..buckets {
        node.conns()
            .snapshot_bucket(b, &mut batch, |f| f.replica().is_some());
        if batch.len() >= BATCH / 2 || b + 1 == buckets {
            for f in batch.iter() {
                replicate_to(node, f, copies, Delivery::Now);
            }
            vec::clear(&mut batch);
        }
    }
    Ok(())
}
