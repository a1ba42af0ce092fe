// SPDX-License-Identifier: GPL-2.0

//! The `baton` generic netlink family: policy and command handlers.
//!
//! The contract is `Documentation/netlink/specs/baton.yaml`; the numbers come
//! from [`crate::proto::uapi`], shared with `batonctl`.

use crate::{
    conn::{ip, AnyFlow, Fam, Stat},
    events,
    proto::{
        cluster::MAX_MEMBERS,
        config::{
            check_member_add, check_node_id, check_peer_add, decode_u16, decode_u32, nla_iter,
            ConfigUpdate, MemberError, PeerConf, PeerError,
        },
        dump::{Cursor, Sink, Step, Table},
        flow::{Filter, FilterError, Flow},
        packet::V6,
        rules::{check_rule_add, host_name, path_prefix, RuleConf, RuleError},
        service::{
            check_backend_add, check_family, check_service_add, set_backend, BackendConf, Endpoint,
            Ip, Scheduler, ServiceConf, ServiceError,
        },
        uapi::{
            attr, backend_attr, cmd, conn_attr, dispatch, hook_attr, member_attr, member_state,
            peer_attr, peer_state, rule_attr, service_attr, stats_attr, Hook, FAMILY_NAME,
            FAMILY_VERSION, MCGRP_EVENTS,
        },
    },
    state::{NetConfig, NetState, Service},
    sys::{
        crypto::Hmac,
        genl::{
            self, policy_table, AttrPolicy, Attrs, Command, Dump, DumpMark, DumpSkb, Dumped,
            Family, Info, Op, Perm, Reply,
        },
        kthread,
        netfilter::IpFamily,
        netns, param,
    },
};
use kernel::{prelude::*, sync::Arc};

/// Shortest control-channel key accepted (128 bits).
const AUTH_KEY_MIN: usize = 16;

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

static PEER_POLICY: [AttrPolicy; peer_attr::MAX as usize + 1] = policy_table(&[
    (peer_attr::NODE_ID, AttrPolicy::u32()),
    (peer_attr::ADDR, AttrPolicy::be32()),
    (peer_attr::PORT, AttrPolicy::u16_min(1)),
    (peer_attr::STATE, AttrPolicy::reject(READ_ONLY)),
    (peer_attr::LAST_RX_MS, AttrPolicy::reject(READ_ONLY)),
    (peer_attr::MSGS_IN, AttrPolicy::reject(READ_ONLY)),
    (peer_attr::MSGS_OUT, AttrPolicy::reject(READ_ONLY)),
    (peer_attr::CONNECTS, AttrPolicy::reject(READ_ONLY)),
    (peer_attr::PAD, AttrPolicy::reject(READ_ONLY)),
    (peer_attr::ADDR6, AttrPolicy::exact_len(16)),
    (peer_attr::WRITES_OUT, AttrPolicy::reject(READ_ONLY)),
]);

static MEMBER_POLICY: [AttrPolicy; member_attr::MAX as usize + 1] = policy_table(&[
    (member_attr::NODE_ID, AttrPolicy::u32()),
    (member_attr::STATE, AttrPolicy::reject(READ_ONLY)),
    (member_attr::EPOCH, AttrPolicy::reject(READ_ONLY)),
    (member_attr::AGREES, AttrPolicy::reject(READ_ONLY)),
    (member_attr::LIVE, AttrPolicy::reject(READ_ONLY)),
    (member_attr::ACTIVE, AttrPolicy::reject(READ_ONLY)),
    (member_attr::COMMON, AttrPolicy::reject(READ_ONLY)),
    (member_attr::SYNCED, AttrPolicy::reject(READ_ONLY)),
    (member_attr::PAD, AttrPolicy::reject(READ_ONLY)),
]);

static BACKEND_POLICY: [AttrPolicy; backend_attr::MAX as usize + 1] = policy_table(&[
    (backend_attr::ADDR, AttrPolicy::be32()),
    (backend_attr::PORT, AttrPolicy::u16_min(1)),
    // Range checked with a message by the handler.
    (backend_attr::WEIGHT, AttrPolicy::u32()),
    (backend_attr::PEER, AttrPolicy::u32()),
    (backend_attr::ACTIVE, AttrPolicy::reject(READ_ONLY)),
    (backend_attr::ADDR6, AttrPolicy::exact_len(16)),
    (backend_attr::DRAIN, AttrPolicy::u8_max(1)),
]);

static RULE_POLICY: [AttrPolicy; rule_attr::MAX as usize + 1] = policy_table(&[
    (rule_attr::INDEX, AttrPolicy::u32()),
    (rule_attr::HOST, AttrPolicy::string(253)),
    (rule_attr::HOST_SUFFIX, AttrPolicy::u8_max(1)),
    (rule_attr::PATH, AttrPolicy::string(255)),
    (rule_attr::BACKEND_ADDR, AttrPolicy::be32()),
    (rule_attr::BACKEND_PORT, AttrPolicy::u16_min(1)),
    (rule_attr::BACKEND_ADDR6, AttrPolicy::exact_len(16)),
]);

static SERVICE_POLICY: [AttrPolicy; service_attr::MAX as usize + 1] = policy_table(&[
    (service_attr::ADDR, AttrPolicy::be32()),
    (service_attr::PORT, AttrPolicy::u16_min(1)),
    (service_attr::SCHEDULER, AttrPolicy::u8_max(3)),
    (service_attr::DISPATCH, AttrPolicy::u8_max(1)),
    (service_attr::BACKEND, AttrPolicy::reject(READ_ONLY)),
    (service_attr::RULE, AttrPolicy::reject(READ_ONLY)),
    (service_attr::MAX_CONNS, AttrPolicy::u32()),
    (service_attr::ADDR6, AttrPolicy::exact_len(16)),
]);

