// SPDX-License-Identifier: GPL-2.0

//! Validation and application of configuration changes
//! (`baton_proto::config`), as the kernel's config-set handler runs them.

use baton_proto::{
    config::{decode_u16, decode_u32, Config, ConfigError, ConfigUpdate},
    uapi::DEFAULT_CTRL_PORT,
};
use proptest::prelude::*;

#[test]
fn new_config_has_no_node_id() {
    assert_eq!(
        Config::new(DEFAULT_CTRL_PORT),
        Config {
            ctrl_port: 7300,
            node_id: 0
        }
    );
}

#[test]
fn empty_update_is_refused() {
    let mut config = Config::new(DEFAULT_CTRL_PORT);
    assert_eq!(
        ConfigUpdate::default().apply(&mut config),
        Err(ConfigError::Empty)
    );
    assert_eq!(config, Config::new(DEFAULT_CTRL_PORT));
}

#[test]
fn zero_port_is_refused_and_nothing_changes() {
    let mut config = Config::new(DEFAULT_CTRL_PORT);
    let update = ConfigUpdate {
        ctrl_port: Some(0),
        node_id: Some(9),
    };
    assert_eq!(update.apply(&mut config), Err(ConfigError::ZeroCtrlPort));
    assert_eq!(config, Config::new(DEFAULT_CTRL_PORT));
}

#[test]
fn error_messages_are_nonempty() {
    for e in [ConfigError::Empty, ConfigError::ZeroCtrlPort] {
        assert!(!e.message().to_bytes().is_empty());
    }
}

#[test]
fn decoders_check_length() {
    assert_eq!(decode_u16(&7300u16.to_ne_bytes()), Some(7300));
    assert_eq!(decode_u16(&[1]), None);
    assert_eq!(decode_u16(&[1, 2, 3]), None);
    assert_eq!(decode_u32(&5u32.to_ne_bytes()), Some(5));
    assert_eq!(decode_u32(&[0; 2]), None);
    assert_eq!(decode_u32(&[0; 8]), None);
}

proptest! {
    #[test]
    fn apply_sets_exactly_the_given_fields(
        port in any::<u16>(),
        id in any::<u32>(),
        new_port in proptest::option::of(any::<u16>()),
        new_id in proptest::option::of(any::<u32>()),
    ) {
        let before = Config { ctrl_port: port.max(1), node_id: id };
        let update = ConfigUpdate { ctrl_port: new_port, node_id: new_id };
        let mut config = before;
        match update.apply(&mut config) {
            Ok(()) => {
                prop_assert!(new_port.is_some() || new_id.is_some());
                prop_assert_ne!(new_port, Some(0));
                prop_assert_eq!(config.ctrl_port, new_port.unwrap_or(before.ctrl_port));
                prop_assert_eq!(config.node_id, new_id.unwrap_or(before.node_id));
            }
            Err(_) => prop_assert_eq!(config, before),
        }
    }
}
