// SPDX-License-Identifier: GPL-2.0

//! Notifications to the `events` multicast group (`batonctl monitor`, the
//! YNL CLI's `--subscribe events`): handoffs that ended, connections that
//! ended, peers up and down, configuration changes. Each is built only
//! when a listener in the namespace reads the group, and sent without
//! waiting: a listener that reads too slowly loses some, and its socket
//! counts them (see Documentation/batonctl.rst, `monitor`).

use crate::{
    proto::{
        service::{Endpoint, Ip},
        uapi::{attr, cmd, event_attr, handoff_result, peer_state},
    },
    sys::{
        genl::{self, Attrs, Event},
        netns::Net,
    },
};
use kernel::prelude::*;

/// The index of [`crate::proto::uapi::MCGRP_EVENTS`] among the family's
/// groups.
pub(crate) const GROUP: u32 = 0;

/// Room for the largest notification (a handoff: 9 attributes, one of
/// them 64-bit, in a nest).
const PAYLOAD: usize = 256;

/// Builds notification `cmd` with its `event` nest and sends it, if
/// anyone listens in `net`; a notification that cannot be built or sent
/// is lost, as one the listener's socket had no room for.
fn notify(net: &Net, cmd: u8, put: impl FnOnce(&mut Attrs) -> Result) {
    if !genl::listened(net, GROUP) {
        return;
    }
    let Some(mut e) = Event::new(cmd, PAYLOAD) else {
        return;
    };
    if e.nest(attr::EVENT, put).is_ok() {
        let _ = e.send(net, GROUP);
    }
}

/// What a notification says about one connection.
pub(crate) struct Conn {
    /// Its handoff id.
    pub(crate) id: u64,
    /// The client.
    pub(crate) client: Endpoint<Ip>,
    /// The service.
    pub(crate) vip: Endpoint<Ip>,
    /// The back-end.
    pub(crate) backend: Endpoint<Ip>,
    /// The peer at its other end (0: this node).
    pub(crate) peer: u32,
}

impl Conn {
    fn put(&self, a: &mut Attrs) -> Result {
        a.put_u64(event_attr::ID, self.id, event_attr::PAD)?;
        let e = event_attr::CLIENT_ADDR;
        a.put_ip(e, event_attr::CLIENT_ADDR6, self.client.addr)?;
        a.put_u16(event_attr::CLIENT_PORT, self.client.port)?;
        a.put_ip(event_attr::VIP_ADDR, event_attr::VIP_ADDR6, self.vip.addr)?;
        a.put_u16(event_attr::VIP_PORT, self.vip.port)?;
        let b = event_attr::BACKEND_ADDR;
        a.put_ip(b, event_attr::BACKEND_ADDR6, self.backend.addr)?;
        a.put_u16(event_attr::BACKEND_PORT, self.backend.port)?;
        a.put_u32(event_attr::PEER, self.peer)
    }
}

/// A handoff of this front-end ended: `result` of [`handoff_result`],
/// `reason` why it did not forward (none for `OK`).
pub(crate) fn handoff(net: &Net, c: &Conn, result: u8, reason: u8) {
    notify(net, cmd::HANDOFF_NTF, |a| {
        c.put(a)?;
        a.put_u8(event_attr::RESULT, result)?;
        if result == handoff_result::OK {
            return Ok(());
        }
        a.put_u8(event_attr::REASON, reason)
    });
}

/// A connection this node took part in as `role` ended, for `reason`.
pub(crate) fn conn_end(net: &Net, c: &Conn, role: u8, reason: u8) {
    notify(net, cmd::CONN_END_NTF, |a| {
        c.put(a)?;
        a.put_u8(event_attr::ROLE, role)?;
        a.put_u8(event_attr::REASON, reason)
    });
}

/// The channel to peer `node_id` came up or went down.
pub(crate) fn peer(net: &Net, node_id: u32, up: bool) {
    notify(net, cmd::PEER_NTF, |a| {
        a.put_u32(event_attr::PEER, node_id)?;
        let state = if up { peer_state::UP } else { peer_state::DOWN };
        a.put_u8(event_attr::STATE, state)
    });
}

/// Command `by` changed the configuration.
pub(crate) fn config(net: &Net, by: u8) {
    notify(net, cmd::CONFIG_NTF, |a| a.put_u8(event_attr::CMD, by));
}
