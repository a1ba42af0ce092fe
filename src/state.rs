// SPDX-License-Identifier: GPL-2.0

//! Per-network-namespace state: the configuration, how a change of it is
//! published and followed by the threads, the wiring of the control
//! channel to the handoff's sides ([`Dispatch`]), and the netfilter hooks
//! with their packet counters. The top of the layers under netlink.

use crate::{
    back,
    conn::Fam,
    ctrl::{self, Dispatch},
    events, front, gc,
    migrate::Moves,
    node::Node,
    proto::{
        config::{Config, PeerConf},
        ctrl::{IdReason, Message},
        packet::{V4, V6},
        rules::RuleConf,
        service::{BackendConf, ServiceConf},
        uapi::Hook,
    },
    replay::Replays,
    replica,
    sched::{Published, ServiceView},
    sys::{
        crypto::Hmac,
        kthread::{self, Thread},
        netfilter::{self, HookSpec, InetHook, IpFamily, SkBuff, Verdict},
        netns::{self, NetId, NetPtr},
        param,
        percpu::Counters,
    },
    teardown,
    utcp::{self, Utcp},
};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{
        lock::{mutex::MutexBackend, Guard},
        Arc, Mutex,
    },
};

/// Hook priority: after conntrack defragmentation and before NAT, as IPVS
/// sits (`NF_IP_PRI_NAT_DST - 1`).
const PRIORITY: i32 = -101;

static NET_ID: NetId = NetId::new();

/// The configuration of a namespace, changed only under its lock.
pub(crate) struct NetConfig {
    /// Scalar settings (`config-set`).
    pub(crate) base: Config,
    /// Peers (`peer-add`, `peer-del`), at most `MAX_PEERS`.
    pub(crate) peers: KVec<PeerConf>,
    /// The other members of this node's front-end group (`cluster-add`,
    /// `cluster-del`), peers all, in the order added.
    pub(crate) members: KVec<u32>,
    /// Services (`service-add`, ...), at most `MAX_SERVICES`.
    pub(crate) services: KVec<Service>,
    /// The key that authenticates the control channel (`config-set key`),
    /// as an HMAC transform: the key bytes themselves are not kept.
    pub(crate) key: Option<Arc<Hmac>>,
}

/// A service and its back-ends, as configured.
pub(crate) struct Service {
    /// Its configuration.
    pub(crate) conf: ServiceConf,
    /// Its back-ends, at most `MAX_BACKENDS`, in the order added.
    pub(crate) backends: KVec<BackendConf>,
    /// Content rules, in order, at most `MAX_RULES`.
    pub(crate) rules: KVec<RuleConf>,
}

impl NetConfig {
    /// Ends a change: publishes the configuration to the per-connection
    /// path, makes the threads follow it (the control channel and the
    /// service listeners) while the lock keeps concurrent changes in order,
    /// then releases the lock and only then joins the threads that stopped.
    /// A stopping thread may be finishing a connection, and nothing a
    /// thread waits for is held while it is joined.
    pub(crate) fn commit(this: Guard<'_, NetConfig, MutexBackend>, rt: &Arc<Runtime>) -> Result {
        let mut stopped_ctrl = ctrl::Stopped::default();
        let mut stopped_utcp = utcp::Stopped::default();
        let dispatch: Arc<dyn Dispatch> = rt.clone();
        let res = this.publish(&rt.node).and_then(|()| {
            rt.node.ctrl().reconcile(
                &dispatch,
                this.base.node_id,
                this.base.ctrl_port,
                &this.peers,
                this.key.as_ref(),
                &mut stopped_ctrl,
            )?;
            let view = rt.node.group().configure(
                rt.node.ctrl(),
                this.base.node_id,
                &this.members,
                rt.node.tables(),
            )?;
            match view {
                Some(view) => replica::view_changed(&rt.node, &view),
                None if !rt.node.group().has_view() => replica::no_group(&rt.node),
                None => {}
            }
            let vips = this.services.iter().map(|s| s.conf.vip);
            rt.utcp.reconcile(&rt.node, vips, &mut stopped_utcp)
        });
        drop(this);
        drop(stopped_ctrl);
        drop(stopped_utcp);
        res
    }

