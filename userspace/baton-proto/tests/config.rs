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
            node_id: 0,
            request_timeout_ms: 3000,
            handoff_timeout_ms: 2500,
            idle_timeout_ms: 300_000,
            heartbeat_timeout_ms: 3000,
            copies: 1,
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
        ..ConfigUpdate::default()
    };
    assert_eq!(update.apply(&mut config), Err(ConfigError::ZeroCtrlPort));
    assert_eq!(config, Config::new(DEFAULT_CTRL_PORT));
}

#[test]
fn error_messages_are_nonempty() {
    for e in [
        ConfigError::Empty,
        ConfigError::ZeroCtrlPort,
        ConfigError::RequestTimeout,
        ConfigError::HandoffTimeout,
        ConfigError::IdleTimeout,
        ConfigError::HeartbeatTimeout,
        ConfigError::Copies,
    ] {
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
        req in proptest::option::of(0u32..70_000),
        hand in proptest::option::of(0u32..40_000),
        idle in proptest::option::of(0u32..100_000_000),
        beat in proptest::option::of(0u32..70_000),
        copies in proptest::option::of(0u32..70),
    ) {
        let before = Config { ctrl_port: port.max(1), node_id: id, ..Config::new(1) };
        let update = ConfigUpdate {
            ctrl_port: new_port,
            node_id: new_id,
            request_timeout_ms: req,
            handoff_timeout_ms: hand,
            idle_timeout_ms: idle,
            heartbeat_timeout_ms: beat,
            copies,
        };
        let mut config = before;
        match update.apply(&mut config) {
            Ok(()) => {
                prop_assert!(update != ConfigUpdate::default());
                prop_assert_ne!(new_port, Some(0));
                prop_assert!(req.is_none_or(|ms| (100..=60_000).contains(&ms)));
                prop_assert!(hand.is_none_or(|ms| (100..=30_000).contains(&ms)));
                prop_assert!(idle.is_none_or(|ms| (1000..=86_400_000).contains(&ms)));
                prop_assert!(beat.is_none_or(|ms| (2000..=60_000).contains(&ms)));
                prop_assert!(copies.is_none_or(|n| (1..=63).contains(&n)));
                prop_assert_eq!(config.ctrl_port, new_port.unwrap_or(before.ctrl_port));
                prop_assert_eq!(config.node_id, new_id.unwrap_or(before.node_id));
                prop_assert_eq!(config.request_timeout_ms, req.unwrap_or(before.request_timeout_ms));
                prop_assert_eq!(config.handoff_timeout_ms, hand.unwrap_or(before.handoff_timeout_ms));
                prop_assert_eq!(config.idle_timeout_ms, idle.unwrap_or(before.idle_timeout_ms));
                prop_assert_eq!(config.heartbeat_timeout_ms, beat.unwrap_or(before.heartbeat_timeout_ms));
                prop_assert_eq!(config.copies, copies.unwrap_or(before.copies));
            }
            Err(_) => prop_assert_eq!(config, before),
        }
    }
}
