// SPDX-License-Identifier: GPL-2.0

//! `batonctl`: show and change the state of the baton kernel module over its
//! generic netlink family (`Documentation/netlink/specs/baton.yaml`). See
//! `Documentation/batonctl.rst`.
//!
//! The parts are plain functions tested without a kernel: [`cli`] parses the
//! command line, [`msg`] builds and decodes the messages, [`output`] renders
//! text and JSON; only [`netlink`] touches a socket.

mod advice;
mod cli;
mod error;
mod metrics;
mod msg;
mod netlink;
mod output;
mod restore;
mod save;

use std::{
    io::{self, Write},
    process::ExitCode,
    time::{Duration, Instant},
};

use cli::{Action, BackendSpec, Invocation, KeySetting};
use error::Error;
use netlink::Baton;
use output::Conns;

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
    print(&execute_hinted(invocation)?)
}

/// Writes `out` on standard output.
fn print(out: &[u8]) -> Result<(), Error> {
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(out)
        .and_then(|()| stdout.flush())
        .map_err(Error::Output)
}

/// How often `backend drain ... timeout S` counts the connections left.
const DRAIN_POLL: Duration = Duration::from_millis(200);

/// Drains back-end `spec` (`backend-set` with drain on), then counts the
/// front-end connections of its service to it (see
/// [`BackendSpec::front_conns`]), again until none is left or `timeout`
/// seconds have passed ([`wait_drained`]).
fn drain(spec: &BackendSpec, timeout: Option<u32>) -> Result<(output::Drain, Conns), Error> {
    let mut baton = Baton::connect()?;
    baton.backend_set(spec)?;
    let filter = spec.front_conns();
    let limit = Duration::from_secs(timeout.unwrap_or(0).into());
    let (conns, waited) = wait_drained(limit, || baton.conns(&filter), std::thread::sleep)?;
    let waited_ms = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX);
    let d = output::Drain::new(spec.vip, spec.addr, conns.list.len(), waited_ms, timeout);
    Ok((d, conns))
}

/// Lists connections with `list` every [`DRAIN_POLL`] (slept by `sleep`)
/// until it lists none or `timeout` has passed; once if `timeout` is 0.
/// Returns the last listing and the time taken.
fn wait_drained(
    timeout: Duration,
    mut list: impl FnMut() -> Result<Conns, Error>,
    mut sleep: impl FnMut(Duration),
) -> Result<(Conns, Duration), Error> {
    let start = Instant::now();
    let mut conns = list()?;
    // As many polls as the timeout holds: a clock that stalls, or sleeps
    // cut short, cannot make it longer.
    let polls = timeout.as_millis() / DRAIN_POLL.as_millis() + 1;
    for _ in 0..polls {
        let waited = start.elapsed();
        if conns.list.is_empty() || waited >= timeout {
            break;
        }
        sleep(DRAIN_POLL.min(timeout - waited));
        conns = list()?;
    }
    Ok((conns, start.elapsed()))
}

/// The key in the file of `key-file`: hex digits, whitespace around them
/// ignored. The error never shows the file's contents.
fn read_key(path: &std::path::Path) -> Result<Vec<u8>, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::KeyFile(format!("{}: {e}", path.display())))?;
    cli::parse_key(&text).map_err(|e| Error::KeyFile(format!("{}: {e}", path.display())))
}

/// Replays the commands of a saved configuration (see [`restore`]), all
/// read and checked first: `FILE:N: reason` names a line that is not one,
/// and nothing is applied. A command that fails is named the same way,
/// after the commands before it were undone. `check`: only read them.
fn restore(file: Option<std::path::PathBuf>, check: bool) -> Result<Vec<u8>, Error> {
    let name = file
        .as_ref()
        .map_or_else(|| "<stdin>".to_string(), |p| p.display().to_string());
    let text = match &file {
        Some(path) => std::fs::read_to_string(path),
        None => io::read_to_string(io::stdin()),
    }
    .map_err(|e| Error::Restore(format!("{name}: cannot read the commands: {e}")))?;
    let commands = restore::parse(&text)
        .map_err(|(line, msg)| Error::Restore(format!("{name}:{line}: {msg}")))?;
    if check {
        return Ok(Vec::new());
    }
    let mut done: Vec<(usize, restore::Undo)> = Vec::new();
    for (line, invocation) in commands {
        let undo = undo_of(&invocation.action)?;
        if let Err(e) = execute_hinted(invocation) {
            let undone = roll_back(&done);
            return Err(match e {
                Error::Hinted { error, hint } => Error::Hinted {
                    error: Box::new(Error::Restore(format!("{name}:{line}: {error}; {undone}"))),
                    hint,
                },
                e => Error::Restore(format!("{name}:{line}: {e}; {undone}")),
            });
        }
        done.push((line, undo));
    }
    Ok(Vec::new())
}

