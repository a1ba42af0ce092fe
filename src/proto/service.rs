// SPDX-License-Identifier: GPL-2.0

//! Services (VIP:port) and their back-ends: the objects `service-add` and
//! `backend-add` create, and the checks every change passes before it is
//! applied (the role of IPVS's `ip_vs_ctl.c` checks).

use super::packet::{V4, V6};
use core::{ffi::CStr, fmt};

/// Largest number of services of one namespace.
pub const MAX_SERVICES: usize = 64;
/// Largest number of back-ends of one service.
pub const MAX_BACKENDS: usize = 256;
/// Largest weight of a back-end (as IPVS).
pub const MAX_WEIGHT: u32 = 65535;

/// A scheduler (`scheduler` enum of the netlink spec).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheduler {
    /// Round robin.
    Rr = 0,
    /// Smooth weighted round robin.
    Wrr = 1,
    /// Weighted least connections.
    Lc = 2,
    /// Source hash.
    Sh = 3,
}

impl Scheduler {
    /// All schedulers, in spec order.
    pub const ALL: [Scheduler; 4] = [Scheduler::Rr, Scheduler::Wrr, Scheduler::Lc, Scheduler::Sh];

    /// The scheduler of netlink value `v`.
    pub fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|s| *s as u8 == v)
    }

    /// The name in the spec and the CLI.
    pub const fn name(self) -> &'static str {
        match self {
            Scheduler::Rr => "rr",
            Scheduler::Wrr => "wrr",
            Scheduler::Lc => "lc",
            Scheduler::Sh => "sh",
        }
    }
}

/// An address and port (address in wire order): IPv4 unless said
/// otherwise (a [`Family`](super::packet::Family), or [`Ip`] where either family may come).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Endpoint<A = V4> {
    /// Address, `a.b.c.d` is `[a, b, c, d]`.
    pub addr: A,
    /// Port.
    pub port: u16,
}

/// An address of either family, where the configuration or a socket may
/// hold either (a peer's control address).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ip {
    /// IPv4.
    V4(V4),
    /// IPv6, never an IPv4-mapped one ([`Ip::from_v6`]).
    V6(V6),
}

impl Ip {
    /// The address of IPv6 address `a`: an IPv4-mapped one
    /// (`::ffff:a.b.c.d`, what a dual-stack socket reports for an IPv4
    /// peer) is the IPv4 address it maps.
    pub fn from_v6(a: V6) -> Self {
        match a {
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, b0, b1, b2, b3] => Ip::V4([b0, b1, b2, b3]),
            _ => Ip::V6(a),
        }
    }

    /// The IPv4 address, if it is one.
    pub fn v4(self) -> Option<V4> {
        match self {
            Ip::V4(a) => Some(a),
            Ip::V6(_) => None,
        }
    }
}

/// `0.0.0.0`, as an address not given.
impl Default for Ip {
    fn default() -> Self {
        Ip::V4([0; 4])
    }
}

impl From<V4> for Ip {
    fn from(a: V4) -> Self {
        Ip::V4(a)
    }
}

impl Endpoint<Ip> {
    /// The IPv4 endpoint, if it is one.
    pub fn v4(self) -> Option<Endpoint> {
        Some(Endpoint {
            addr: self.addr.v4()?,
            port: self.port,
        })
    }
}

/// An IPv4-mapped address is the IPv4 address it maps ([`Ip::from_v6`]).
impl From<V6> for Ip {
    fn from(a: V6) -> Self {
        Ip::from_v6(a)
    }
}

impl From<Endpoint<V6>> for Endpoint<Ip> {
    fn from(e: Endpoint<V6>) -> Self {
        Endpoint {
            addr: e.addr.into(),
            port: e.port,
        }
    }
}

impl From<Endpoint> for Endpoint<Ip> {
    fn from(e: Endpoint) -> Self {
        Endpoint {
            addr: Ip::V4(e.addr),
            port: e.port,
        }
    }
}

/// `a.b.c.d`.
fn fmt_v4(a: &V4, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

/// The text form of RFC 5952: lower-case hexadecimal groups without
/// leading zeros, the longest run of two or more zero groups (the first of
/// equal runs) as `::`, an IPv4-mapped address as `::ffff:a.b.c.d`.
fn fmt_v6(a: &V6, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if let Ip::V4(v4) = Ip::from_v6(*a) {
        f.write_str("::ffff:")?;
        return fmt_v4(&v4, f);
    }
    let groups: [u16; 8] = core::array::from_fn(|i| u16::from_be_bytes([a[2 * i], a[2 * i + 1]]));
    // The longest run of zero groups: (start, length).
    let (mut best, mut run) = ((0, 0), (0, 0));
    for (i, &g) in groups.iter().enumerate() {
        if g == 0 {
            run = if run.1 == 0 {
                (i, 1)
            } else {
                (run.0, run.1 + 1)
            };
            if run.1 > best.1 {
                best = run;
            }
        } else {
            run = (0, 0);
        }
    }
    let write_groups = |f: &mut fmt::Formatter<'_>, gs: &[u16]| -> fmt::Result {
        for (i, g) in gs.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{g:x}")?;
        }
        Ok(())
    };
    if best.1 < 2 {
        return write_groups(f, &groups);
    }
    write_groups(f, &groups[..best.0])?;
    f.write_str("::")?;
    write_groups(f, &groups[best.0 + best.1..])
}