    fn publish(&self, node: &Node) -> Result {
        let old = node.published();
        let mut services = KVec::with_capacity(self.services.len(), GFP_KERNEL)?;
        for s in self.services.iter() {
            let prev = old.service(&s.conf.vip);
            services.push(
                ServiceView::new(s.conf, &s.backends, &s.rules, prev)?,
                GFP_KERNEL,
            )?;
        }
        let new = Arc::new(
            Published {
                base: self.base,
                services,
            },
            GFP_KERNEL,
        )?;
        node.publish(new);
        Ok(())
    }
}

/// A namespace's configuration and the threads that follow it, over its
/// handoff machinery ([`Node`]).
///
/// It owns every thread of the namespace. The replay, service and
/// collector threads hold the node only; the control channel's threads
/// hold this runtime (as their [`Dispatch`]), a reference that
/// [`Runtime::shutdown`] ends by stopping them.
#[pin_data]
pub(crate) struct Runtime {
    node: Arc<Node>,
    #[pin]
    config: Mutex<NetConfig>,
    /// Connections moving to another back-end at a request boundary.
    #[pin]
    moves: Moves,
    /// The back-end's replays of peers' handoffs.
    #[pin]
    replays: Replays,
    /// The service listeners.
    #[pin]
    utcp: Utcp,
    #[pin]
    gc: Mutex<Option<Thread<Node>>>,
}

impl Runtime {
    fn start(self: &Arc<Self>) -> Result {
        self.moves.start()?;
        let t = Thread::spawn(c"baton-gc", self.node.clone(), gc::gc_main)?;
        *self.gc.lock() = Some(t);
        Ok(())
    }

    /// Stops every thread (which drops their references) and forgets the
    /// connections.
    fn shutdown(self: &Arc<Self>) {
        let gc = self.gc.lock().take();
        drop(gc);
        let mut stopped = utcp::Stopped::default();
        if let Err(e) = self
            .utcp
            .reconcile(&self.node, core::iter::empty(), &mut stopped)
        {
            pr_err!("stopping the service listeners: {:?}\n", e);
        }
        drop(stopped);
        // Before the channels: the requests it refuses get their NACKs.
        self.replays.stop();
        self.moves.stop();
        let mut stopped = ctrl::Stopped::default();
        let dispatch: Arc<dyn Dispatch> = self.clone();
        if let Err(e) = self
            .node
            .ctrl()
            .reconcile(&dispatch, 0, 0, &[], None, &mut stopped)
        {
            pr_err!("stopping the control channel: {:?}\n", e);
        }
        drop(dispatch);
        drop(stopped);
        self.node.replies().clear();
    }
}

impl Runtime {
    /// Answers MOVE_REQ `id` of front-end `from`: MOVE_ACK with the bytes
    /// that go with the connection (sent here: they are borrowed), or
    /// MOVE_NACK.
    fn released(&self, from: u32, id: u64, r: back::Released) -> Option<Message<'static>> {
        match r {
            Ok((ack, data)) => {
                // Not sent (the channel went down meanwhile): the
                // front-end's wait ends, and so does the connection.
                let _ = self.node.ctrl().send(from, &Message::MoveAck(ack, &data));
                None
            }
            Err(reason) => Some(Message::MoveNack(IdReason { id, reason })),
        }
    }

    /// A member's channel came or went: the group's view follows, and the
    /// copies follow the view.
    fn view_may_change(&self) {
        let node = &self.node;
        if let Some(view) = node.group().refresh(node.ctrl(), node.tables()) {
            replica::view_changed(node, &view);
        }
    }
}

