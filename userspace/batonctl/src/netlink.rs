// SPDX-License-Identifier: GPL-2.0

//! The conversation with the kernel: a generic netlink socket, the lookup of
//! a family through nlctrl, and one request (or dump) at a time.

use std::{ffi::CStr, io};

use baton_proto::{
    config::ConfigUpdate,
    uapi::{cmd, FAMILY_NAME, FAMILY_VERSION, MCGRP_EVENTS},
};
use neli::{
    consts::{
        nl::{GenlId, NlmF, Nlmsg},
        socket::NlFamily,
    },
    err::SocketError,
    nl::NlPayload,
    socket::synchronous::NlSocketHandle,
    utils::Groups,
};

use crate::{
    cli::{BackendSpec, ConnFilter, PeerSpec, RuleSpec, ServiceSpec},
    error::Error,
    msg::{self, ConfigReply, Genl, Message},
    output::{Cluster, Conns, Event, Peer, Service, Stats, Status},
};

impl From<SocketError> for Error {
    fn from(e: SocketError) -> Self {
        Error::Socket(e.to_string())
    }
}

/// A generic netlink socket with extended ACKs on.
pub struct Conn {
    socket: NlSocketHandle,
    seq: u32,
}

impl Conn {
    /// Opens the socket and turns on `NETLINK_EXT_ACK`.
    pub fn open() -> Result<Self, Error> {
        let socket = NlSocketHandle::connect(NlFamily::Generic, None, Groups::empty())?;
        socket.enable_ext_ack(true)?;
        Ok(Conn { socket, seq: 0 })
    }

    /// The id of the generic netlink family `name`. nlctrl answers ENOENT
    /// when there is no such family.
    pub fn resolve(&mut self, name: &CStr) -> Result<u16, Error> {
        let reply = self.request(GenlId::Ctrl.into(), NlmF::empty(), msg::get_family(name)?)?;
        msg::parse_family_id(&reply)
    }

    /// Sends `genl` to `family` and returns the reply.
    pub fn request(&mut self, family: u16, flags: NlmF, genl: Genl) -> Result<Genl, Error> {
        self.transact(family, flags, genl)?
            .ok_or_else(|| Error::Malformed("no reply".into()))
    }

    /// Sends one request and receives until its reply, or with `NLM_F_ACK`
    /// until its ACK, or its error. Returns the reply, if there was one before
    /// the ACK. Messages with other sequence numbers are skipped.
    pub fn transact(
        &mut self,
        family: u16,
        flags: NlmF,
        genl: Genl,
    ) -> Result<Option<Genl>, Error> {
        let seq = self.send(family, flags, genl)?;
        let wants_ack = flags.contains(NlmF::ACK);
        let mut reply = None;
        self.answer(seq, |message| {
            Ok(match message.nl_payload() {
                NlPayload::Ack(_) => Some(reply.take()),
                NlPayload::Payload(genl) if !wants_ack => Some(Some(genl.clone())),
                NlPayload::Payload(genl) => {
                    reply = Some(genl.clone());
                    None
                }
                NlPayload::Err(_) | NlPayload::DumpExtAck(_) | NlPayload::Empty => None,
            })
        })
    }

    /// Sends `genl` to `family` as a dump request and calls `f` on every
    /// message of the answer, until its `NLMSG_DONE`. Returns whether the
    /// kernel marked the dump interrupted (`NLM_F_DUMP_INTR` on a message or
    /// the `NLMSG_DONE`): the table changed in a way the listing may show.
    pub fn dump(
        &mut self,
        family: u16,
        genl: Genl,
        mut f: impl FnMut(&Genl) -> Result<(), Error>,
    ) -> Result<bool, Error> {
        let seq = self.send(family, NlmF::DUMP, genl)?;
        let mut interrupted = false;
        self.answer(seq, |message| {
            interrupted |= message.nl_flags().contains(NlmF::DUMP_INTR);
            match message.nl_payload() {
                NlPayload::DumpExtAck(done) if *done.error() != 0 => {
                    Err(msg::kernel_error(*done.error(), done.ext_ack()))
                }
                NlPayload::DumpExtAck(_) => Ok(Some(interrupted)),
                _ if *message.nl_type() == u16::from(Nlmsg::Done) => Ok(Some(interrupted)),
                NlPayload::Payload(genl) => f(genl).map(|()| None),
                NlPayload::Ack(_) | NlPayload::Err(_) | NlPayload::Empty => Ok(None),
            }
        })
    }

