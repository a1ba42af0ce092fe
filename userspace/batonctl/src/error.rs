// SPDX-License-Identifier: GPL-2.0

//! What can go wrong after the command line was parsed, and the exit code of
//! each failure.

use std::{fmt, io};

use baton_proto::uapi::FAMILY_NAME;

/// Exit code of a failure that the kernel reported, or any other failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of a usage error (clap's).
pub const EXIT_USAGE: u8 = 2;
/// Exit code when the `baton` generic netlink family does not exist.
pub const EXIT_NOT_LOADED: u8 = 3;
/// Exit code when the kernel refused the command for lack of privilege.
pub const EXIT_PERMISSION: u8 = 4;

/// A failure of a command.
#[derive(Debug)]
pub enum Error {
    /// nlctrl does not know the `baton` family: the module is not loaded.
    NotLoaded,
    /// The kernel answered EPERM or EACCES.
    PermissionDenied,
    /// The kernel answered with another error.
    Kernel {
        /// The (positive) errno.
        errno: i32,
        /// The extended ACK message (`NLMSGERR_ATTR_MSG`), if any.
        message: Option<String>,
    },
    /// A reply that does not follow the spec.
    Malformed(String),
    /// The netlink socket failed.
    Socket(String),
    /// Writing the output failed.
    Output(io::Error),
    /// A line of `restore` failed (the message names the line).
    Restore(String),
    /// The file of `key-file` cannot be read or holds no valid key.
    KeyFile(String),
    /// `backend drain ... timeout S` ended with connections left: how
    /// many, and which ([`crate::output::drain_left`]).
    NotDrained(String),
    /// A refusal, and what to do about it (see [`crate::advice`]).
    Hinted {
        /// The refusal.
        error: Box<Error>,
        /// What to do, naming this command's objects.
        hint: String,
    },
}

impl Error {
    /// The error the kernel reported with `errno` (positive) and the extended
    /// ACK message `message`.
    pub fn from_kernel(errno: i32, message: Option<String>) -> Self {
        if io::Error::from_raw_os_error(errno).kind() == io::ErrorKind::PermissionDenied {
            Error::PermissionDenied
        } else {
            Error::Kernel { errno, message }
        }
    }

    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::NotLoaded => EXIT_NOT_LOADED,
            Error::PermissionDenied => EXIT_PERMISSION,
            Error::Kernel { .. }
            | Error::Malformed(_)
            | Error::Socket(_)
            | Error::Output(_)
            | Error::Restore(_)
            | Error::KeyFile(_)
            | Error::NotDrained(_) => EXIT_FAILURE,
            Error::Hinted { error, .. } => error.exit_code(),
        }
    }
}

/// The `strerror` text of `errno`, without the " (os error N)" that Rust's
/// `io::Error` appends.
pub fn strerror(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    match text.rsplit_once(" (os error ") {
        Some((message, _)) => message.to_owned(),
        None => text,
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotLoaded => write!(
                f,
                "the baton module is not loaded (generic netlink family '{}' not found)",
                FAMILY_NAME.to_string_lossy()
            ),
            Error::PermissionDenied => {
                f.write_str("permission denied: this command needs CAP_NET_ADMIN")
            }
            Error::Kernel {
                message: Some(message),
                ..
            } => f.write_str(message),
            Error::Kernel {
                errno,
                message: None,
            } => f.write_str(&strerror(*errno)),
            Error::Malformed(what) => write!(f, "malformed reply from the kernel: {what}"),
            Error::Restore(what) => write!(f, "restore: {what}"),
            Error::KeyFile(what) => write!(f, "key-file: {what}"),
            Error::Socket(what) => write!(f, "netlink: {what}"),
            Error::Output(e) => write!(f, "cannot write the output: {e}"),
            // Its connections on the lines after it, as `conn list` shows them.
            Error::NotDrained(what) => f.write_str(what.trim_end()),
            // On a line of its own, as git's hints.
            Error::Hinted { error, hint } => write!(f, "{error}\nhint: {hint}"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    const EPERM: i32 = 1;
    const ENOENT: i32 = 2;
    const EACCES: i32 = 13;
    const EINVAL: i32 = 22;

    #[test]
    fn exit_codes() {
        assert_eq!(Error::NotLoaded.exit_code(), 3);
        assert_eq!(Error::PermissionDenied.exit_code(), 4);
        assert_eq!(Error::from_kernel(EINVAL, None).exit_code(), 1);
        assert_eq!(Error::Malformed("x".into()).exit_code(), 1);
        assert_eq!(Error::Socket("x".into()).exit_code(), 1);
        assert_eq!(EXIT_USAGE, 2);
    }

    #[test]
    fn eperm_and_eacces_are_permission_errors() {
        for errno in [EPERM, EACCES] {
            let e = Error::from_kernel(errno, Some("whatever".into()));
            assert!(matches!(e, Error::PermissionDenied), "{errno}");
            assert_eq!(e.exit_code(), 4);
        }
        assert!(matches!(
            Error::from_kernel(ENOENT, None),
            Error::Kernel { errno: ENOENT, .. }
        ));
    }

    #[test]
    fn messages() {
        assert_eq!(
            Error::NotLoaded.to_string(),
            "the baton module is not loaded (generic netlink family 'baton' not found)"
        );
        assert_eq!(
            Error::PermissionDenied.to_string(),
            "permission denied: this command needs CAP_NET_ADMIN"
        );
        assert_eq!(
            Error::from_kernel(EINVAL, Some("ctrl-port must be between 1 and 65535".into()))
                .to_string(),
            "ctrl-port must be between 1 and 65535"
        );
        assert_eq!(
            Error::from_kernel(EINVAL, None).to_string(),
            "Invalid argument"
        );
    }

    #[test]
    fn a_hint_follows_on_its_own_line() {
        let e = Error::Hinted {
            error: Box::new(Error::from_kernel(ENOENT, Some("service not found".into()))),
            hint: "no service 198.18.1.10:80 here".into(),
        };
        assert_eq!(
            e.to_string(),
            "service not found\nhint: no service 198.18.1.10:80 here"
        );
        assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn strerror_has_no_suffix() {
        assert_eq!(strerror(ENOENT), "No such file or directory");
        assert_eq!(strerror(EPERM), "Operation not permitted");
    }
}