/// What the control channel carries, to the handoff's sides.
impl Dispatch for Runtime {
    fn message(&self, from: u32, m: &Message<'_>) -> Option<Message<'static>> {
        match m {
            // Replayed by the pool: the channel's thread only reads and
            // writes frames.
            Message::HandoffReq(req) => self.replays.submit(from, req).err().map(|why| {
                Message::HandoffNack(IdReason {
                    id: req.id,
                    reason: why,
                })
            }),
            Message::HandoffReq6(req) => self.replays.submit(from, req).err().map(|why| {
                Message::HandoffNack(IdReason {
                    id: req.id,
                    reason: why,
                })
            }),
            Message::HandoffAck(_) | Message::HandoffNack(_) => {
                front::reply(&self.node, from, m);
                None
            }
            // Quick and without a wait: on the channel's thread.
            Message::MoveReq(req) => {
                self.released(from, req.id, back::release(&self.node, from, req))
            }
            Message::MoveReq6(req) => {
                self.released(from, req.id, back::release(&self.node, from, req))
            }
            Message::MoveAck(..) | Message::MoveNack(_) => {
                self.moves.reply(from, m);
                None
            }
            Message::ConnEnd(end) => {
                front::conn_end(&self.node, from, end);
                None
            }
            Message::View(gv) => {
                if self.node.group().heard(from, gv) {
                    replica::resend(&self.node);
                }
                None
            }
            Message::Replica(r) => {
                replica::keep(&self.node, from, r);
                None
            }
            Message::Replica6(r) => {
                replica::keep(&self.node, from, r);
                None
            }
            Message::ReplicaEnd(e) => {
                replica::ended(&self.node, from, e);
                None
            }
            Message::ReplicaEnd6(e) => {
                replica::ended(&self.node, from, e);
                None
            }
            Message::Takeover(t) => replica::taken_over(&self.node, from, t),
            Message::Takeover6(t) => replica::taken_over(&self.node, from, t),
            Message::Synced(epoch) => {
                self.node.group().synced(from, *epoch);
                None
            }
            Message::HandoffCopy(c) => replica::keep_handoff(&self.node, from, c),
            Message::HandoffCopy6(c) => replica::keep_handoff(&self.node, from, c),
            Message::CopyAck(id) => {
                front::copied(&self.node, from, *id);
                None
            }
            Message::Hello(_) | Message::Auth | Message::Heartbeat(_) => None,
        }
    }

    fn peer_up(&self, peer: u32) {
        events::peer(self.node.net(), peer, true);
        self.view_may_change();
    }

    fn peer_down(&self, peer: u32) {
        events::peer(self.node.net(), peer, false);
        front::peer_down(&self.node, peer);
        self.view_may_change();
    }

    fn announcement(&self, peer: u32) -> Option<Message<'static>> {
        let node = &self.node;
        node.group().announcement(peer, node.tables())
    }

    fn peer_restarted(&self, peer: u32, keepalive: &dyn Fn()) {
        teardown::peer_restarted(&self.node, peer, keepalive);
    }

    fn heartbeat_timeout_ms(&self) -> u64 {
        // A setting, read as it is now.
        u64::from(self.node.published().base.heartbeat_timeout_ms)
    }

    fn heard(&self, peer: u32) {
        self.node.conns().relay().heard(peer);
    }

    fn member(&self, peer: u32) -> bool {
        self.node.conns().relay().is_member(peer)
    }
}

/// What baton keeps in each network namespace.
#[pin_data(PinnedDrop)]
pub(crate) struct NetState {
    rt: Arc<Runtime>,
    /// IPv4's counters, then IPv6's: each family's own, so that an IPv6
    /// link's own traffic (neighbour discovery, router solicitations) does
    /// not blur IPv4's.
    packets: Counters<{ 2 * Hook::ALL.len() }>,
}

impl NetState {
    /// The namespace's configuration.
    pub(crate) fn config(&self) -> &Mutex<NetConfig> {
        &self.rt.config
    }

    /// The namespace's handoff machinery.
    pub(crate) fn node(&self) -> &Node {
        &self.rt.node
    }

    /// The namespace's runtime.
    pub(crate) fn rt(&self) -> &Arc<Runtime> {
        &self.rt
    }

    /// Packets of `family` seen at `hook` since the namespace (or the
    /// module) started.
    pub(crate) fn packets(&self, family: IpFamily, hook: Hook) -> u64 {
        self.packets.sum(counter(family, hook))
    }
}

#[pinned_drop]
impl PinnedDrop for NetState {
    fn drop(self: Pin<&mut Self>) {
        self.rt.shutdown();
    }
}