/// What a `conn` nest of a request may hold: a filter.
static CONN_FILTER_POLICY: [AttrPolicy; conn_attr::MAX as usize + 1] = policy_table(&[
    (conn_attr::ID, AttrPolicy::reject(NOT_A_FILTER)),
    (conn_attr::ROLE, AttrPolicy::u8_max(1)),
    (conn_attr::STATE, AttrPolicy::u8_max(3)),
    (conn_attr::CLIENT_ADDR, AttrPolicy::be32()),
    (conn_attr::CLIENT_PORT, AttrPolicy::u16_min(1)),
    (conn_attr::VIP_ADDR, AttrPolicy::be32()),
    (conn_attr::VIP_PORT, AttrPolicy::u16_min(1)),
    (conn_attr::BACKEND_ADDR, AttrPolicy::be32()),
    (conn_attr::BACKEND_PORT, AttrPolicy::u16_min(1)),
    (conn_attr::PEER, AttrPolicy::u32()),
    (conn_attr::AGE_MS, AttrPolicy::reject(NOT_A_FILTER)),
    (conn_attr::IDLE_MS, AttrPolicy::reject(NOT_A_FILTER)),
    (conn_attr::PACKETS, AttrPolicy::reject(NOT_A_FILTER)),
    (conn_attr::BYTES, AttrPolicy::reject(NOT_A_FILTER)),
    (conn_attr::PAD, AttrPolicy::reject(NOT_A_FILTER)),
    (conn_attr::CLIENT_ADDR6, AttrPolicy::exact_len(16)),
    (conn_attr::VIP_ADDR6, AttrPolicy::exact_len(16)),
    (conn_attr::BACKEND_ADDR6, AttrPolicy::exact_len(16)),
    (conn_attr::DRAINING, AttrPolicy::reject(NOT_A_FILTER)),
]);

const NOT_A_FILTER: &core::ffi::CStr = FilterError::NotAFilter.message();

const BASE_POLICY: [AttrPolicy; attr::MAX as usize + 1] = policy_table(&[
    (attr::VERSION, AttrPolicy::reject(READ_ONLY)),
    (attr::CTRL_PORT, AttrPolicy::u16_min(1)),
    (attr::NODE_ID, AttrPolicy::u32()),
    (attr::HOOKS, AttrPolicy::reject(READ_ONLY)),
    (attr::PAD, AttrPolicy::reject(READ_ONLY)),
    (attr::PEER, AttrPolicy::nested(&PEER_POLICY)),
    (attr::SERVICE, AttrPolicy::nested(&SERVICE_POLICY)),
    (attr::BACKEND, AttrPolicy::nested(&BACKEND_POLICY)),
    (attr::STATS, AttrPolicy::reject(READ_ONLY)),
    (attr::CONN, AttrPolicy::reject(READ_ONLY)),
    (attr::CONN_TOTAL, AttrPolicy::reject(READ_ONLY)),
    (attr::RULE, AttrPolicy::nested(&RULE_POLICY)),
    // The timeouts' ranges are checked with a message by the handler.
    (attr::REQUEST_TIMEOUT_MS, AttrPolicy::u32()),
    (attr::HANDOFF_TIMEOUT_MS, AttrPolicy::u32()),
    (attr::IDLE_TIMEOUT_MS, AttrPolicy::u32()),
    // Length checked by the handler.
    (attr::KEY, AttrPolicy::binary(64)),
    (attr::AUTH, AttrPolicy::reject(READ_ONLY)),
    (attr::HEARTBEAT_TIMEOUT_MS, AttrPolicy::u32()),
    (attr::MEMBER, AttrPolicy::nested(&MEMBER_POLICY)),
    (attr::EPOCH, AttrPolicy::reject(READ_ONLY)),
    // Range checked with a message by the handler.
    (attr::COPIES, AttrPolicy::u32()),
    (attr::EVENT, AttrPolicy::reject(READ_ONLY)),
    (attr::HOOKS6, AttrPolicy::reject(READ_ONLY)),
]);

static POLICY: [AttrPolicy; attr::MAX as usize + 1] = BASE_POLICY;

/// `conn-get` takes a `conn` nest: the connections it asks for.
static CONN_GET_POLICY: [AttrPolicy; attr::MAX as usize + 1] = {
    let mut p = BASE_POLICY;
    p[attr::CONN as usize] = AttrPolicy::nested(&CONN_FILTER_POLICY);
    p
};

static OPS: [Op<Baton>; 19] = [
    Op::new::<StatusGet>(cmd::STATUS_GET, Perm::Any),
    Op::new::<ConfigGet>(cmd::CONFIG_GET, Perm::Any),
    Op::new::<Notified<ConfigSet, { cmd::CONFIG_SET }>>(cmd::CONFIG_SET, Perm::NetAdmin),
    Op::new::<Notified<PeerAdd, { cmd::PEER_ADD }>>(cmd::PEER_ADD, Perm::NetAdmin),
    Op::new::<Notified<PeerDel, { cmd::PEER_DEL }>>(cmd::PEER_DEL, Perm::NetAdmin),
    Op::new::<PeerGet>(cmd::PEER_GET, Perm::Any),
    Op::new::<Notified<ServiceAdd, { cmd::SERVICE_ADD }>>(cmd::SERVICE_ADD, Perm::NetAdmin),
    Op::new::<Notified<ServiceDel, { cmd::SERVICE_DEL }>>(cmd::SERVICE_DEL, Perm::NetAdmin),
    Op::new::<ServiceGet>(cmd::SERVICE_GET, Perm::Any),
    Op::new::<Notified<BackendAdd, { cmd::BACKEND_ADD }>>(cmd::BACKEND_ADD, Perm::NetAdmin),
    Op::new::<Notified<BackendDel, { cmd::BACKEND_DEL }>>(cmd::BACKEND_DEL, Perm::NetAdmin),
    Op::new::<StatsGet>(cmd::STATS_GET, Perm::Any),
    Op::new::<ConnGet>(cmd::CONN_GET, Perm::Any)
        .policy(&CONN_GET_POLICY)
        .dump::<ConnDump>(),
    Op::new::<Notified<RuleAdd, { cmd::RULE_ADD }>>(cmd::RULE_ADD, Perm::NetAdmin),
    Op::new::<Notified<RuleDel, { cmd::RULE_DEL }>>(cmd::RULE_DEL, Perm::NetAdmin),
    Op::new::<Notified<ClusterAdd, { cmd::CLUSTER_ADD }>>(cmd::CLUSTER_ADD, Perm::NetAdmin),
    Op::new::<Notified<ClusterDel, { cmd::CLUSTER_DEL }>>(cmd::CLUSTER_DEL, Perm::NetAdmin),
    Op::new::<ClusterGet>(cmd::CLUSTER_GET, Perm::Any),
    Op::new::<Notified<BackendSet, { cmd::BACKEND_SET }>>(cmd::BACKEND_SET, Perm::NetAdmin),
];