    /// Sends `genl` to `family` with `flags`; returns its sequence number.
    fn send(&mut self, family: u16, flags: NlmF, genl: Genl) -> Result<u32, Error> {
        self.seq = self.seq.wrapping_add(1);
        let request = msg::request(family, flags, self.seq, self.socket.pid(), genl)?;
        self.socket.send(&request)?;
        Ok(self.seq)
    }

    /// Receives the answer to request `seq`: `f` sees each of its messages
    /// until it returns a value; an error message ends it with the error.
    fn answer<T>(
        &mut self,
        seq: u32,
        mut f: impl FnMut(&Message) -> Result<Option<T>, Error>,
    ) -> Result<T, Error> {
        loop {
            let (messages, _) = self.socket.recv::<u16, Genl>()?;
            for message in messages {
                let mut message = message?;
                if *message.nl_seq() != seq {
                    continue;
                }
                if let Some(err) = message.get_err() {
                    return Err(msg::kernel_error(*err.error(), err.ext_ack()));
                }
                if let Some(v) = f(&message)? {
                    return Ok(v);
                }
            }
        }
    }
}

/// How many times `conn list` dumps a table that changed under it before
/// it shows what it has with a warning.
const DUMP_TRIES: usize = 3;

/// `ENOBUFS`: a receive that found the socket overrun.
const ENOBUFS: i32 = 105;

/// `EOPNOTSUPP`: a module without the `conn-get` dump.
const EOPNOTSUPP: i32 = 95;

/// The connections of a dump that `once` makes: it fills the list and
/// says whether the kernel marked the dump interrupted; then it is made
/// again, [`DUMP_TRIES`] times in all, and the last is kept.
fn read_dump(
    mut once: impl FnMut(&mut Vec<crate::output::Conn>) -> Result<bool, Error>,
) -> Result<Conns, Error> {
    let mut list = Vec::new();
    let mut tries = 0;
    loop {
        tries += 1;
        list.clear();
        let interrupted = once(&mut list)?;
        if !interrupted || tries >= DUMP_TRIES {
            return Ok(Conns {
                total: u32::try_from(list.len()).unwrap_or(u32::MAX),
                list,
                interrupted,
            });
        }
    }
}

/// The error of looking up the `baton` family: "not found" means that the
/// module is not loaded.
fn lookup_error(e: Error) -> Error {
    match e {
        Error::Kernel { errno, .. }
            if io::Error::from_raw_os_error(errno).kind() == io::ErrorKind::NotFound =>
        {
            Error::NotLoaded
        }
        e => e,
    }
}

/// The messages that generic netlink socket `portid` of this namespace
/// dropped for want of room: the `Drops` column of `/proc/net/netlink`
/// (`sk_drops`, which netlink counts on each overrun).
fn socket_drops(portid: u32) -> Result<u64, Error> {
    let table = std::fs::read_to_string("/proc/self/net/netlink")
        .map_err(|e| Error::Socket(format!("/proc/self/net/netlink: {e}")))?;
    parse_drops(&table, portid)
        .ok_or_else(|| Error::Socket(format!("socket {portid} not in /proc/self/net/netlink")))
}

/// The `Drops` of generic netlink (protocol 16) socket `portid` in the
/// text of `/proc/net/netlink`.
fn parse_drops(table: &str, portid: u32) -> Option<u64> {
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next()?.split_whitespace().collect();
    let col = |name| header.iter().position(|h| *h == name);
    let (eth, pid, drops) = (col("Eth")?, col("Pid")?, col("Drops")?);
    lines
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| {
            f.get(eth) == Some(&"16") && f.get(pid).and_then(|p| p.parse().ok()) == Some(portid)
        })
        .and_then(|f| f.get(drops)?.parse().ok())
}