impl netns::NetState for NetState {
    fn id() -> &'static NetId {
        &NET_ID
    }

    fn pre_exit(&self) {
        teardown::going_away(&self.rt.node);
    }

    fn init(net: NetPtr) -> impl PinInit<Self, Error> {
        let node = Arc::pin_init(
            Node::new(
                net,
                boot_id(),
                param::ctrl_port(),
                param::conn_tab_bits(),
                param::conn_max() as usize,
            ),
            GFP_KERNEL,
        );
        let rt = node.and_then(|node| {
            Arc::pin_init(
                try_pin_init!(Runtime {
                    config <- new_mutex!(
                        NetConfig {
                            base: Config::new(param::ctrl_port()),
                            peers: KVec::new(),
                            members: KVec::new(),
                            services: KVec::new(),
                            key: None,
                        },
                        "baton_config"
                    ),
                    moves <- Moves::new(node.clone()),
                    replays <- Replays::new(node.clone()),
                    utcp <- Utcp::new(),
                    gc <- new_mutex!(None, "baton_gc"),
                    node,
                }? Error),
                GFP_KERNEL,
            )
        });
        let packets = Counters::new();
        let rt = rt.and_then(|rt| {
            // Before the first thread starts: a failure leaves none to stop.
            packets.as_ref().map_err(|e| *e)?;
            rt.start()?;
            Ok(rt)
        });
        try_pin_init!(Self {
            rt: rt?,
            packets: packets?,
        }? Error)
    }
}

/// A random boot id, never 0.
fn boot_id() -> u64 {
    let id = (u64::from(kthread::random_u32()) << 32) | u64::from(kthread::random_u32());
    id.max(1)
}

/// The index of `family`'s counter of `hook`.
fn counter(family: IpFamily, hook: Hook) -> usize {
    match family {
        IpFamily::V4 => hook.index(),
        IpFamily::V6 => Hook::ALL.len() + hook.index(),
    }
}

fn to_hook(hook: InetHook) -> Option<Hook> {
    match hook {
        InetHook::PreRouting => Some(Hook::PreRouting),
        InetHook::LocalIn => Some(Hook::LocalIn),
        InetHook::LocalOut => Some(Hook::LocalOut),
        InetHook::PostRouting => Some(Hook::PostRouting),
        InetHook::Forward => None,
    }
}

impl NetState {
    /// A packet of family `F` from a client; one at a request boundary may
    /// move its connection.
    fn pre_routing<F: Fam>(&self, skb: &mut SkBuff) -> Verdict {
        let node = &self.rt.node;
        let now = kthread::now_ms();
        let moves = &self.rt.moves;
        match node
            .conns()
            .pre_routing::<F, _>(node.net(), skb, now, |skb, b| moves.target(skb, b))
        {
            Ok(v) => v,
            Err((b, target)) => moves.boundary(skb, b, target, now),
        }
    }
}

impl netfilter::Hook for NetState {
    const HOOKS: &'static [HookSpec] = &[
        HookSpec {
            hook: InetHook::PreRouting,
            priority: PRIORITY,
        },
        HookSpec {
            hook: InetHook::LocalIn,
            priority: PRIORITY,
        },
        HookSpec {
            hook: InetHook::LocalOut,
            priority: PRIORITY,
        },
        HookSpec {
            hook: InetHook::PostRouting,
            priority: PRIORITY,
        },
    ];

    fn hook(&self, hook: InetHook, family: IpFamily, skb: &mut SkBuff) -> Verdict {
        if let Some(h) = to_hook(hook) {
            self.packets.inc(counter(family, h));
        }
        let node = &self.rt.node;
        match (hook, family) {
            (InetHook::PreRouting, IpFamily::V4) => self.pre_routing::<V4>(skb),
            (InetHook::PreRouting, IpFamily::V6) => self.pre_routing::<V6>(skb),
            (InetHook::PostRouting, IpFamily::V4) => {
                node.conns().post_routing::<V4>(node.net(), skb)
            }
            (InetHook::PostRouting, IpFamily::V6) => {
                node.conns().post_routing::<V6>(node.net(), skb)
            }
            _ => Verdict::Accept,
        }
    }
}
