// SPDX-License-Identifier: GPL-2.0

//! The front-end group of a namespace: this node and the peers configured
//! as its members (`cluster-add`), which serve the same VIPs. A member is
//! live while its control channel is up, so the channel's heartbeats are
//! the group's failure detector; the live members make this node's view
//! ([`View`]), whose epoch goes up when the set changes. Members announce
//! their views to each other (VIEW frames, with every heartbeat and at
//! once on a change); a member that announces the same set under a later
//! epoch lends this node that epoch, so that members which see the same
//! set agree on one (epoch, set).
//!
//! Only the control channel's threads and netlink come here, never the
//! packet path; one mutex keeps it. Frames are sent after the mutex is
//! released: a send may wait for a peer's socket.

use crate::{
    ctrl::Ctrl,
    proto::{
        cluster::{backups, FlowId, View, MAX_MEMBERS},
        ctrl::{GroupView, Message},
        packet::Family,
    },
};
use kernel::{new_mutex, prelude::*, sync::Mutex};

/// What a member last announced.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Heard {
    /// Its view's epoch.
    pub(crate) epoch: u64,
    /// Its view's member set, as [`View::digest`].
    pub(crate) digest: u64,
    /// Members in its view.
    pub(crate) live: u32,
    /// Connections in its active table.
    pub(crate) active: u32,
    /// Copies in its common table.
    pub(crate) common: u32,
}

/// A member as `cluster-get` shows it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MemberStatus {
    /// Its node id.
    pub(crate) id: u32,
    /// This node.
    pub(crate) me: bool,
    /// In this node's view.
    pub(crate) live: bool,
    /// What it last announced (this node: its own view and tables).
    pub(crate) heard: Option<Heard>,
    /// `heard` is this node's view.
    pub(crate) agrees: bool,
    /// It sent this node every copy this node keeps for it in this
    /// node's view (this node: every other live member did).
    pub(crate) synced: bool,
}

/// A configured member other than this node.
#[derive(Clone, Copy)]
struct Member {
    id: u32,
    heard: Option<Heard>,
    /// The epoch of its last SYNCED, on its current channel.
    synced: Option<u64>,
}

struct Inner {
    me: u32,
    /// Sorted by id, at most `MAX_MEMBERS - 1`.
    members: KVec<Member>,
    /// `None` without a node id or without members.
    view: Option<View>,
}

/// Where a view goes: the announcement and the live members to send it to.
struct Outbox {
    view: View,
    msg: Message<'static>,
    to: [u32; MAX_MEMBERS],
    n: usize,
}

/// The front-end group of one namespace.
#[pin_data]
pub(crate) struct Group {
    #[pin]
    inner: Mutex<Inner>,
}