/// What undoes `action`, from the state it changes, read before it runs.
fn undo_of(action: &Action) -> Result<restore::Undo, Error> {
    let config = match action {
        Action::ConfigSet(_) => Some(Baton::connect()?.config()?),
        _ => None,
    };
    let rules = match action {
        Action::RuleAdd(r) if r.index.is_none() => Baton::connect()?
            .services()?
            .iter()
            .find(|s| s.vip() == r.vip)
            .map(|s| s.rules.len() as u32),
        _ => None,
    };
    let backend = match action {
        Action::BackendSet(b) => Baton::connect()?
            .services()?
            .iter()
            .find(|s| s.vip() == b.vip)
            .and_then(|s| s.backends.iter().find(|be| be.endpoint() == b.addr))
            .map(|be| (be.weight, be.draining)),
        _ => None,
    };
    // A rule for a service that does not exist, a weight for a back-end
    // that does not, fails; nothing to undo.
    Ok(restore::undo(action, config.as_ref(), rules, backend).unwrap_or(restore::Undo::NONE))
}

/// Undoes the commands `done`, last first; says what happened.
fn roll_back(done: &[(usize, restore::Undo)]) -> String {
    let lost = if done.iter().any(|(_, u)| u.key_lost) {
        " (the control-channel key they replaced cannot be read back: set it again)"
    } else {
        ""
    };
    for (line, u) in done.iter().rev() {
        if u.lasting {
            return format!(
                "line {line} deleted what cannot be put back: lines up to {line} stay \
                 applied, those after it were undone{lost}"
            );
        }
        if let Some(action) = &u.action {
            let invocation = Invocation {
                format: cli::Format::Text,
                action: action.clone(),
            };
            if let Err(e) = execute(invocation) {
                return format!(
                    "undoing the commands before it failed at line {line} ({e}): \
                     lines up to {line} stay applied{lost}"
                );
            }
        }
    }
    match done.len() {
        0 => "nothing was applied".into(),
        1 => format!("the command before it was undone{lost}"),
        n => format!("the {n} commands before it were undone{lost}"),
    }
}

/// `ENOENT`, the errno of an unknown object.
const ENOENT: i32 = 2;

/// `EOPNOTSUPP`: a command the loaded module does not have.
const EOPNOTSUPP: i32 = 95;

/// [`execute`], with a hint after a refusal of the kernel that names this
/// command's objects and what to do (see [`advice`]).
fn execute_hinted(invocation: Invocation) -> Result<Vec<u8>, Error> {
    let action = invocation.action.clone();
    let error = match execute(invocation) {
        Err(
            e @ Error::Kernel {
                message: Some(_), ..
            },
        ) => e,
        other => return other,
    };
    let Error::Kernel {
        message: Some(message),
        ..
    } = &error
    else {
        return Err(error);
    };
    // The services as they are now, for the hints that name what uses an
    // object; without them, no hint.
    let services = if advice::needs_services(&action, message) {
        Baton::connect().and_then(|mut b| b.services()).ok()
    } else {
        None
    };
    match advice::hint(&action, message, services.as_deref()) {
        Some(hint) => Err(Error::Hinted {
            error: Box::new(error),
            hint,
        }),
        None => Err(error),
    }
}

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
        Action::Restore { file, check } => restore(file, check)?,
        Action::Man => man_page().map_err(Error::Output)?,
        Action::Completions(shell) => completions(shell),
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
        Action::BackendSet(spec) => {
            Baton::connect()?.backend_set(&spec)?;
            Vec::new()
        }
        Action::BackendDrain(spec, timeout) => {
            let (d, left) = drain(&spec, timeout)?;
            let out = output::drain(&d, format).into_bytes();
            if d.failed() {
                // The report (JSON) first, then why it fails.
                print(&out)?;
                return Err(Error::NotDrained(output::drain_left(&d, &left)));
            }
            out
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
        Action::ClusterRank(client, vip) => {
            output::rank(&Baton::connect()?.cluster()?, client, vip, format).into_bytes()
        }
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
            if let Some(vip) = vip {
                services.retain(|s| s.vip() == vip);
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
        Action::Monitor => {
            // A line at a time, flushed: a reader sees each event at once.
            let mut stdout = io::stdout().lock();
            Baton::connect()?.monitor(|e| {
                stdout
                    .write_all(output::event(e, format).as_bytes())
                    .and_then(|()| stdout.flush())
                    .map_err(Error::Output)
            })?;
            Vec::new()
        }
        Action::Metrics => {
            let mut b = Baton::connect()?;
            let (stats, services, peers) = (b.stats()?, b.services()?, b.peers()?);
            metrics::prometheus(&stats, &services, &peers, &b.cluster()?).into_bytes()
        }
    };
    Ok(out)
}