impl Family for Baton {
    const NAME: &'static core::ffi::CStr = FAMILY_NAME;
    const VERSION: u8 = FAMILY_VERSION;
    const POLICY: &'static [AttrPolicy] = &POLICY;
    const OPS: &'static [Op<Self>] = &OPS;
    // `events::GROUP` is the index of MCGRP_EVENTS.
    const MCGRPS: &'static [&'static core::ffi::CStr] = &[MCGRP_EVENTS];
}

/// Command `C` (number `CMD`), which changes the configuration: once it
/// succeeded, the `events` group hears of it.
struct Notified<C, const CMD: u8>(core::marker::PhantomData<C>);

impl<C: Command<Baton>, const CMD: u8> Command<Baton> for Notified<C, CMD> {
    fn doit(baton: &Baton, info: &Info<'_>) -> Result {
        C::doit(baton, info)?;
        events::config(info.net(), CMD);
        Ok(())
    }
}

struct StatusGet;

impl Command<Baton> for StatusGet {
    fn doit(baton: &Baton, info: &Info<'_>) -> Result {
        let state = baton.state(info);
        let mut reply = Reply::new(info, cmd::STATUS_GET)?;
        reply.put_str(attr::VERSION, param::version())?;
        for (nest, family) in [(attr::HOOKS, IpFamily::V4), (attr::HOOKS6, IpFamily::V6)] {
            reply.nest(nest, |r| {
                Hook::ALL.iter().try_for_each(|&h| {
                    r.put_u64(h.attr(), state.packets(family, h), hook_attr::PAD)
                })
            })?;
        }
        reply.send(info)
    }
}

struct StatsGet;

impl Command<Baton> for StatsGet {
    fn doit(baton: &Baton, info: &Info<'_>) -> Result {
        let conns = baton.state(info).node().conns();
        let s = conns.stats();
        // Read once: `memory` is computed from the same counts.
        let (active, memory) = conns.usage();
        let waiting = s.waiting();
        let mut reply = Reply::new(info, cmd::STATS_GET)?;
        reply.nest(attr::STATS, |r| {
            let pad = stats_attr::PAD;
            let get = |c| s.get(c);
            r.put_u64(stats_attr::HANDOFFS_OK, get(Stat::HandoffsOk), pad)?;
            r.put_u64(
                stats_attr::HANDOFFS_REFUSED,
                get(Stat::HandoffsRefused),
                pad,
            )?;
            r.put_u64(stats_attr::HANDOFFS_FAILED, get(Stat::HandoffsFailed), pad)?;
            r.put_u64(stats_attr::TAKEN, get(Stat::Taken), pad)?;
            r.put_u64(stats_attr::FORWARDED, get(Stat::Forwarded), pad)?;
            r.put_u64(stats_attr::RETURNED, get(Stat::Returned), pad)?;
            r.put_u64(stats_attr::DROPPED, get(Stat::Dropped), pad)?;
            r.put_u32(stats_attr::ACTIVE, active as u32)?;
            r.put_u32(stats_attr::WAITING, waiting)?;
            r.put_u64(stats_attr::HURRIED, get(Stat::Hurried), pad)?;
            r.put_u64(stats_attr::MEMORY, memory, pad)?;
            r.put_u64(stats_attr::MALFORMED, get(Stat::Malformed), pad)?;
            r.put_u64(stats_attr::HELD, get(Stat::Held), pad)?;
            r.put_u64(stats_attr::HELD_DROPPED, get(Stat::HeldDropped), pad)?;
            r.put_u64(stats_attr::ICMP_FORWARDED, get(Stat::IcmpForwarded), pad)?;
            r.put_u64(stats_attr::ICMP_MALFORMED, get(Stat::IcmpMalformed), pad)?;
            let (common, common_memory, pending) = conns.common_size();
            r.put_u32(stats_attr::COMMON, common as u32)?;
            r.put_u64(stats_attr::COMMON_MEMORY, common_memory, pad)?;
            r.put_u64(
                stats_attr::FORWARDED_COMMON,
                get(Stat::ForwardedCommon),
                pad,
            )?;
            r.put_u64(stats_attr::PROMOTED, get(Stat::Promoted), pad)?;
            r.put_u64(stats_attr::REPLICATED, get(Stat::Replicated), pad)?;
            r.put_u32(stats_attr::PENDING, pending as u32)?;
            r.put_u64(stats_attr::UNCONFIRMED, get(Stat::Unconfirmed), pad)?;
            r.put_u64(stats_attr::RESUMED, get(Stat::Resumed), pad)?;
            r.put_u64(stats_attr::ACKS_WITHHELD, get(Stat::AcksWithheld), pad)?;
            r.put_u64(stats_attr::ACKS_RELEASED, get(Stat::AcksReleased), pad)?;
            r.put_u64(stats_attr::RELAYED, get(Stat::Relayed), pad)?;
            r.put_u64(stats_attr::RELAY_FAILED, get(Stat::RelayFailed), pad)?;
            r.put_u64(stats_attr::MOVED, get(Stat::Moved), pad)?;
            r.put_u64(stats_attr::MOVES_REFUSED, get(Stat::MovesRefused), pad)?;
            r.put_u64(stats_attr::MOVES_FAILED, get(Stat::MovesFailed), pad)?;
            r.put_u64(stats_attr::RELEASED, get(Stat::Released), pad)?;
            r.put_u64(stats_attr::RELAY_SKIPPED, get(Stat::RelaySkipped), pad)?;
            let (held, awaiting) = conns.held_now();
            // At most 2 x 1024 (the areas' bounds).
            r.put_u32(stats_attr::HELD_NOW, held as u32)?;
            r.put_u32(stats_attr::HELD_AWAITING, awaiting as u32)?;
            r.put_u64(stats_attr::RELAYED_AGAIN, get(Stat::RelayedAgain), pad)
        })?;
        reply.send(info)
    }
}

/// Payload size of a `conn-get` reply: what neli and YNL read at once.
const CONN_REPLY_SIZE: usize = 30 * 1024;
/// Room one connection takes in it (14 attributes, padding, nest header).
const CONN_ATTR_SIZE: usize = 176;

/// The filter of a `conn-get` request (its `conn` nest; none: all).
fn conn_filter(info: &Info<'_>) -> Result<Filter> {
    let Some(nest) = info.attr(attr::CONN) else {
        return Ok(Filter::default());
    };
    Filter::parse(nest.payload()).map_err(|e| {
        info.set_err_msg(e.message(), Some(nest));
        EINVAL
    })
}

