// SPDX-License-Identifier: GPL-2.0

//! The `baton` generic netlink family: policy and command handlers.
//!
//! The contract is `Documentation/netlink/specs/baton.yaml`; the numbers come
//! from [`crate::proto::uapi`], shared with `batonctl`.

use crate::{
    proto::{
        config::{decode_u16, decode_u32, ConfigUpdate},
        uapi::{attr, cmd, hook_attr, Hook, FAMILY_NAME, FAMILY_VERSION},
    },
    state::NetState,
    sys::{
        genl::{AttrPolicy, Command, Family, Info, Op, Perm, Reply},
        netns, param,
    },
};
use kernel::prelude::*;

/// What the commands work on: the per-namespace state.
pub(crate) struct Baton {
    pernet: netns::Registration<NetState>,
}

impl Baton {
    pub(crate) fn new(pernet: netns::Registration<NetState>) -> Self {
        Self { pernet }
    }

    fn state<'a>(&'a self, info: &'a Info<'_>) -> &'a NetState {
        self.pernet.get(info.net())
    }
}

const READ_ONLY: &core::ffi::CStr = c"attribute is read-only";

static POLICY: [AttrPolicy; attr::MAX as usize + 1] = [
    AttrPolicy::UNUSED,
    AttrPolicy::reject(READ_ONLY), // VERSION
    AttrPolicy::u16_min(1),        // CTRL_PORT
    AttrPolicy::u32(),             // NODE_ID
    AttrPolicy::reject(READ_ONLY), // HOOKS
    AttrPolicy::reject(READ_ONLY), // PAD
];

static OPS: [Op<Baton>; 3] = [
    Op::new::<StatusGet>(cmd::STATUS_GET, Perm::Any),
    Op::new::<ConfigGet>(cmd::CONFIG_GET, Perm::Any),
    Op::new::<ConfigSet>(cmd::CONFIG_SET, Perm::NetAdmin),
];

impl Family for Baton {
    const NAME: &'static core::ffi::CStr = FAMILY_NAME;
    const VERSION: u8 = FAMILY_VERSION;
    const POLICY: &'static [AttrPolicy] = &POLICY;
    const OPS: &'static [Op<Self>] = &OPS;
}

struct StatusGet;

impl Command<Baton> for StatusGet {
    fn doit(baton: &Baton, info: &Info<'_>) -> Result {
        let state = baton.state(info);
        let mut reply = Reply::new(info, cmd::STATUS_GET)?;
        reply.put_str(attr::VERSION, param::version())?;
        reply.nest(attr::HOOKS, |r| {
            Hook::ALL
                .iter()
                .try_for_each(|&h| r.put_u64(h.attr(), state.packets(h), hook_attr::PAD))
        })?;
        reply.send(info)
    }
}

struct ConfigGet;

impl Command<Baton> for ConfigGet {
    fn doit(baton: &Baton, info: &Info<'_>) -> Result {
        let config = *baton.state(info).config().lock();
        let mut reply = Reply::new(info, cmd::CONFIG_GET)?;
        reply.put_u16(attr::CTRL_PORT, config.ctrl_port)?;
        reply.put_u32(attr::NODE_ID, config.node_id)?;
        reply.send(info)
    }
}

struct ConfigSet;

impl Command<Baton> for ConfigSet {
    fn doit(baton: &Baton, info: &Info<'_>) -> Result {
        // The policy has checked types and lengths; decode defensively anyway.
        let mut update = ConfigUpdate::default();
        if let Some(a) = info.attr(attr::CTRL_PORT) {
            update.ctrl_port = Some(decode_u16(a.payload()).ok_or(EINVAL)?);
        }
        if let Some(a) = info.attr(attr::NODE_ID) {
            update.node_id = Some(decode_u32(a.payload()).ok_or(EINVAL)?);
        }
        let mut config = baton.state(info).config().lock();
        update.apply(&mut config).map_err(|e| {
            info.set_err_msg(e.message(), None);
            EINVAL
        })
    }
}