/// The completion script of `shell` for `batonctl`.
fn completions(shell: cli::CompletionShell) -> Vec<u8> {
    use clap_complete::Shell;
    let shell = match shell {
        cli::CompletionShell::Bash => Shell::Bash,
        cli::CompletionShell::Zsh => Shell::Zsh,
        cli::CompletionShell::Fish => Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cli::command(), "batonctl", &mut out);
    out
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

    /// `n` front-end connections to one draining back-end, as a listing.
    fn listing(n: u16) -> Conns {
        Conns {
            total: n.into(),
            list: (0..n).map(|i| output::test_conn(40000 + i, true)).collect(),
            interrupted: false,
        }
    }

    #[test]
    fn a_drain_is_counted_until_none_is_left() {
        // 3, 2, 0 left: three listings, two polls slept.
        let mut left = vec![0, 2, 3];
        let mut slept = Vec::new();
        let (conns, _) = wait_drained(
            Duration::from_secs(5),
            || Ok(listing(left.pop().unwrap())),
            |d| slept.push(d),
        )
        .unwrap();
        assert!(conns.list.is_empty() && left.is_empty());
        assert_eq!(slept, [DRAIN_POLL; 2]);
        // Without a timeout: one listing, no sleep.
        let mut calls = 0;
        let (conns, _) = wait_drained(
            Duration::ZERO,
            || {
                calls += 1;
                Ok(listing(4))
            },
            |_| panic!("slept"),
        )
        .unwrap();
        assert_eq!((calls, conns.list.len()), (1, 4));
        // Connections that never leave, and sleeps that return at once:
        // the polls the timeout holds, then what is left.
        let mut calls = 0;
        let (conns, _) = wait_drained(
            Duration::from_secs(1),
            || {
                calls += 1;
                Ok(listing(2))
            },
            |_| {},
        )
        .unwrap();
        assert_eq!((calls, conns.list.len()), (1 + 6, 2));
        // A failed listing ends it.
        let e = wait_drained(
            Duration::from_secs(1),
            || Err(Error::Malformed("x".into())),
            |_| {},
        )
        .unwrap_err();
        assert!(matches!(e, Error::Malformed(_)));
    }

    #[test]
    fn a_drain_that_times_out_fails_with_what_is_left() {
        let (vip, be) = (
            "198.18.1.100:80".parse().unwrap(),
            "198.18.1.3:8080".parse().unwrap(),
        );
        let d = output::Drain::new(vip, be, 2, 30_000, Some(30));
        assert!(d.failed());
        let e = Error::NotDrained(output::drain_left(&d, &listing(2)));
        assert_eq!(e.exit_code(), 1);
        let text = e.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "198.18.1.100:80 -> 198.18.1.3:8080: 2 connections left after 30 s"
        );
        assert!(lines[1].starts_with("ROLE   STATE"), "{text}");
        assert!(lines[2].starts_with("front  forwarding,draining 198.18.1.1:40000"));
        assert_eq!(lines.len(), 4, "{text}");
        assert!(!text.ends_with('\n'), "main's eprintln ends it");
        // Drained, or not waited for: no failure.
        assert!(!output::Drain::new(vip, be, 0, 400, Some(30)).failed());
        assert!(!output::Drain::new(vip, be, 5, 0, None).failed());
    }

    #[test]
    fn completions_name_the_commands() {
        use cli::CompletionShell;
        let script = |sh| String::from_utf8(completions(sh)).unwrap();
        let bash = script(CompletionShell::Bash);
        assert!(bash.contains("complete -F _batonctl"), "{bash}");
        assert!(script(CompletionShell::Zsh).starts_with("#compdef batonctl"));
        let fish = script(CompletionShell::Fish);
        assert!(fish.contains("complete -c batonctl"), "{fish}");
        for sh in [bash, fish] {
            for word in ["service", "backend", "restore", "stats"] {
                assert!(sh.contains(word), "{word} missing");
            }
        }
    }

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