/// `a.b.c.d:port`.
impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_v4(&self.addr, f)?;
        write!(f, ":{}", self.port)
    }
}

impl fmt::Display for Ip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ip::V4(a) => fmt_v4(a, f),
            Ip::V6(a) => fmt_v6(a, f),
        }
    }
}

/// `a.b.c.d:port`, `[v6]:port` (as `ip` and URLs write them).
impl fmt::Display for Endpoint<Ip> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            Ip::V4(_) => write!(f, "{}:{}", self.addr, self.port),
            Ip::V6(_) => write!(f, "[{}]:{}", self.addr, self.port),
        }
    }
}

/// Why an address cannot be a service's, a back-end's or a peer's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddrError {
    /// Not a unicast IPv4 address: 0.0.0.0/8, loopback, multicast,
    /// reserved, broadcast.
    V4,
    /// Not a unicast IPv6 address: unspecified, loopback, multicast.
    V6,
    /// Link-local: it would need an interface.
    LinkLocal,
    /// IPv4-mapped: the IPv4 address is the one meant.
    Mapped,
}

/// Checks that another node, or this one, can have `addr` as a unicast
/// address reachable without naming an interface.
pub fn check_unicast(addr: Ip) -> Result<(), AddrError> {
    match addr {
        Ip::V4([a, ..]) if a == 0 || a == 127 || a >= 224 => Err(AddrError::V4),
        Ip::V4(_) => Ok(()),
        Ip::V6(a) => {
            if Ip::from_v6(a) != Ip::V6(a) {
                return Err(AddrError::Mapped);
            }
            if a[0] == 0xfe && a[1] & 0xc0 == 0x80 {
                return Err(AddrError::LinkLocal);
            }
            let unspecified_or_loopback = a[..15] == [0; 15] && a[15] <= 1;
            // Multicast is ff00::/8.
            if unspecified_or_loopback || a[0] == 0xff {
                return Err(AddrError::V6);
            }
            Ok(())
        }
    }
}

/// A service as configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceConf {
    /// The virtual address and port clients connect to.
    pub vip: Endpoint<Ip>,
    /// How back-ends are chosen when no rule decides.
    pub scheduler: Scheduler,
    /// Most connections of the service handed off at once from this node
    /// (front-end flows); 0: only the table's limit.
    pub max_conns: u32,
    /// The content rules decide every request of a kept-alive connection,
    /// not only its first (`dispatch request`): a request whose rule names
    /// another back-end moves the connection there.
    pub per_request: bool,
}

/// A back-end of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackendConf {
    /// The server's own address and port, of its service's family.
    pub addr: Endpoint<Ip>,
    /// Relative capacity, 0 (drained) to [`MAX_WEIGHT`].
    pub weight: u32,
    /// The peer node that serves it; 0 = this node.
    pub peer: u32,
    /// Drained for maintenance (weight 0): its kept-alive connections move
    /// to the other back-ends at their next request boundary.
    pub draining: bool,
}

/// Why a service or back-end change was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceError {
    /// A request without the object's address and port.
    Missing,
    /// Not a unicast IPv4 address.
    BadAddr,
    /// Not a unicast IPv6 address.
    BadAddr6,
    /// A link-local address.
    LinkLocal,
    /// An IPv4-mapped address.
    Mapped,
    /// Both an IPv4 and an IPv6 address.
    TwoAddrs,
    /// A back-end of another family than its service's.
    Family,
    /// Port 0.
    ZeroPort,
    /// Unknown scheduler value.
    BadScheduler,
    /// A change of a back-end without its weight or drain.
    NoWeight,
    /// A drain with a weight above 0.
    DrainWeight,
    /// A drain asked of a back-end being added.
    DrainOnAdd,
    /// Weight above [`MAX_WEIGHT`].
    BadWeight,
    /// The service exists.
    ServiceExists,
    /// No such service.
    NoService,
    /// The back-end exists in this service.
    BackendExists,
    /// No such back-end in this service.
    NoBackend,
    /// [`MAX_SERVICES`] reached.
    TooManyServices,
    /// [`MAX_BACKENDS`] reached.
    TooManyBackends,
    /// The back-end's peer is neither this node nor a configured peer.
    UnknownPeer,
}

