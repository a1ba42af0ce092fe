// SPDX-License-Identifier: GPL-2.0

//! What the commands print: text for people, JSON for scripts.

use std::fmt::Write;

use baton_proto::{config::Config, uapi::Hook};
use serde::{ser::SerializeMap, Serialize, Serializer};

use crate::cli::{Format, CTRL_PORT, NODE_ID};

/// The reply to `status-get`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// Version of the loaded module.
    pub version: String,
    /// Packets seen by each hook, indexed by [`Hook::index`].
    pub hooks: [u64; Hook::ALL.len()],
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("version", &self.version)?;
        map.serialize_entry("hooks", &HookCounters(&self.hooks))?;
        map.end()
    }
}

/// The hook counters as a JSON object in hook order (not sorted by name).
struct HookCounters<'a>(&'a [u64; Hook::ALL.len()]);

impl Serialize for HookCounters<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(Hook::ALL.len()))?;
        for hook in Hook::ALL {
            map.serialize_entry(hook.name(), &self.0[hook.index()])?;
        }
        map.end()
    }
}

/// A configuration as JSON: `{"ctrl-port":N,"node-id":N}`.
struct ConfigJson<'a>(&'a Config);

impl Serialize for ConfigJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry(CTRL_PORT, &self.0.ctrl_port)?;
        map.serialize_entry(NODE_ID, &self.0.node_id)?;
        map.end()
    }
}

/// Renders `value` as JSON followed by a newline.
fn json<T: Serialize>(value: &T, pretty: bool) -> String {
    let mut out = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    }
    // Maps with string keys and integers always serialize.
    .unwrap_or_default();
    out.push('\n');
    out
}

/// The output of `status`.
pub fn status(status: &Status, format: Format) -> String {
    match format {
        Format::Json => json(status, false),
        Format::JsonPretty => json(status, true),
        Format::Text => {
            let mut out = format!("baton {}\nhooks:", status.version);
            for hook in Hook::ALL {
                // Writing to a String cannot fail.
                let _ = write!(out, " {} {}", hook.name(), status.hooks[hook.index()]);
            }
            out.push('\n');
            out
        }
    }
}

/// The output of `config show`.
pub fn config(config: &Config, format: Format) -> String {
    match format {
        Format::Json => json(&ConfigJson(config), false),
        Format::JsonPretty => json(&ConfigJson(config), true),
        Format::Text => format!(
            "{CTRL_PORT} {} {NODE_ID} {}\n",
            config.ctrl_port, config.node_id
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Status {
        Status {
            version: "0.1.0".into(),
            hooks: [12, 10, 8, 8],
        }
    }

    #[test]
    fn status_text() {
        assert_eq!(
            status(&sample(), Format::Text),
            "baton 0.1.0\nhooks: pre-routing 12 local-in 10 local-out 8 post-routing 8\n"
        );
    }

    #[test]
    fn status_json_shape() {
        assert_eq!(
            status(&sample(), Format::Json),
            "{\"version\":\"0.1.0\",\"hooks\":{\"pre-routing\":12,\"local-in\":10,\
             \"local-out\":8,\"post-routing\":8}}\n"
        );
    }

    #[test]
    fn status_json_counts_are_exact_u64() {
        let s = Status {
            version: "0.1.0".into(),
            hooks: [u64::MAX, 0, 1, 2],
        };
        let out = status(&s, Format::Json);
        assert!(
            out.contains("\"pre-routing\":18446744073709551615"),
            "{out}"
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["hooks"]["pre-routing"].as_u64(), Some(u64::MAX));
    }

    #[test]
    fn status_pretty_json_is_the_same_value() {
        let pretty = status(&sample(), Format::JsonPretty);
        assert!(pretty.contains("\n  \"hooks\": {\n    \"pre-routing\": 12,"));
        let a: serde_json::Value = serde_json::from_str(&pretty).unwrap();
        let b: serde_json::Value = serde_json::from_str(&status(&sample(), Format::Json)).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn version_is_escaped() {
        let s = Status {
            version: "0.1.0 \"x\"".into(),
            hooks: [0; 4],
        };
        let v: serde_json::Value = serde_json::from_str(&status(&s, Format::Json)).unwrap();
        assert_eq!(v["version"], "0.1.0 \"x\"");
    }

    #[test]
    fn config_text() {
        let c = Config {
            ctrl_port: 7300,
            node_id: 0,
        };
        assert_eq!(config(&c, Format::Text), "ctrl-port 7300 node-id 0\n");
    }

    #[test]
    fn config_json_shape() {
        let c = Config {
            ctrl_port: 7300,
            node_id: 0,
        };
        assert_eq!(
            config(&c, Format::Json),
            "{\"ctrl-port\":7300,\"node-id\":0}\n"
        );
        let c = Config {
            ctrl_port: 65535,
            node_id: u32::MAX,
        };
        assert_eq!(
            config(&c, Format::Json),
            "{\"ctrl-port\":65535,\"node-id\":4294967295}\n"
        );
        assert_eq!(
            config(&c, Format::JsonPretty),
            "{\n  \"ctrl-port\": 65535,\n  \"node-id\": 4294967295\n}\n"
        );
    }
}