/// The `conn` nest of flow `f` at time `now` (ms).
fn put_conn<F: Fam>(r: &mut Attrs, f: &Flow<F>, now: u64) -> Result {
    r.nest(attr::CONN, |r| {
        let pad = conn_attr::PAD;
        r.put_u64(conn_attr::ID, f.id, pad)?;
        r.put_u8(conn_attr::ROLE, f.role.uapi())?;
        r.put_u8(conn_attr::STATE, f.phase.uapi())?;
        let (client, vip, backend) = (ip(f.client), ip(f.vip), ip(f.backend));
        r.put_ip(conn_attr::CLIENT_ADDR, conn_attr::CLIENT_ADDR6, client.addr)?;
        r.put_u16(conn_attr::CLIENT_PORT, f.client.port)?;
        r.put_ip(conn_attr::VIP_ADDR, conn_attr::VIP_ADDR6, vip.addr)?;
        r.put_u16(conn_attr::VIP_PORT, f.vip.port)?;
        r.put_ip(
            conn_attr::BACKEND_ADDR,
            conn_attr::BACKEND_ADDR6,
            backend.addr,
        )?;
        r.put_u16(conn_attr::BACKEND_PORT, f.backend.port)?;
        r.put_u32(conn_attr::PEER, f.peer)?;
        r.put_u64(conn_attr::AGE_MS, f.age_ms(now), pad)?;
        r.put_u64(conn_attr::IDLE_MS, f.idle_ms(now), pad)?;
        r.put_u64(conn_attr::PACKETS, f.packets.into(), pad)?;
        r.put_u64(conn_attr::BYTES, f.bytes, pad)?;
        if f.draining {
            r.put_u8(conn_attr::DRAINING, 1)?;
        }
        Ok(())
    })
}

/// `conn-get` as a plain request: one reply, capped (the answer of
/// clients from before the dump).
struct ConnGet;

impl Command<Baton> for ConnGet {
    fn doit(baton: &Baton, info: &Info<'_>) -> Result {
        let filter = conn_filter(info)?;
        let conns = baton.state(info).node().conns();
        let room = CONN_REPLY_SIZE / CONN_ATTR_SIZE - 1;
        let mut flows = KVec::<Flow>::with_capacity(room, GFP_KERNEL)?;
        conns.snapshot_where(&mut flows, |f| filter.matches(f));
        let mut flows6 =
            KVec::<Flow<V6>>::with_capacity(room.saturating_sub(flows.len()), GFP_KERNEL)?;
        conns.snapshot_where(&mut flows6, |f| filter.matches(f));
        let now = kthread::now_ms();
        let mut reply = Reply::with_size(info, cmd::CONN_GET, CONN_REPLY_SIZE)?;
        reply.put_u32(attr::CONN_TOTAL, conns.len() as u32)?;
        for f in flows.iter() {
            put_conn(&mut reply, f, now)?;
        }
        for f in flows6.iter() {
            put_conn(&mut reply, f, now)?;
        }
        reply.send(info)
    }
}

/// `conn-get` as a dump: every connection (that the filter selects), one
/// message each (see [`crate::proto::dump`]).
struct ConnDump;

/// Where a `conn-get` dump is.
struct ConnCursor {
    /// Boxed: with IPv6 addresses it would not fit the callback's context
    /// beside the cursor.
    filter: KBox<Filter>,
    cursor: Cursor,
}

impl Dump<Baton> for ConnDump {
    type Cursor = ConnCursor;

    fn start(baton: &Baton, info: &Info<'_>) -> Result<ConnCursor> {
        let filter = conn_filter(info)?;
        let conns = baton.state(info).node().conns();
        Ok(ConnCursor {
            filter: KBox::new(filter, GFP_KERNEL)?,
            cursor: Cursor::new(conns.generation()),
        })
    }

    fn dumpit(
        baton: &Baton,
        info: &Info<'_>,
        c: &mut ConnCursor,
        dump: &mut DumpSkb<'_>,
    ) -> Result<Dumped> {
        let conns = baton.state(info).node().conns();
        let filter = *c.filter;
        if !filter.is_empty() {
            dump.set_filtered();
        }
        let mut sink = ConnSink {
            dump,
            now: kthread::now_ms(),
        };
        let pick = |f: &AnyFlow| match f {
            AnyFlow::V4(f) => filter.matches(f),
            AnyFlow::V6(f) => filter.matches(f),
        };
        match c.cursor.step(conns, &mut sink, pick) {
            Step::More => Ok(Dumped::More),
            Step::Done => Ok(Dumped::Done),
            Step::TooBig => Err(genl::emsgsize()),
        }
    }
}

/// A dump's buffer, taking flows as `conn-get` messages.
struct ConnSink<'a, 'b> {
    dump: &'a mut DumpSkb<'b>,
    now: u64,
}

impl Sink<AnyFlow> for ConnSink<'_, '_> {
    type Mark = DumpMark;

    fn set_generation(&mut self, generation: u32) {
        self.dump.set_generation(generation);
    }

    fn mark(&self) -> DumpMark {
        self.dump.mark()
    }

    fn is_start(&self, mark: DumpMark) -> bool {
        mark.is_start()
    }

    fn trim(&mut self, mark: DumpMark) {
        self.dump.trim(mark);
    }

    fn put(&mut self, f: &AnyFlow) -> bool {
        let now = self.now;
        self.dump
            .message(cmd::CONN_GET, |r| match f {
                AnyFlow::V4(f) => put_conn(r, f, now),
                AnyFlow::V6(f) => put_conn(r, f, now),
            })
            .is_ok()
    }
}

struct ConfigGet;