impl ServiceError {
    /// The message returned to the user (netlink extack).
    pub const fn message(self) -> &'static CStr {
        match self {
            ServiceError::Missing => c"service and backend need addr and port",
            ServiceError::BadAddr => c"addr must be a unicast IPv4 address",
            ServiceError::BadAddr6 => c"addr6 must be a unicast IPv6 address",
            ServiceError::LinkLocal => c"a link-local address needs an interface, not supported",
            ServiceError::Mapped => c"an IPv4-mapped address: give the IPv4 address as addr",
            ServiceError::TwoAddrs => c"service needs one address: addr or addr6",
            ServiceError::Family => c"backend must be of the service's address family",
            ServiceError::ZeroPort => c"port must be between 1 and 65535",
            ServiceError::BadScheduler => c"unknown scheduler",
            ServiceError::NoWeight => c"backend set needs weight or drain",
            ServiceError::DrainWeight => c"a draining backend's weight is 0",
            ServiceError::DrainOnAdd => {
                c"drain applies to a backend's connections: add it, then backend set"
            }
            ServiceError::BadWeight => c"weight must be between 0 and 65535",
            ServiceError::ServiceExists => c"service exists",
            ServiceError::NoService => c"service not found",
            ServiceError::BackendExists => c"backend exists in this service",
            ServiceError::NoBackend => c"backend not found in this service",
            ServiceError::TooManyServices => c"too many services (64 at most)",
            ServiceError::TooManyBackends => c"too many backends in this service (256 at most)",
            ServiceError::UnknownPeer => c"backend peer is not a configured peer",
        }
    }
}

/// Checks an address and port that a service or back-end can have.
pub fn check_endpoint(e: &Endpoint<Ip>) -> Result<(), ServiceError> {
    check_unicast(e.addr).map_err(|e| match e {
        AddrError::V4 => ServiceError::BadAddr,
        AddrError::V6 => ServiceError::BadAddr6,
        AddrError::LinkLocal => ServiceError::LinkLocal,
        AddrError::Mapped => ServiceError::Mapped,
    })?;
    if e.port == 0 {
        return Err(ServiceError::ZeroPort);
    }
    Ok(())
}

/// Checks that `new` can join `existing` services.
pub fn check_service_add<'a>(
    existing: impl ExactSizeIterator<Item = &'a ServiceConf>,
    new: &ServiceConf,
) -> Result<(), ServiceError> {
    check_endpoint(&new.vip)?;
    let n = existing.len();
    let mut existing = existing;
    if existing.any(|s| s.vip == new.vip) {
        return Err(ServiceError::ServiceExists);
    }
    if n >= MAX_SERVICES {
        return Err(ServiceError::TooManyServices);
    }
    Ok(())
}

/// Checks that a back-end at `backend` can serve service `vip`: the same
/// family (the handoff replays the client's own addresses there).
pub fn check_family(vip: &Endpoint<Ip>, backend: &Endpoint<Ip>) -> Result<(), ServiceError> {
    match (vip.addr, backend.addr) {
        (Ip::V4(_), Ip::V4(_)) | (Ip::V6(_), Ip::V6(_)) => Ok(()),
        _ => Err(ServiceError::Family),
    }
}

/// Checks a back-end's weight.
pub fn check_weight(weight: u32) -> Result<(), ServiceError> {
    if weight > MAX_WEIGHT {
        return Err(ServiceError::BadWeight);
    }
    Ok(())
}

/// Applies a `backend-set` request to `b`: its `weight` and `drain`, each
/// if given. A drain sets the weight to 0 (no new connection) and moves the
/// back-end's kept-alive connections; a weight above 0 ends a drain, and
/// `drain` 0 ends it keeping the weight (unless one is given).
pub fn set_backend(
    b: &mut BackendConf,
    weight: Option<u32>,
    drain: Option<bool>,
) -> Result<(), ServiceError> {
    if let Some(w) = weight {
        check_weight(w)?;
    }
    match (weight, drain) {
        (None, None) => return Err(ServiceError::NoWeight),
        (Some(w), Some(true)) if w > 0 => return Err(ServiceError::DrainWeight),
        (_, Some(true)) => {
            b.weight = 0;
            b.draining = true;
        }
        (w, Some(false)) => {
            b.weight = w.unwrap_or(b.weight);
            b.draining = false;
        }
        (Some(w), None) => {
            b.weight = w;
            b.draining &= w == 0;
        }
    }
    Ok(())
}

/// Checks that `new` can join a service's `existing` back-ends.
pub fn check_backend_add<'a>(
    existing: impl ExactSizeIterator<Item = &'a BackendConf>,
    new: &BackendConf,
) -> Result<(), ServiceError> {
    check_endpoint(&new.addr)?;
    check_weight(new.weight)?;
    let n = existing.len();
    let mut existing = existing;
    if existing.any(|b| b.addr == new.addr) {
        return Err(ServiceError::BackendExists);
    }
    if n >= MAX_BACKENDS {
        return Err(ServiceError::TooManyBackends);
    }
    Ok(())
}
