// SPDX-License-Identifier: GPL-2.0

//! The `baton` generic netlink family: policy and command handlers.
//!
//! The contract is `Documentation/netlink/specs/baton.yaml`; the numbers come
//! from [`crate::proto::uapi`], shared with `batonctl`.

use crate::{
    proto::{
        config::{
            check_node_id, check_peer_add, decode_u16, decode_u32, nla_iter, ConfigUpdate,
            PeerConf, PeerError,
        },
        uapi::{attr, cmd, hook_attr, peer_attr, peer_state, Hook, FAMILY_NAME, FAMILY_VERSION},
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

static PEER_POLICY: [AttrPolicy; peer_attr::MAX as usize + 1] = [
    AttrPolicy::UNUSED,
    AttrPolicy::u32(),             // NODE_ID
    AttrPolicy::be32(),            // ADDR
    AttrPolicy::u16_min(1),        // PORT
    AttrPolicy::reject(READ_ONLY), // STATE
    AttrPolicy::reject(READ_ONLY), // LAST_RX_MS
    AttrPolicy::reject(READ_ONLY), // MSGS_IN
    AttrPolicy::reject(READ_ONLY), // MSGS_OUT
    AttrPolicy::reject(READ_ONLY), // CONNECTS
    AttrPolicy::reject(READ_ONLY), // PAD
];

static POLICY: [AttrPolicy; attr::MAX as usize + 1] = [
    AttrPolicy::UNUSED,
    AttrPolicy::reject(READ_ONLY),    // VERSION
    AttrPolicy::u16_min(1),           // CTRL_PORT
    AttrPolicy::u32(),                // NODE_ID
    AttrPolicy::reject(READ_ONLY),    // HOOKS
    AttrPolicy::reject(READ_ONLY),    // PAD
    AttrPolicy::nested(&PEER_POLICY), // PEER
];

static OPS: [Op<Baton>; 6] = [
    Op::new::<StatusGet>(cmd::STATUS_GET, Perm::Any),
    Op::new::<ConfigGet>(cmd::CONFIG_GET, Perm::Any),
    Op::new::<ConfigSet>(cmd::CONFIG_SET, Perm::NetAdmin),
    Op::new::<PeerAdd>(cmd::PEER_ADD, Perm::NetAdmin),
    Op::new::<PeerDel>(cmd::PEER_DEL, Perm::NetAdmin),
    Op::new::<PeerGet>(cmd::PEER_GET, Perm::Any),
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
        let config = baton.state(info).config().lock().base;
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
        let state = baton.state(info);
        let mut config = state.config().lock();
        if let Some(id) = update.node_id {
            check_node_id(&config.peers, id).map_err(|e| peer_error(info, e))?;
        }
        update.apply(&mut config.base).map_err(|e| {
            info.set_err_msg(e.message(), None);
            EINVAL
        })?;
        config
            .apply_to(state.ctrl())
            .inspect_err(|_| ctrl_error(info))
    }
}

fn ctrl_error(info: &Info<'_>) {
    info.set_err_msg(
        c"configuration changed, but the control channel could not follow",
        None,
    );
}

fn peer_error(info: &Info<'_>, e: PeerError) -> Error {
    info.set_err_msg(e.message(), None);
    match e {
        PeerError::Exists => EEXIST,
        PeerError::NotFound => ENOENT,
        PeerError::TooMany => ENOSPC,
        _ => EINVAL,
    }
}

/// The fields of the `peer` nest of a request, those that were given.
#[derive(Default)]
struct PeerRequest {
    node_id: Option<u32>,
    addr: Option<[u8; 4]>,
    port: Option<u16>,
}

/// Decodes the `peer` nest of a request.
fn peer_request(info: &Info<'_>) -> Result<PeerRequest> {
    let nest = info.attr(attr::PEER).ok_or_else(|| {
        info.set_err_msg(c"missing peer attribute", None);
        EINVAL
    })?;
    let mut req = PeerRequest::default();
    for (ty, payload) in nla_iter(nest.payload()) {
        match ty {
            peer_attr::NODE_ID => req.node_id = Some(decode_u32(payload).ok_or(EINVAL)?),
            peer_attr::ADDR => req.addr = Some(payload.try_into().map_err(|_| EINVAL)?),
            peer_attr::PORT => req.port = Some(decode_u16(payload).ok_or(EINVAL)?),
            _ => {}
        }
    }
    Ok(req)
}

struct PeerAdd;

impl Command<Baton> for PeerAdd {
    fn doit(baton: &Baton, info: &Info<'_>) -> Result {
        let req = peer_request(info)?;
        let state = baton.state(info);
        let mut config = state.config().lock();
        let (Some(node_id), Some(addr)) = (req.node_id, req.addr) else {
            return Err(peer_error(info, PeerError::Missing));
        };
        let peer = PeerConf {
            node_id,
            addr,
            port: req.port.unwrap_or(config.base.ctrl_port),
        };
        check_peer_add(&config.peers, config.base.node_id, &peer)
            .map_err(|e| peer_error(info, e))?;
        config.peers.push(peer, GFP_KERNEL)?;
        config
            .apply_to(state.ctrl())
            .inspect_err(|_| ctrl_error(info))
    }
}

struct PeerDel;

impl Command<Baton> for PeerDel {
    fn doit(baton: &Baton, info: &Info<'_>) -> Result {
        let node_id = peer_request(info)?
            .node_id
            .ok_or_else(|| peer_error(info, PeerError::Missing))?;
        let state = baton.state(info);
        let mut config = state.config().lock();
        if !config.peers.iter().any(|p| p.node_id == node_id) {
            return Err(peer_error(info, PeerError::NotFound));
        }
        let mut rest = KVec::with_capacity(config.peers.len(), GFP_KERNEL)?;
        for p in config.peers.iter().filter(|p| p.node_id != node_id) {
            rest.push(*p, GFP_KERNEL)?;
        }
        config.peers = rest;
        config
            .apply_to(state.ctrl())
            .inspect_err(|_| ctrl_error(info))
    }
}

struct PeerGet;

impl Command<Baton> for PeerGet {
    fn doit(baton: &Baton, info: &Info<'_>) -> Result {
        let state = baton.state(info);
        let peers = {
            let config = state.config().lock();
            let mut copy = KVec::with_capacity(config.peers.len(), GFP_KERNEL)?;
            copy.extend_from_slice(&config.peers, GFP_KERNEL)?;
            copy
        };
        let mut reply = Reply::new(info, cmd::PEER_GET)?;
        for p in peers.iter() {
            let status = state.ctrl().status(p.node_id).unwrap_or_default();
            reply.nest(attr::PEER, |r| {
                r.put_u32(peer_attr::NODE_ID, p.node_id)?;
                r.put_u32_be(peer_attr::ADDR, p.addr)?;
                r.put_u16(peer_attr::PORT, p.port)?;
                r.put_u8(
                    peer_attr::STATE,
                    if status.up {
                        peer_state::UP
                    } else {
                        peer_state::DOWN
                    },
                )?;
                if let Some(ago) = status.last_rx_ago_ms {
                    r.put_u64(peer_attr::LAST_RX_MS, ago, peer_attr::PAD)?;
                }
                r.put_u64(peer_attr::MSGS_IN, status.msgs_in, peer_attr::PAD)?;
                r.put_u64(peer_attr::MSGS_OUT, status.msgs_out, peer_attr::PAD)?;
                r.put_u32(peer_attr::CONNECTS, status.connects)
            })?;
        }
        reply.send(info)
    }
}