impl Command<Baton> for ConfigGet {
    fn doit(baton: &Baton, info: &Info<'_>) -> Result {
        let (config, keyed) = {
            let c = baton.state(info).config().lock();
            (c.base, c.key.is_some())
        };
        let mut reply = Reply::new(info, cmd::CONFIG_GET)?;
        reply.put_u16(attr::CTRL_PORT, config.ctrl_port)?;
        reply.put_u32(attr::NODE_ID, config.node_id)?;
        reply.put_u32(attr::REQUEST_TIMEOUT_MS, config.request_timeout_ms)?;
        reply.put_u32(attr::HANDOFF_TIMEOUT_MS, config.handoff_timeout_ms)?;
        reply.put_u32(attr::IDLE_TIMEOUT_MS, config.idle_timeout_ms)?;
        reply.put_u32(attr::HEARTBEAT_TIMEOUT_MS, config.heartbeat_timeout_ms)?;
        reply.put_u32(attr::COPIES, config.copies)?;
        reply.put_u8(attr::AUTH, u8::from(keyed))?;
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
        let u32_attr = |id| -> Result<Option<u32>> {
            info.attr(id)
                .map(|a| decode_u32(a.payload()).ok_or(EINVAL))
                .transpose()
        };
        update.request_timeout_ms = u32_attr(attr::REQUEST_TIMEOUT_MS)?;
        update.handoff_timeout_ms = u32_attr(attr::HANDOFF_TIMEOUT_MS)?;
        update.idle_timeout_ms = u32_attr(attr::IDLE_TIMEOUT_MS)?;
        update.heartbeat_timeout_ms = u32_attr(attr::HEARTBEAT_TIMEOUT_MS)?;
        update.copies = u32_attr(attr::COPIES)?;
        // The transform is made before the lock: it allocates.
        let key = info
            .attr(attr::KEY)
            .map(|a| auth_key(info, a.payload()))
            .transpose()?;
        let state = baton.state(info);
        let mut config = state.config().lock();
        if let Some(id) = update.node_id {
            check_node_id(&config.peers, id).map_err(|e| peer_error(info, e))?;
        }
        if key.is_none() || update != ConfigUpdate::default() {
            update.apply(&mut config.base).map_err(|e| {
                info.set_err_msg(e.message(), None);
                EINVAL
            })?;
        }
        if let Some(key) = key {
            config.key = key;
        }
        NetConfig::commit(config, state.rt()).inspect_err(|_| ctrl_error(info))
    }
}

/// The HMAC transform of a `key` attribute: `None` (no key) if it is
/// empty.
fn auth_key(info: &Info<'_>, key: &[u8]) -> Result<Option<Arc<Hmac>>> {
    if key.is_empty() {
        return Ok(None);
    }
    if key.len() < AUTH_KEY_MIN {
        info.set_err_msg(c"key must be 16 to 64 bytes (empty removes it)", None);
        return Err(EINVAL);
    }
    let hmac = Hmac::new(key).inspect_err(|_| {
        info.set_err_msg(c"cannot set up hmac(sha256) for the key", None);
    })?;
    Ok(Some(Arc::new(hmac, GFP_KERNEL)?))
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
    addr6: Option<[u8; 16]>,
    port: Option<u16>,
}

/// Decodes the `peer` nest of a request.
fn peer_request(info: &Info<'_>) -> Result<PeerRequest> {
    let mut req = PeerRequest::default();
    let given = nest_fields(info, attr::PEER, |ty, p| {
        match ty {
            peer_attr::NODE_ID => req.node_id = Some(decode_u32(p).ok_or(EINVAL)?),
            peer_attr::ADDR => req.addr = Some(p.try_into().map_err(|_| EINVAL)?),
            peer_attr::ADDR6 => req.addr6 = Some(p.try_into().map_err(|_| EINVAL)?),
            peer_attr::PORT => req.port = Some(decode_u16(p).ok_or(EINVAL)?),
            _ => {}
        }
        Ok(())
    })?;
    if !given {
        info.set_err_msg(c"missing peer attribute", None);
        return Err(EINVAL);
    }
    Ok(req)
}

struct PeerAdd;

impl Command<Baton> for PeerAdd {
    fn doit(baton: &Baton, info: &Info<'_>) -> Result {
        let req = peer_request(info)?;
        let state = baton.state(info);
        let mut config = state.config().lock();
        let addr = match (req.addr, req.addr6) {
            (Some(_), Some(_)) => return Err(peer_error(info, PeerError::TwoAddrs)),
            (Some(a), None) => Some(Ip::V4(a)),
            (None, Some(a)) => Some(Ip::V6(a)),
            (None, None) => None,
        };
        let (Some(node_id), Some(addr)) = (req.node_id, addr) else {
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
        NetConfig::commit(config, state.rt()).inspect_err(|_| ctrl_error(info))
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
        let used = config
            .services
            .iter()
            .any(|s| s.backends.iter().any(|b| b.peer == node_id));
        if used {
            info.set_err_msg(c"peer serves a backend: delete the backend first", None);
            return Err(EBUSY);
        }
        if config.members.contains(&node_id) {
            info.set_err_msg(
                c"peer is a member of the front-end group: cluster-del it first",
                None,
            );
            return Err(EBUSY);
        }
        let mut rest = KVec::with_capacity(config.peers.len(), GFP_KERNEL)?;
        for p in config.peers.iter().filter(|p| p.node_id != node_id) {
            rest.push(*p, GFP_KERNEL)?;
        }
        config.peers = rest;
        NetConfig::commit(config, state.rt()).inspect_err(|_| ctrl_error(info))
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
            let status = state.node().ctrl().status(p.node_id).unwrap_or_default();
            reply.nest(attr::PEER, |r| {
                r.put_u32(peer_attr::NODE_ID, p.node_id)?;
                r.put_ip(peer_attr::ADDR, peer_attr::ADDR6, p.addr)?;
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
                r.put_u64(peer_attr::WRITES_OUT, status.writes_out, peer_attr::PAD)?;
                r.put_u32(peer_attr::CONNECTS, status.connects)
            })?;
        }
        reply.send(info)
    }
}

fn member_error(info: &Info<'_>, e: MemberError) -> Error {
    info.set_err_msg(e.message(), None);
    match e {
        MemberError::Exists => EEXIST,
        MemberError::NotFound | MemberError::NotPeer => ENOENT,
        MemberError::TooMany => ENOSPC,
        _ => EINVAL,
    }
}

/// The node id in the `member` nest of a request.
fn member_request(info: &Info<'_>) -> Result<u32> {
    let mut id = None;
    nest_fields(info, attr::MEMBER, |ty, p| {
        if ty == member_attr::NODE_ID {
            id = Some(decode_u32(p).ok_or(EINVAL)?);
        }
        Ok(())
    })?;
    id.ok_or_else(|| member_error(info, MemberError::Missing))
}

struct ClusterAdd;

impl Command<Baton> for ClusterAdd {
    fn doit(baton: &Baton, info: &Info<'_>) -> Result {
        let id = member_request(info)?;
        let state = baton.state(info);
        let mut config = state.config().lock();
        check_member_add(&config.peers, config.base.node_id, &config.members, id)
            .map_err(|e| member_error(info, e))?;
        config.members.push(id, GFP_KERNEL)?;
        NetConfig::commit(config, state.rt()).inspect_err(|_| ctrl_error(info))
    }
}

