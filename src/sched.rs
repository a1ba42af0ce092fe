// SPDX-License-Identifier: GPL-2.0

//! Choosing a back-end: the configuration as the per-connection path sees
//! it ([`Published`], swapped whole by [`View::set`]), the scheduler state
//! of each service, and [`choose`] (content rules, then the scheduler).

use crate::{
    conn::Conns,
    proto::{
        config::Config,
        http,
        rules::{self, RuleConf},
        sched,
        service::{BackendConf, Endpoint, Ip, Scheduler, ServiceConf},
    },
    sys::rcuarc::RcuArc,
};
use kernel::{
    new_spinlock,
    prelude::*,
    sync::{Arc, SpinLock},
};

/// What the per-connection path (service workers, replays, the collector)
/// reads of the configuration: a copy published whole after every change
/// (`NetConfig::commit`) and read without the configuration mutex, which
/// is held while threads start. Readers borrow it under RCU, or take a
/// reference to keep it longer; the mutex's holder never waits for them.
pub(crate) struct Published {
    /// Scalar settings.
    pub(crate) base: Config,
    /// The services.
    pub(crate) services: KVec<Arc<ServiceView>>,
}

impl Published {
    fn empty(ctrl_port: u16) -> Result<Arc<Self>> {
        Ok(Arc::new(
            Self {
                base: Config::new(ctrl_port),
                services: KVec::new(),
            },
            GFP_KERNEL,
        )?)
    }

    /// The service of `vip`.
    pub(crate) fn service(&self, vip: &Endpoint<Ip>) -> Option<&ServiceView> {
        self.services
            .iter()
            .find(|s| s.conf.vip == *vip)
            .map(|s| &**s)
    }
}

/// A published service: its configuration and its scheduler's state.
#[pin_data]
pub(crate) struct ServiceView {
    /// Its configuration.
    pub(crate) conf: ServiceConf,
    /// Its back-ends, in the order added.
    pub(crate) backends: KVec<BackendConf>,
    /// Content rules, in order, but those whose back-end is drained
    /// (weight 0): a drained back-end takes no new connection, and the
    /// next rule or the scheduler chooses instead.
    pub(crate) rules: KVec<RuleConf>,
    /// What the round-robin schedulers remember between connections.
    #[pin]
    pub(crate) sched: SpinLock<SchedState>,
}

/// See [`ServiceView::sched`].
pub(crate) struct SchedState {
    /// Round-robin position.
    pub(crate) rr_cursor: usize,
    /// Smooth weighted round-robin state, one entry per back-end.
    pub(crate) wrr_current: KVec<i64>,
}

impl ServiceView {
    /// Whether its connections may move at each request: it dispatches
    /// each request and has rules to decide by.
    pub(crate) fn per_request(&self) -> bool {
        self.conf.per_request && !self.rules.is_empty()
    }

    /// Whether back-end `backend` drains ([`BackendConf::draining`]).
    pub(crate) fn draining(&self, backend: &Endpoint<Ip>) -> bool {
        self.backends
            .iter()
            .any(|b| b.addr == *backend && b.draining)
    }

    /// A copy of a service's configuration; the scheduler goes on from `prev`, the service's
    /// previous version (its weighted state only if the back-ends are
    /// the same).
    pub(crate) fn new(
        conf: ServiceConf,
        s_backends: &[BackendConf],
        s_rules: &[RuleConf],
        prev: Option<&ServiceView>,
    ) -> Result<Arc<Self>> {
        let mut backends = KVec::with_capacity(s_backends.len(), GFP_KERNEL)?;
        backends.extend_from_slice(s_backends, GFP_KERNEL)?;
        let mut rules = KVec::with_capacity(s_rules.len(), GFP_KERNEL)?;
        for r in s_rules {
            if s_backends
                .iter()
                .any(|b| b.addr == r.backend && b.weight > 0)
            {
                rules.push(*r, GFP_KERNEL)?;
            }
        }
        let mut wrr_current = KVec::from_elem(0i64, s_backends.len(), GFP_KERNEL)?;
        let mut rr_cursor = 0;
        if let Some(p) = prev {
            let st = p.sched.lock();
            rr_cursor = st.rr_cursor;
            if p.backends[..] == *s_backends && st.wrr_current.len() == wrr_current.len() {
                for (to, from) in wrr_current.iter_mut().zip(st.wrr_current.iter()) {
                    *to = *from;
                }
            }
        }
        Arc::pin_init(
            try_pin_init!(Self {
                conf,
                backends,
                rules,
                sched <- new_spinlock!(
                    SchedState {
                        rr_cursor,
                        wrr_current,
                    },
                    "baton_sched"
                ),
            }? Error),
            GFP_KERNEL,
        )
    }
}