/// A connection to the `baton` family.
pub struct Baton {
    conn: Conn,
    family: u16,
}

impl Baton {
    /// Opens a socket and looks up the `baton` family; [`Error::NotLoaded`]
    /// if there is none.
    pub fn connect() -> Result<Self, Error> {
        let mut conn = Conn::open()?;
        let family = conn.resolve(FAMILY_NAME).map_err(lookup_error)?;
        Ok(Baton { conn, family })
    }

    /// Joins the `events` group and calls `f` on each event, forever (or
    /// until `f` fails). When the socket was too full to take some, `f`
    /// gets an `overrun` event with how many were lost, and it goes on.
    pub fn monitor(&mut self, mut f: impl FnMut(&Event) -> Result<(), Error>) -> Result<(), Error> {
        let reply = self.conn.request(
            GenlId::Ctrl.into(),
            NlmF::empty(),
            msg::get_family(FAMILY_NAME)?,
        )?;
        let group = msg::parse_mcast_group(&reply, MCGRP_EVENTS)?.ok_or_else(|| {
            Error::Malformed("the loaded module has no events group (a version before it)".into())
        })?;
        let socket = &self.conn.socket;
        socket.add_mcast_membership(Groups::new_groups(&[group]))?;
        let mut dropped = socket_drops(socket.pid())?;
        loop {
            let messages = match socket.recv::<u16, Genl>() {
                Ok((messages, _)) => messages,
                Err(SocketError::Io(e)) if e.raw_os_error() == Some(ENOBUFS) => {
                    let now = socket_drops(socket.pid())?;
                    let mut e = Event::new("overrun");
                    e.lost = Some(now.saturating_sub(dropped));
                    dropped = now;
                    f(&e)?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            for message in messages {
                let message = message?;
                if *message.nl_type() != self.family {
                    continue;
                }
                if let NlPayload::Payload(genl) = message.nl_payload() {
                    if let Some(e) = msg::parse_event(genl)? {
                        f(&e)?;
                    }
                }
            }
        }
    }

    /// `status-get`.
    pub fn status(&mut self) -> Result<Status, Error> {
        let reply = self
            .conn
            .request(self.family, NlmF::empty(), msg::status_get()?)?;
        msg::parse_status(&reply)
    }

    /// `config-get`.
    pub fn config(&mut self) -> Result<ConfigReply, Error> {
        let reply = self
            .conn
            .request(self.family, NlmF::empty(), msg::config_get()?)?;
        msg::parse_config(&reply)
    }

    /// Sends `genl` with `NLM_F_ACK` and waits for the kernel's verdict.
    fn command(&mut self, genl: Genl) -> Result<(), Error> {
        self.conn.transact(self.family, NlmF::ACK, genl).map(drop)
    }

    /// `service-add`.
    pub fn service_add(&mut self, spec: &ServiceSpec) -> Result<(), Error> {
        self.command(msg::service_add(spec)?)
    }

    /// `service-del`.
    pub fn service_del(&mut self, vip: std::net::SocketAddr) -> Result<(), Error> {
        self.command(msg::service_del(vip)?)
    }

    /// `backend-add` or `backend-del`.
    pub fn backend(&mut self, spec: &BackendSpec, add: bool) -> Result<(), Error> {
        self.command(msg::backend(spec, add)?)
    }

    /// `backend-set`.
    pub fn backend_set(&mut self, spec: &BackendSpec) -> Result<(), Error> {
        self.command(msg::backend_set(spec)?)
    }

    /// `rule-add`, acknowledged.
    pub fn rule_add(&mut self, spec: &RuleSpec) -> Result<(), Error> {
        self.command(msg::rule_add(spec)?)
    }

    /// `rule-del`, acknowledged.
    pub fn rule_del(&mut self, vip: std::net::SocketAddr, index: u32) -> Result<(), Error> {
        self.command(msg::rule_del(vip, index)?)
    }

    /// `service-get`.
    pub fn services(&mut self) -> Result<Vec<Service>, Error> {
        let reply = self
            .conn
            .request(self.family, NlmF::empty(), msg::service_get()?)?;
        msg::parse_services(&reply)
    }

    /// `peer-add`, acknowledged.
    pub fn peer_add(&mut self, peer: &PeerSpec) -> Result<(), Error> {
        self.conn
            .transact(self.family, NlmF::ACK, msg::peer_add(peer)?)
            .map(drop)
    }

    /// `peer-del`, acknowledged.
    pub fn peer_del(&mut self, node_id: u32) -> Result<(), Error> {
        self.conn
            .transact(self.family, NlmF::ACK, msg::peer_del(node_id)?)
            .map(drop)
    }

    /// `peer-get`.
    pub fn peers(&mut self) -> Result<Vec<Peer>, Error> {
        let reply = self
            .conn
            .request(self.family, NlmF::empty(), msg::peer_get()?)?;
        msg::parse_peers(&reply)
    }

    /// `cluster-add`, acknowledged.
    pub fn cluster_add(&mut self, node_id: u32) -> Result<(), Error> {
        self.conn
            .transact(self.family, NlmF::ACK, msg::cluster_add(node_id)?)
            .map(drop)
    }

    /// `cluster-del`, acknowledged.
    pub fn cluster_del(&mut self, node_id: u32) -> Result<(), Error> {
        self.conn
            .transact(self.family, NlmF::ACK, msg::cluster_del(node_id)?)
            .map(drop)
    }

    /// `cluster-get`.
    pub fn cluster(&mut self) -> Result<Cluster, Error> {
        let reply = self
            .conn
            .request(self.family, NlmF::empty(), msg::cluster_get()?)?;
        msg::parse_cluster(&reply)
    }

    /// The dump of `conn-get`: every connection `filter` selects (see
    /// [`read_dump`]). A module without the dump answers one capped reply
    /// (no filter).
    pub fn conns(&mut self, filter: &ConnFilter) -> Result<Conns, Error> {
        let (conn, family) = (&mut self.conn, self.family);
        let res = read_dump(|list| {
            conn.dump(family, msg::conn_get(filter)?, |genl| {
                list.extend(msg::parse_conn_message(genl)?);
                Ok(())
            })
        });
        match res {
            Err(Error::Kernel {
                errno: EOPNOTSUPP, ..
            }) if filter.is_empty() => {
                let reply = conn.request(family, NlmF::empty(), msg::conn_get(filter)?)?;
                msg::parse_conns(&reply)
            }
            res => res,
        }
    }

    /// `stats-get`.
    pub fn stats(&mut self) -> Result<Stats, Error> {
        let reply = self.conn.request(
            self.family,
            NlmF::empty(),
            msg::genl(cmd::STATS_GET, FAMILY_VERSION, Vec::new())?,
        )?;
        msg::parse_stats(&reply)
    }

    /// `config-set`, with `NLM_F_ACK`: waits for the kernel's verdict.
    pub fn set_config(&mut self, update: &ConfigUpdate, key: Option<&[u8]>) -> Result<(), Error> {
        self.conn
            .transact(self.family, NlmF::ACK, msg::config_set(update, key)?)
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    //! These talk to the running kernel's nlctrl, which every Linux kernel
    //! with generic netlink has; they are skipped where no netlink socket can
    //! be opened.

    use neli::consts::genl::{CtrlAttr, CtrlCmd};

    use super::*;
    use crate::output::test_conn;

    const GENL_ID_CTRL: u16 = 0x10;

    #[test]
    fn drops_of_our_socket_in_proc_net_netlink() {
        let table = "sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode\n\
            000000001499fc34 0   77         00000000 0        0        0     2        9        4\n\
            00000000ff20a0fb 16  77         00000004 0        0        0     2        1234     222\n\
            00000000ff20a0fc 16  78         00000000 0        0        0     2        5        223\n";
        assert_eq!(parse_drops(table, 77), Some(1234));
        assert_eq!(parse_drops(table, 78), Some(5));
        assert_eq!(parse_drops(table, 79), None);
        assert_eq!(parse_drops("", 77), None);
        // Our own socket, in the real table.
        if let Ok(conn) = Conn::open() {
            assert_eq!(socket_drops(conn.socket.pid()).ok(), Some(0));
        }
    }
    const ENOENT: i32 = 2;
    const EINVAL: i32 = 22;

    fn open() -> Option<Conn> {
        match Conn::open() {
            Ok(conn) => Some(conn),
            Err(e) => {
                eprintln!("skipped: no generic netlink socket: {e}");
                None
            }
        }
    }

    #[test]
    fn interrupted_dumps_are_read_again() {
        // Interrupted once: the second listing, whole, not interrupted.
        let mut calls = 0;
        let c = read_dump(|list| {
            calls += 1;
            list.push(test_conn(calls, false));
            list.push(test_conn(100, false));
            Ok(calls == 1)
        })
        .unwrap();
        assert_eq!(calls, 2);
        assert_eq!((c.total, c.interrupted), (2, false));
        assert_eq!(c.list[0].client.port(), 2);
        // Always interrupted: three tries, the last kept and marked.
        let mut calls = 0;
        let c = read_dump(|list| {
            calls += 1;
            list.push(test_conn(calls, false));
            Ok(true)
        })
        .unwrap();
        assert_eq!(calls, DUMP_TRIES as u16);
        assert_eq!((c.total, c.interrupted), (1, true));
        assert_eq!(c.list[0].client.port(), 3);
        // An error ends it.
        let e = read_dump(|_| Err(Error::Malformed("x".into()))).unwrap_err();
        assert!(matches!(e, Error::Malformed(_)));
    }

    #[test]
    fn lookup_error_maps_enoent_only() {
        let enoent = Error::Kernel {
            errno: ENOENT,
            message: None,
        };
        assert!(matches!(lookup_error(enoent), Error::NotLoaded));
        assert!(matches!(
            lookup_error(Error::PermissionDenied),
            Error::PermissionDenied
        ));
        let einval = Error::Kernel {
            errno: EINVAL,
            message: None,
        };
        assert!(matches!(
            lookup_error(einval),
            Error::Kernel { errno: EINVAL, .. }
        ));
    }

    #[test]
    fn resolves_nlctrl() {
        let Some(mut conn) = open() else { return };
        assert_eq!(conn.resolve(c"nlctrl").unwrap(), GENL_ID_CTRL);
        // Sequence numbers go on.
        assert_eq!(conn.resolve(c"nlctrl").unwrap(), GENL_ID_CTRL);
    }

    #[test]
    fn missing_family_is_enoent() {
        let Some(mut conn) = open() else { return };
        let e = conn.resolve(c"baton-test-none").unwrap_err();
        assert!(matches!(e, Error::Kernel { errno: ENOENT, .. }), "{e:?}");
        assert!(matches!(lookup_error(e), Error::NotLoaded));
    }

    #[test]
    fn reply_then_ack() {
        let Some(mut conn) = open() else { return };
        let reply = conn
            .transact(GENL_ID_CTRL, NlmF::ACK, msg::get_family(c"nlctrl").unwrap())
            .unwrap()
            .expect("the reply before the ACK");
        assert_eq!(msg::parse_family_id(&reply).unwrap(), GENL_ID_CTRL);
    }

    #[test]
    fn kernel_error_carries_the_extack_message() {
        let Some(mut conn) = open() else { return };
        // CTRL_ATTR_FAMILY_ID is a u16: one byte fails the policy, which the
        // kernel reports with an extended ACK message ("Attribute failed
        // policy validation").
        let genl = msg::genl(
            CtrlCmd::Getfamily.into(),
            2,
            vec![(CtrlAttr::FamilyId.into(), vec![1])],
        )
        .unwrap();
        let e = conn.transact(GENL_ID_CTRL, NlmF::ACK, genl).unwrap_err();
        // The errno depends on the kernel version (EINVAL, ERANGE).
        match &e {
            Error::Kernel {
                errno,
                message: Some(message),
            } if *errno > 0 => {
                assert!(!message.is_empty());
                assert_eq!(e.to_string(), *message);
                assert_eq!(e.exit_code(), 1);
            }
            e => panic!("{e:?}"),
        }
    }
}