struct ClusterDel;

impl Command<Baton> for ClusterDel {
    fn doit(baton: &Baton, info: &Info<'_>) -> Result {
        let id = member_request(info)?;
        let state = baton.state(info);
        let mut config = state.config().lock();
        if !config.members.contains(&id) {
            return Err(member_error(info, MemberError::NotFound));
        }
        let mut rest = KVec::with_capacity(config.members.len(), GFP_KERNEL)?;
        for &m in config.members.iter().filter(|&&m| m != id) {
            rest.push(m, GFP_KERNEL)?;
        }
        config.members = rest;
        NetConfig::commit(config, state.rt()).inspect_err(|_| ctrl_error(info))
    }
}

struct ClusterGet;

impl Command<Baton> for ClusterGet {
    fn doit(baton: &Baton, info: &Info<'_>) -> Result {
        let node = baton.state(info).node();
        let mut members = KVec::with_capacity(MAX_MEMBERS, GFP_KERNEL)?;
        let epoch = node.group().status(node.tables(), &mut members);
        let mut reply = Reply::new(info, cmd::CLUSTER_GET)?;
        if let Some(epoch) = epoch {
            reply.put_u64(attr::EPOCH, epoch, attr::PAD)?;
        }
        for m in members.iter() {
            reply.nest(attr::MEMBER, |r| {
                r.put_u32(member_attr::NODE_ID, m.id)?;
                let state = match (m.me, m.live) {
                    (true, _) => member_state::SELF,
                    (false, true) => member_state::UP,
                    (false, false) => member_state::DOWN,
                };
                r.put_u8(member_attr::STATE, state)?;
                r.put_u8(member_attr::SYNCED, u8::from(m.synced))?;
                if let Some(h) = m.heard {
                    r.put_u64(member_attr::EPOCH, h.epoch, member_attr::PAD)?;
                    r.put_u8(member_attr::AGREES, u8::from(m.agrees))?;
                    r.put_u32(member_attr::LIVE, h.live)?;
                    r.put_u32(member_attr::ACTIVE, h.active)?;
                    r.put_u32(member_attr::COMMON, h.common)?;
                }
                Ok(())
            })?;
        }
        reply.send(info)
    }
}

fn service_error(info: &Info<'_>, e: ServiceError) -> Error {
    info.set_err_msg(e.message(), None);
    match e {
        ServiceError::ServiceExists | ServiceError::BackendExists => EEXIST,
        ServiceError::NoService | ServiceError::NoBackend => ENOENT,
        ServiceError::TooManyServices | ServiceError::TooManyBackends => ENOSPC,
        _ => EINVAL,
    }
}

/// The attributes of nest `id` of a request, decoded by `f` (type, payload).
fn nest_fields(info: &Info<'_>, id: u16, mut f: impl FnMut(u16, &[u8]) -> Result) -> Result<bool> {
    let Some(nest) = info.attr(id) else {
        return Ok(false);
    };
    for (ty, payload) in nla_iter(nest.payload()) {
        f(ty, payload)?;
    }
    Ok(true)
}

/// The address and port of nest `id` (`addr` = 1, `port` = 2 in both the
/// `service` and the `backend` set; the IPv6 address is `addr6`, the set's
/// own number), and every other field to `other`.
fn endpoint(
    info: &Info<'_>,
    id: u16,
    addr6: u16,
    mut other: impl FnMut(u16, &[u8]) -> Result,
) -> Result<Endpoint<Ip>> {
    let (mut addr, mut port) = (None, None);
    let mut two = false;
    nest_fields(info, id, |ty, p| {
        let ip = match ty {
            service_attr::ADDR => Ip::V4(p.try_into().map_err(|_| EINVAL)?),
            t if t == addr6 => Ip::V6(p.try_into().map_err(|_| EINVAL)?),
            service_attr::PORT => {
                port = Some(decode_u16(p).ok_or(EINVAL)?);
                return Ok(());
            }
            _ => return other(ty, p),
        };
        two |= addr.replace(ip).is_some();
        Ok(())
    })?;
    if two {
        return Err(service_error(info, ServiceError::TwoAddrs));
    }
    match (addr, port) {
        (Some(addr), Some(port)) => Ok(Endpoint { addr, port }),
        _ => Err(service_error(info, ServiceError::Missing)),
    }
}

/// The `service` nest of a request: its address and port.
fn service_endpoint(
    info: &Info<'_>,
    other: impl FnMut(u16, &[u8]) -> Result,
) -> Result<Endpoint<Ip>> {
    endpoint(info, attr::SERVICE, service_attr::ADDR6, other)
}

/// The `backend` nest of a request: its address and port.
fn backend_endpoint(
    info: &Info<'_>,
    other: impl FnMut(u16, &[u8]) -> Result,
) -> Result<Endpoint<Ip>> {
    endpoint(info, attr::BACKEND, backend_attr::ADDR6, other)
}

fn find_service(services: &mut [Service], vip: Endpoint<Ip>) -> Option<&mut Service> {
    services.iter_mut().find(|s| s.conf.vip == vip)
}

struct ServiceAdd;

impl Command<Baton> for ServiceAdd {
    fn doit(baton: &Baton, info: &Info<'_>) -> Result {
        let mut scheduler = Scheduler::Lc;
        let mut max_conns = 0;
        let mut per_request = true;
        let vip = service_endpoint(info, |ty, p| {
            if ty == service_attr::DISPATCH {
                per_request = p.first() == Some(&dispatch::REQUEST);
            } else if ty == service_attr::SCHEDULER {
                let v = p.first().copied().ok_or(EINVAL)?;
                scheduler = Scheduler::from_u8(v)
                    .ok_or_else(|| service_error(info, ServiceError::BadScheduler))?;
            } else if ty == service_attr::MAX_CONNS {
                max_conns = decode_u32(p).ok_or(EINVAL)?;
            }
            Ok(())
        })?;
        let conf = ServiceConf {
            vip,
            scheduler,
            max_conns,
            per_request,
        };
        let mut config = baton.state(info).config().lock();
        check_service_add(config.services.iter().map(|s| &s.conf), &conf)
            .map_err(|e| service_error(info, e))?;
        config.services.push(
            Service {
                conf,
                backends: KVec::new(),
                rules: KVec::new(),
            },
            GFP_KERNEL,
        )?;
        NetConfig::commit(config, baton.state(info).rt())
    }
}

struct ServiceDel;