/// Where the latest [`Published`] copy is. Read in the hooks too (a
/// request boundary's rules), under RCU: no lock, no shared counter.
#[pin_data]
pub(crate) struct View {
    current: RcuArc<Published>,
}

impl View {
    /// A view of the settings' defaults and no service.
    pub(crate) fn new(ctrl_port: u16) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            current: RcuArc::new(Published::empty(ctrl_port)?),
        }? Error)
    }

    /// The configuration as last published.
    pub(crate) fn get(&self) -> Arc<Published> {
        self.current.get()
    }

    /// Runs `f` on the configuration as last published, under RCU: `f`
    /// must not sleep.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&Published) -> R) -> R {
        self.current.with(f)
    }

    /// Publishes `new`; the old copy is released after a grace period.
    /// Process context.
    pub(crate) fn set(&self, new: Arc<Published>) {
        self.current.set(new)
    }
}

/// Picks a back-end of `service` for a client: the first content rule
/// that matches the request, else the service's scheduler over the
/// back-ends with a weight (also for bytes that are not an HTTP request).
/// Returns the back-end and its peer (0: this node, whose id is `me`).
pub(crate) fn choose(
    conns: &Conns,
    me: u32,
    service: &ServiceView,
    client: &Endpoint<Ip>,
    request: &[u8],
) -> Option<(Endpoint<Ip>, u32)> {
    let vip = &service.conf.vip;
    let local = |peer: u32| if peer == me { 0 } else { peer };
    if let Ok(req) = http::parse_request(request) {
        let target = rules::first_match(service.rules.iter().map(|r| (r.rule(), r.backend)), &req);
        if let Some(b) = target.and_then(|t| service.backends.iter().find(|b| b.addr == t)) {
            return Some((b.addr, local(b.peer)));
        }
    }
    let mut list = KVec::with_capacity(service.backends.len(), GFP_KERNEL).ok()?;
    for b in service.backends.iter() {
        let active = conns.active(*vip, b.addr);
        list.push(
            sched::Backend {
                id: sched::ip_endpoint_id(&b.addr),
                weight: b.weight,
                active,
            },
            GFP_KERNEL,
        )
        .ok()?;
    }
    let i = match service.conf.scheduler {
        Scheduler::Rr => sched::round_robin(&list, &mut service.sched.lock().rr_cursor),
        Scheduler::Wrr => sched::weighted_round_robin(&list, &mut service.sched.lock().wrr_current),
        Scheduler::Lc => sched::weighted_least_conn(&list),
        Scheduler::Sh => match &client.addr {
            Ip::V4(a) => sched::source_hash(&list, a),
            Ip::V6(a) => sched::source_hash(&list, a),
        },
    }?;
    let b = service.backends.get(i)?;
    Some((b.addr, local(b.peer)))
}

/// The first local back-end (peer 0 or this node, `me`) of `service` with
/// a weight, if any.
pub(crate) fn local_backend(me: u32, service: &ServiceView) -> Option<Endpoint<Ip>> {
    service
        .backends
        .iter()
        .find(|b| (b.peer == 0 || b.peer == me) && b.weight > 0)
        .map(|b| b.addr)
}
