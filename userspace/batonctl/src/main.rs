// SPDX-License-Identifier: GPL-2.0

//! `batonctl`: show and change the state of the baton kernel module over its
//! generic netlink family (`Documentation/netlink/specs/baton.yaml`). See
//! `Documentation/batonctl.rst`.
//!
//! The parts are plain functions tested without a kernel: [`cli`] parses the
//! command line, [`msg`] builds and decodes the messages, [`output`] renders
//! text and JSON; only [`netlink`] touches a socket.

mod cli;
mod error;
mod metrics;
mod msg;
mod netlink;
mod output;
mod save;

use std::{
    io::{self, Write},
    process::ExitCode,
};

use cli::{Action, Invocation, KeySetting};
use error::Error;
use netlink::Baton;

fn main() -> ExitCode {
    let invocation = match cli::parse(std::env::args_os()) {
        Ok(invocation) => invocation,
        Err(e) => {
            // Usage errors go to stderr; --help, --version and `help` to stdout.
            // Nothing sensible is left to do if printing them fails.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(error::EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(invocation) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("batonctl: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Carries out one command and prints its result.
fn run(invocation: Invocation) -> Result<(), Error> {
    let out = execute(invocation)?;
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(&out)
        .and_then(|()| stdout.flush())
        .map_err(Error::Output)
}

/// Replays the commands of a saved configuration, stopping at the first
/// that fails: `line N: reason`.
/// The key in the file of `key-file`: hex digits, whitespace around them
/// ignored. The error never shows the file's contents.
fn read_key(path: &std::path::Path) -> Result<Vec<u8>, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::KeyFile(format!("{}: {e}", path.display())))?;
    cli::parse_key(&text).map_err(|e| Error::KeyFile(format!("{}: {e}", path.display())))
}

fn restore(file: Option<std::path::PathBuf>) -> Result<Vec<u8>, Error> {
    let text = match &file {
        Some(path) => std::fs::read_to_string(path),
        None => io::read_to_string(io::stdin()),
    }
    .map_err(|e| Error::Restore(format!("cannot read the commands: {e}")))?;
    for (i, line) in text.lines().enumerate() {
        let Some(words) = save::words(line) else {
            continue;
        };
        let mut argv = vec!["batonctl"];
        argv.extend(words);
        let invocation = cli::parse(argv).map_err(|e| {
            let msg = e.to_string();
            let first = msg
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches("error: ");
            Error::Restore(format!("line {}: {first}", i + 1))
        })?;
        if matches!(
            invocation.action,
            Action::Save | Action::Restore(_) | Action::Man
        ) {
            return Err(Error::Restore(format!(
                "line {}: only configuration commands can be restored",
                i + 1
            )));
        }
        execute(invocation).map_err(|e| Error::Restore(format!("line {}: {e}", i + 1)))?;
    }
    Ok(Vec::new())
}

/// `ENOENT`, the errno of an unknown object.
const ENOENT: i32 = 2;

/// `EOPNOTSUPP`: a command the loaded module does not have.
const EOPNOTSUPP: i32 = 95;

/// Carries out one command; returns what it prints.
fn execute(invocation: Invocation) -> Result<Vec<u8>, Error> {
    let format = invocation.format;
    let out = match invocation.action {
        Action::Save => {
            let mut baton = Baton::connect()?;
            let config = baton.config()?;
            let peers = baton.peers()?;
            let members = match baton.cluster() {
                Ok(cluster) => cluster.others(),
                // A module from before front-end groups has none to save.
                Err(Error::Kernel {
                    errno: EOPNOTSUPP, ..
                }) => Vec::new(),
                Err(e) => return Err(e),
            };
            let services = baton.services()?;
            let mut out = save::commands(&config.config, &peers, &members, &services);
            if config.auth {
                out.push_str(save::KEY_NOT_SAVED);
            }
            out.into_bytes()
        }
        Action::Restore(file) => restore(file)?,
        Action::Man => man_page().map_err(Error::Output)?,
        Action::Status => output::status(&Baton::connect()?.status()?, format).into_bytes(),
        Action::ConfigShow => output::config(&Baton::connect()?.config()?, format).into_bytes(),
        Action::ConfigSet(settings) => {
            let key = match settings.key {
                None => None,
                Some(KeySetting::Remove) => Some(Vec::new()),
                Some(KeySetting::Bytes(k)) => Some(k),
                Some(KeySetting::File(path)) => Some(read_key(&path)?),
            };
            Baton::connect()?.set_config(&settings.update, key.as_deref())?;
            Vec::new()
        }
        Action::ServiceAdd(spec) => {
            Baton::connect()?.service_add(&spec)?;
            Vec::new()
        }
        Action::ServiceDel(vip) => {
            Baton::connect()?.service_del(vip)?;
            Vec::new()
        }
        Action::ServiceList => {
            output::services(&Baton::connect()?.services()?, format).into_bytes()
        }
        Action::BackendAdd(spec) => {
            Baton::connect()?.backend(&spec, true)?;
            Vec::new()
        }
        Action::BackendDel(spec) => {
            Baton::connect()?.backend(&spec, false)?;
            Vec::new()
        }
        Action::PeerAdd(peer) => {
            Baton::connect()?.peer_add(&peer)?;
            Vec::new()
        }
        Action::PeerDel(node_id) => {
            Baton::connect()?.peer_del(node_id)?;
            Vec::new()
        }
        Action::PeerList => output::peers(&Baton::connect()?.peers()?, format).into_bytes(),
        Action::ClusterAdd(node_id) => {
            Baton::connect()?.cluster_add(node_id)?;
            Vec::new()
        }
        Action::ClusterDel(node_id) => {
            Baton::connect()?.cluster_del(node_id)?;
            Vec::new()
        }
        Action::ClusterList => output::cluster(&Baton::connect()?.cluster()?, format).into_bytes(),
        Action::RuleAdd(spec) => {
            Baton::connect()?.rule_add(&spec)?;
            Vec::new()
        }
        Action::RuleDel(vip, index) => {
            Baton::connect()?.rule_del(vip, index)?;
            Vec::new()
        }
        Action::RuleList(vip) => {
            let mut services = Baton::connect()?.services()?;
            if let Some((addr, port)) = vip {
                services.retain(|s| s.addr == addr && s.port == port);
                if services.is_empty() {
                    return Err(Error::Kernel {
                        errno: ENOENT,
                        message: Some("service not found".into()),
                    });
                }
            }
            output::rules(&services, format).into_bytes()
        }
        Action::ConnList(filter) => {
            let conns = Baton::connect()?.conns(&filter)?;
            if conns.interrupted {
                eprintln!(
                    "batonctl: warning: the connection table changed during each listing; \
                     a connection may be shown twice or be missing"
                );
            }
            output::conns(&conns, format).into_bytes()
        }
        Action::Stats => output::stats(&Baton::connect()?.stats()?, format).into_bytes(),
        Action::Metrics => {
            let mut b = Baton::connect()?;
            let (stats, services, peers) = (b.stats()?, b.services()?, b.peers()?);
            metrics::prometheus(&stats, &services, &peers, &b.cluster()?).into_bytes()
        }
    };
    Ok(out)
}

/// The manual page `batonctl(8)` in roff.
fn man_page() -> io::Result<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(cli::command())
        .section("8")
        .render(&mut page)?;
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_page_renders() {
        let page = String::from_utf8(man_page().unwrap()).unwrap();
        assert!(page.starts_with(".ie"), "{}", &page[..40]);
        assert!(page.contains(".TH batonctl 8"), "{page}");
        for word in ["status", "config", "\\-\\-json", "\\-\\-pretty"] {
            assert!(page.contains(word), "{word} missing");
        }
        assert!(!page.contains("\nman\n"), "the man command is hidden");
    }
}