impl Command<Baton> for ServiceDel {
    fn doit(baton: &Baton, info: &Info<'_>) -> Result {
        let vip = service_endpoint(info, |_, _| Ok(()))?;
        let mut config = baton.state(info).config().lock();
        if !config.services.iter().any(|s| s.conf.vip == vip) {
            return Err(service_error(info, ServiceError::NoService));
        }
        let mut rest = KVec::with_capacity(config.services.len(), GFP_KERNEL)?;
        for s in core::mem::take(&mut config.services) {
            if s.conf.vip != vip {
                // Cannot fail: the capacity covers every service.
                rest.push(s, GFP_KERNEL)?;
            }
        }
        config.services = rest;
        NetConfig::commit(config, baton.state(info).rt())
    }
}

struct ServiceGet;

impl Command<Baton> for ServiceGet {
    fn doit(baton: &Baton, info: &Info<'_>) -> Result {
        let mut reply = Reply::new(info, cmd::SERVICE_GET)?;
        let conns = baton.state(info).node().conns();
        let config = baton.state(info).config().lock();
        for s in config.services.iter() {
            let res = reply.nest(attr::SERVICE, |r| {
                r.put_ip(service_attr::ADDR, service_attr::ADDR6, s.conf.vip.addr)?;
                r.put_u16(service_attr::PORT, s.conf.vip.port)?;
                r.put_u8(service_attr::SCHEDULER, s.conf.scheduler as u8)?;
                r.put_u32(service_attr::MAX_CONNS, s.conf.max_conns)?;
                let d = if s.conf.per_request {
                    dispatch::REQUEST
                } else {
                    dispatch::CONNECTION
                };
                r.put_u8(service_attr::DISPATCH, d)?;
                for b in s.backends.iter() {
                    r.nest(service_attr::BACKEND, |r| {
                        r.put_ip(backend_attr::ADDR, backend_attr::ADDR6, b.addr.addr)?;
                        r.put_u16(backend_attr::PORT, b.addr.port)?;
                        r.put_u32(backend_attr::WEIGHT, b.weight)?;
                        r.put_u32(backend_attr::PEER, b.peer)?;
                        r.put_u8(backend_attr::DRAIN, b.draining.into())?;
                        r.put_u32(backend_attr::ACTIVE, conns.active(s.conf.vip, b.addr))
                    })?;
                }
                for (i, rule) in s.rules.iter().enumerate() {
                    r.nest(service_attr::RULE, |r| {
                        r.put_u32(rule_attr::INDEX, i as u32)?;
                        if let Some((h, suffix)) = &rule.host {
                            r.put_string(rule_attr::HOST, h.as_bytes())?;
                            r.put_u8(rule_attr::HOST_SUFFIX, u8::from(*suffix))?;
                        }
                        if let Some(p) = &rule.path {
                            r.put_string(rule_attr::PATH, p.as_bytes())?;
                        }
                        r.put_ip(
                            rule_attr::BACKEND_ADDR,
                            rule_attr::BACKEND_ADDR6,
                            rule.backend.addr,
                        )?;
                        r.put_u16(rule_attr::BACKEND_PORT, rule.backend.port)
                    })?;
                }
                Ok(())
            });
            res.inspect_err(|_| Self::too_big(info))?;
        }
        drop(config);
        reply.send(info)
    }
}

impl ServiceGet {
    /// The reply is one message of `NLMSG_GOODSIZE`: a few thousand bytes.
    fn too_big(info: &Info<'_>) {
        info.set_err_msg(c"too many services and backends for one reply", None);
    }
}

struct BackendAdd;

impl Command<Baton> for BackendAdd {
    fn doit(baton: &Baton, info: &Info<'_>) -> Result {
        let vip = service_endpoint(info, |_, _| Ok(()))?;
        let (mut weight, mut peer, mut drain) = (1, 0, false);
        let addr = backend_endpoint(info, |ty, p| {
            match ty {
                backend_attr::WEIGHT => weight = decode_u32(p).ok_or(EINVAL)?,
                backend_attr::PEER => peer = decode_u32(p).ok_or(EINVAL)?,
                backend_attr::DRAIN => drain = true,
                _ => {}
            }
            Ok(())
        })?;
        if drain {
            return Err(service_error(info, ServiceError::DrainOnAdd));
        }
        let mut config = baton.state(info).config().lock();
        let me = config.base.node_id;
        if peer != 0 && peer != me && !config.peers.iter().any(|p| p.node_id == peer) {
            return Err(service_error(info, ServiceError::UnknownPeer));
        }
        // This node's own id means this node: stored as 0, so that the
        // back-end stays local if the node id changes.
        let peer = if peer == me { 0 } else { peer };
        check_family(&vip, &addr).map_err(|e| service_error(info, e))?;
        let backend = BackendConf {
            addr,
            weight,
            peer,
            draining: false,
        };
        let service = find_service(&mut config.services, vip)
            .ok_or_else(|| service_error(info, ServiceError::NoService))?;
        check_backend_add(service.backends.iter(), &backend).map_err(|e| service_error(info, e))?;
        service.backends.push(backend, GFP_KERNEL)?;
        NetConfig::commit(config, baton.state(info).rt())
    }
}

/// Changes a back-end's weight in place: its connections go on, and
/// weight 0 drains it (no new connection, from the scheduler or a rule).
struct BackendSet;

impl Command<Baton> for BackendSet {
    fn doit(baton: &Baton, info: &Info<'_>) -> Result {
        let vip = service_endpoint(info, |_, _| Ok(()))?;
        let (mut weight, mut peer, mut drain) = (None, false, None);
        let addr = backend_endpoint(info, |ty, p| {
            match ty {
                backend_attr::WEIGHT => weight = Some(decode_u32(p).ok_or(EINVAL)?),
                backend_attr::PEER => peer = true,
                backend_attr::DRAIN => drain = Some(p.first() == Some(&1)),
                _ => {}
            }
            Ok(())
        })?;
        if peer {
            info.set_err_msg(
                c"a backend's peer cannot change: delete the backend and add it again",
                None,
            );
            return Err(EINVAL);
        }
        let mut config = baton.state(info).config().lock();
        let service = find_service(&mut config.services, vip)
            .ok_or_else(|| service_error(info, ServiceError::NoService))?;
        let backend = service
            .backends
            .iter_mut()
            .find(|b| b.addr == addr)
            .ok_or_else(|| service_error(info, ServiceError::NoBackend))?;
        let was = backend.draining;
        set_backend(backend, weight, drain).map_err(|e| service_error(info, e))?;
        let draining = backend.draining;
        NetConfig::commit(config, baton.state(info).rt())?;
        // After the published configuration says so: a handoff to it that
        // ends meanwhile marks its own flow (`front`). A weight change
        // alone walks no table.
        if draining != was {
            let node = baton.state(info).node();
            node.conns().mark_draining(vip, addr, draining);
        }
        Ok(())
    }
}