impl Group {
    /// A group of no members.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            inner <- new_mutex!(
                Inner {
                    me: 0,
                    members: KVec::new(),
                    view: None,
                },
                "baton_group"
            ),
        })
    }

    /// Makes the group this node (`me`) and `members` (other nodes, any
    /// order), keeping what the members that stay announced, and announces
    /// the view if it changed; returns it then. `tables` are the sizes of
    /// this node's active and common tables.
    pub(crate) fn configure(
        &self,
        ctrl: &Ctrl,
        me: u32,
        members: &[u32],
        tables: (u32, u32),
    ) -> Result<Option<View>> {
        let mut next = KVec::with_capacity(members.len(), GFP_KERNEL)?;
        let out = {
            let mut g = self.inner.lock();
            for &id in members {
                if id == 0
                    || id == me
                    || next.len() == MAX_MEMBERS - 1
                    || next.iter().any(|m: &Member| m.id == id)
                {
                    continue;
                }
                let old = g.members.iter().find(|m| m.id == id);
                let member = Member {
                    id,
                    heard: old.and_then(|m| m.heard),
                    synced: old.and_then(|m| m.synced),
                };
                // Within the capacity reserved.
                next.push(member, GFP_KERNEL)?;
            }
            next.sort_unstable_by_key(|m| m.id);
            g.members = next;
            if g.me != me || me == 0 || g.members.is_empty() {
                g.me = me;
                g.view = None;
            }
            if g.view.is_none() && me != 0 && !g.members.is_empty() {
                g.view = View::new(me).ok();
            }
            refresh(&mut g, ctrl, tables)
        };
        Ok(send(ctrl, out))
    }

    /// A member's channel came up or went down: recomputes the view and
    /// announces it if it changed; returns it then.
    pub(crate) fn refresh(&self, ctrl: &Ctrl, tables: (u32, u32)) -> Option<View> {
        let out = refresh(&mut self.inner.lock(), ctrl, tables);
        send(ctrl, out)
    }

    /// Whether this node has a group (and so a view).
    pub(crate) fn has_view(&self) -> bool {
        self.inner.lock().view.is_some()
    }

    /// This node's id in the group (0 without one).
    pub(crate) fn me(&self) -> u32 {
        self.inner.lock().me
    }

    /// The configured members other than this node, into `out` (as many
    /// as fit its capacity).
    pub(crate) fn member_ids(&self, out: &mut KVec<u32>) {
        for m in self.inner.lock().members.iter() {
            if out.len() < out.capacity() {
                // Capacity checked: no allocation.
                let _ = out.push(m.id, GFP_ATOMIC);
            }
        }
    }

    /// Whether `id` is a member (configured, up or not).
    pub(crate) fn is_member(&self, id: u32) -> bool {
        self.inner.lock().members.iter().any(|m| m.id == id)
    }

    /// Where this node keeps the copies of a connection it forwards: its
    /// first `n` backups in this node's view, into `out`; how many (none
    /// alone or without a group).
    pub(crate) fn backups<A: Family>(&self, flow: &FlowId<A>, n: usize, out: &mut [u32]) -> usize {
        let g = self.inner.lock();
        let Some(view) = g.view.as_ref() else {
            return 0;
        };
        backups(view.members(), g.me, flow.hash(), n, out)
    }

    /// This node's view, if it has a group.
    pub(crate) fn view(&self) -> Option<View> {
        self.inner.lock().view
    }

    /// Sends `msg` to every member up.
    pub(crate) fn send_to_live(&self, ctrl: &Ctrl, msg: &Message<'_>) {
        let mut to = [0u32; MAX_MEMBERS];
        let mut n = 0;
        {
            let g = self.inner.lock();
            let Some(view) = g.view.as_ref() else { return };
            for &id in view.members() {
                if id != g.me && n < MAX_MEMBERS {
                    to[n] = id;
                    n += 1;
                }
            }
        }
        for &id in &to[..n] {
            // A member whose channel just went hears nothing: it is no
            // longer a backup.
            let _ = ctrl.send(id, msg);
        }
    }

    /// Member `from` announced `gv`. Returns `true` when that member now
    /// has this node's view and had not before (it joined, came back, or
    /// the two just settled on one epoch): it is ready for the copies
    /// whose backup it is.
    pub(crate) fn heard(&self, from: u32, gv: &GroupView) -> bool {
        let mut guard = self.inner.lock();
        let Inner { me, members, view } = &mut *guard;
        let Some(m) = members.iter_mut().find(|m| m.id == from) else {
            return false;
        };
        let Some(view) = view.as_mut() else {
            return false;
        };
        let had = m.heard.is_some_and(|h| view.agrees(h.epoch, h.digest));
        let digest = gv.view.digest();
        m.heard = Some(Heard {
            epoch: gv.view.epoch(),
            digest,
            live: gv.view.size() as u32,
            active: gv.active,
            common: gv.common,
        });
        if view.merge(gv.view.epoch(), digest) {
            pr_info!(
                "node {}: front-end group epoch {} (member {}'s, same {} members)\n",
                me,
                view.epoch(),
                from,
                view.size()
            );
        }
        !had && view.agrees(gv.view.epoch(), digest)
    }

    /// Member `from` sent this node every copy of its view of `epoch`
    /// (SYNCED). Logs when this node has, for the first time in its view,
    /// the copies of every live member.
    pub(crate) fn synced(&self, from: u32, epoch: u64) {
        let mut g = self.inner.lock();
        let Some(view) = g.view else { return };
        let was = all_synced(&g, &view);
        let Some(m) = g.members.iter_mut().find(|m| m.id == from) else {
            return;
        };
        m.synced = Some(epoch);
        if !was && all_synced(&g, &view) {
            pr_info!(
                "node {}: front-end group epoch {}: synced with {} other member(s)\n",
                g.me,
                view.epoch(),
                view.size() - 1
            );
        }
    }

    /// The VIEW frame for member `to`, sent with each heartbeat; `None`
    /// if `to` is not a member or this node has no view.
    pub(crate) fn announcement(&self, to: u32, tables: (u32, u32)) -> Option<Message<'static>> {
        let g = self.inner.lock();
        if !g.members.iter().any(|m| m.id == to) {
            return None;
        }
        g.view.map(|view| announce(view, tables))
    }

    /// The members, this node first, into `out` (as many as fit its
    /// capacity); returns this node's view epoch, if it has a view.
    pub(crate) fn status(&self, tables: (u32, u32), out: &mut KVec<MemberStatus>) -> Option<u64> {
        let g = self.inner.lock();
        let view = g.view?;
        let mine = Heard {
            epoch: view.epoch(),
            digest: view.digest(),
            live: view.size() as u32,
            active: tables.0,
            common: tables.1,
        };
        let me = core::iter::once(MemberStatus {
            id: g.me,
            me: true,
            live: true,
            heard: Some(mine),
            agrees: true,
            synced: all_synced(&g, &view),
        });
        let others = g.members.iter().map(|m| MemberStatus {
            id: m.id,
            me: false,
            live: view.contains(m.id),
            heard: m.heard,
            agrees: m.heard.is_some_and(|h| view.agrees(h.epoch, h.digest)),
            synced: m.synced == Some(view.epoch()),
        });
        for s in Iterator::chain(me, others) {
            if out.len() < out.capacity() {
                // Capacity checked: no allocation.
                let _ = out.push(s, GFP_ATOMIC);
            }
        }
        Some(view.epoch())
    }
}

