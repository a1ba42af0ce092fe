// SPDX-License-Identifier: GPL-2.0

//! Per-namespace configuration and the validation of changes to it.

use core::ffi::CStr;

/// The configuration of one network namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// TCP port of the control channel between peers (never 0).
    pub ctrl_port: u16,
    /// This node's id in the cluster; 0 when unset.
    pub node_id: u32,
}

impl Config {
    /// The configuration of a new namespace.
    pub const fn new(ctrl_port: u16) -> Self {
        Self {
            ctrl_port,
            node_id: 0,
        }
    }
}

/// Why a configuration change was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The request changes nothing.
    Empty,
    /// Port 0 is not a port one can listen on.
    ZeroCtrlPort,
}

impl ConfigError {
    /// The message returned to the user (netlink extack).
    pub const fn message(self) -> &'static CStr {
        match self {
            ConfigError::Empty => c"no configuration attribute given",
            ConfigError::ZeroCtrlPort => c"ctrl-port must be between 1 and 65535",
        }
    }
}

/// A change to a [`Config`]: the fields that are `Some` are set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConfigUpdate {
    /// New control port.
    pub ctrl_port: Option<u16>,
    /// New node id.
    pub node_id: Option<u32>,
}

impl ConfigUpdate {
    /// Checks the change on its own, before anything is applied.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.ctrl_port.is_none() && self.node_id.is_none() {
            return Err(ConfigError::Empty);
        }
        if self.ctrl_port == Some(0) {
            return Err(ConfigError::ZeroCtrlPort);
        }
        Ok(())
    }

    /// Validates the change and applies it to `config` as a whole, or leaves
    /// `config` untouched.
    pub fn apply(&self, config: &mut Config) -> Result<(), ConfigError> {
        self.validate()?;
        if let Some(port) = self.ctrl_port {
            config.ctrl_port = port;
        }
        if let Some(id) = self.node_id {
            config.node_id = id;
        }
        Ok(())
    }
}

/// Decodes a `u16` netlink attribute payload (host byte order).
pub fn decode_u16(payload: &[u8]) -> Option<u16> {
    payload.try_into().ok().map(u16::from_ne_bytes)
}

/// Decodes a `u32` netlink attribute payload (host byte order).
pub fn decode_u32(payload: &[u8]) -> Option<u32> {
    payload.try_into().ok().map(u32::from_ne_bytes)
}