fn rule_error(info: &Info<'_>, e: RuleError) -> Error {
    info.set_err_msg(e.message(), None);
    match e {
        RuleError::TooMany => ENOSPC,
        RuleError::BadIndex => ERANGE,
        _ => EINVAL,
    }
}

/// A string attribute without its terminating NUL, if it has one.
fn unterminated(p: &[u8]) -> &[u8] {
    p.strip_suffix(&[0]).unwrap_or(p)
}

/// The fields of a request's `rule` nest.
#[derive(Default)]
struct RuleFields {
    index: Option<u32>,
    host: Option<KVec<u8>>,
    suffix: bool,
    path: Option<KVec<u8>>,
    addr: Option<Ip>,
    /// Both an IPv4 and an IPv6 back-end address.
    two: bool,
    port: Option<u16>,
}

fn rule_fields(info: &Info<'_>) -> Result<RuleFields> {
    let mut f = RuleFields::default();
    let copy = |p: &[u8]| -> Result<KVec<u8>> {
        let mut v = KVec::new();
        v.extend_from_slice(unterminated(p), GFP_KERNEL)?;
        Ok(v)
    };
    nest_fields(info, attr::RULE, |ty, p| {
        match ty {
            rule_attr::INDEX => f.index = Some(decode_u32(p).ok_or(EINVAL)?),
            rule_attr::HOST => f.host = Some(copy(p)?),
            rule_attr::HOST_SUFFIX => f.suffix = p.first() == Some(&1),
            rule_attr::PATH => f.path = Some(copy(p)?),
            rule_attr::BACKEND_ADDR => {
                f.two |= f
                    .addr
                    .replace(Ip::V4(p.try_into().map_err(|_| EINVAL)?))
                    .is_some()
            }
            rule_attr::BACKEND_ADDR6 => {
                f.two |= f
                    .addr
                    .replace(Ip::V6(p.try_into().map_err(|_| EINVAL)?))
                    .is_some()
            }
            rule_attr::BACKEND_PORT => f.port = Some(decode_u16(p).ok_or(EINVAL)?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(f)
}

struct RuleAdd;

impl Command<Baton> for RuleAdd {
    fn doit(baton: &Baton, info: &Info<'_>) -> Result {
        let vip = service_endpoint(info, |_, _| Ok(()))?;
        let f = rule_fields(info)?;
        let name_err = |e| rule_error(info, RuleError::Name(e));
        let host = match &f.host {
            Some(h) => Some((host_name(h).map_err(name_err)?, f.suffix)),
            None => None,
        };
        let path = match &f.path {
            Some(p) => Some(path_prefix(p).map_err(name_err)?),
            None => None,
        };
        if f.two {
            return Err(service_error(info, ServiceError::TwoAddrs));
        }
        let (Some(addr), Some(port)) = (f.addr, f.port) else {
            return Err(rule_error(info, RuleError::NoBackend));
        };
        let rule = RuleConf {
            host,
            path,
            backend: Endpoint { addr, port },
        };
        let mut config = baton.state(info).config().lock();
        let service = find_service(&mut config.services, vip)
            .ok_or_else(|| service_error(info, ServiceError::NoService))?;
        let index = f.index.map(|i| i as usize);
        check_rule_add(
            &rule,
            index,
            service.rules.len(),
            service.backends.iter().map(|b| &b.addr),
        )
        .map_err(|e| rule_error(info, e))?;
        let at = index.unwrap_or(service.rules.len());
        let mut rules = KVec::with_capacity(service.rules.len() + 1, GFP_KERNEL)?;
        for (i, r) in service.rules.iter().enumerate() {
            if i == at {
                rules.push(rule, GFP_KERNEL)?;
            }
            rules.push(*r, GFP_KERNEL)?;
        }
        if at == service.rules.len() {
            rules.push(rule, GFP_KERNEL)?;
        }
        service.rules = rules;
        NetConfig::commit(config, baton.state(info).rt())
    }
}

struct RuleDel;

impl Command<Baton> for RuleDel {
    fn doit(baton: &Baton, info: &Info<'_>) -> Result {
        let vip = service_endpoint(info, |_, _| Ok(()))?;
        let f = rule_fields(info)?;
        let mut config = baton.state(info).config().lock();
        let service = find_service(&mut config.services, vip)
            .ok_or_else(|| service_error(info, ServiceError::NoService))?;
        let index = f.index.map(|i| i as usize);
        let Some(at) = index.filter(|&i| i < service.rules.len()) else {
            return Err(rule_error(info, RuleError::BadIndex));
        };
        let mut rules = KVec::with_capacity(service.rules.len(), GFP_KERNEL)?;
        for (i, r) in service.rules.iter().enumerate() {
            if i != at {
                rules.push(*r, GFP_KERNEL)?;
            }
        }
        service.rules = rules;
        NetConfig::commit(config, baton.state(info).rt())
    }
}

struct BackendDel;

impl Command<Baton> for BackendDel {
    fn doit(baton: &Baton, info: &Info<'_>) -> Result {
        let vip = service_endpoint(info, |_, _| Ok(()))?;
        let addr = backend_endpoint(info, |_, _| Ok(()))?;
        let mut config = baton.state(info).config().lock();
        let service = find_service(&mut config.services, vip)
            .ok_or_else(|| service_error(info, ServiceError::NoService))?;
        if !service.backends.iter().any(|b| b.addr == addr) {
            return Err(service_error(info, ServiceError::NoBackend));
        }
        if service.rules.iter().any(|r| r.backend == addr) {
            info.set_err_msg(
                c"backend is the target of a rule: delete the rule first",
                None,
            );
            return Err(EBUSY);
        }
        let mut rest = KVec::with_capacity(service.backends.len(), GFP_KERNEL)?;
        for b in service.backends.iter().filter(|b| b.addr != addr) {
            rest.push(*b, GFP_KERNEL)?;
        }
        service.backends = rest;
        NetConfig::commit(config, baton.state(info).rt())
    }
}