/// Whether every live member other than this node sent SYNCED for `view`.
fn all_synced(g: &Inner, view: &View) -> bool {
    g.members
        .iter()
        .filter(|m| view.contains(m.id))
        .all(|m| m.synced == Some(view.epoch()))
}

fn announce(view: View, (active, common): (u32, u32)) -> Message<'static> {
    Message::View(GroupView {
        view,
        active,
        common,
    })
}

/// Makes the live members (this node, and the members whose channel is
/// up) the view; the announcement of a changed view.
fn refresh(g: &mut Inner, ctrl: &Ctrl, tables: (u32, u32)) -> Option<Outbox> {
    let me = g.me;
    let view = g.view.as_mut()?;
    let mut live = [0u32; MAX_MEMBERS];
    live[0] = me;
    let mut n = 1;
    for m in g.members.iter_mut() {
        if n < MAX_MEMBERS && ctrl.is_up(m.id) {
            live[n] = m.id;
            n += 1;
        } else {
            // What it announced on a channel that is gone is not its view,
            // nor are the copies it sent ours any more.
            m.heard = None;
            m.synced = None;
        }
    }
    if !matches!(view.set_members(&live[..n]), Ok(true)) {
        return None;
    }
    pr_info!(
        "node {}: front-end group epoch {}: {} of {} members up\n",
        me,
        view.epoch(),
        n,
        g.members.len() + 1
    );
    let mut to = [0u32; MAX_MEMBERS];
    for (t, &id) in to.iter_mut().zip(live.iter().take(n).skip(1)) {
        *t = id;
    }
    Some(Outbox {
        view: *view,
        msg: announce(*view, tables),
        to,
        n: n - 1,
    })
}

/// Sends a changed view to the live members; returns it.
fn send(ctrl: &Ctrl, out: Option<Outbox>) -> Option<View> {
    let out = out?;
    for &id in &out.to[..out.n] {
        // A member whose channel just went gets the view on its next one.
        let _ = ctrl.send(id, &out.msg);
    }
    Some(out.view)
}
