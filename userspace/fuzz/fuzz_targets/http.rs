// SPDX-License-Identifier: GPL-2.0

//! Fuzz target `http`: the first-request parser of `src/proto/http.rs`,
//! as the module's `read_request` calls it on the bytes received so far.
//!
//! Asserts, on the input and on prefixes of it:
//!
//! * A complete request: `header_len` is within the buffer and at most
//!   `MAX_HEADER`, and the head ends with an empty line; method and target
//!   are the first two words of the first line, which ends in ` HTTP/1.0`
//!   or ` HTTP/1.1`; the host is a sub-slice of the head, the one an
//!   independent reference picks (absolute-form authority first, else the
//!   only Host field, port and brackets handled as documented) and is
//!   made of host-name characters or is a bracketed IPv6 literal; the path
//!   is a sub-slice of the target without `?` or `#`.
//! * Waiting is bounded: `Incomplete` never comes for more than
//!   `MAX_HEADER` bytes.
//! * Reading more never changes an answer: every proper prefix of a
//!   complete head is `Incomplete`; a prefix that is complete gives the
//!   same request (same fields at the same offsets) on the whole input and
//!   with more bytes appended; a prefix that is refused stays refused with
//!   the same error (or `TooLarge` instead of `NotHttp` once the line
//!   grows past `MAX_HEADER`), never `Incomplete` or a request.

#![no_main]

use baton_proto::http::{parse_request, HttpError, Request, MAX_HEADER};
use libfuzzer_sys::fuzz_target;

/// Offset of `part` in `buf` if it is a sub-slice of it.
fn find_offset(buf: &[u8], part: &[u8]) -> Option<usize> {
    let (b, p) = (buf.as_ptr() as usize, part.as_ptr() as usize);
    (p >= b && p + part.len() <= b + buf.len()).then(|| p - b)
}

/// Offset of `part` in `buf`, which it must be a sub-slice of.
fn offset_in(buf: &[u8], part: &[u8]) -> usize {
    find_offset(buf, part).expect("a sub-slice of the input")
}

/// A request in terms of offsets into its buffer, for comparing parses of
/// different buffers.
#[derive(Debug, PartialEq, Eq)]
struct Spans {
    method: (usize, usize),
    target: (usize, usize),
    host: Option<(usize, usize)>,
    /// `None` for the `/` of an absolute-form target without a path.
    path: (Option<usize>, usize),
    header_len: usize,
}

fn spans(buf: &[u8], r: &Request<'_>) -> Spans {
    let span = |s: &[u8]| (offset_in(buf, s), s.len());
    Spans {
        method: span(r.method),
        target: span(r.target),
        host: r.host.map(span),
        path: (find_offset(buf, r.path()), r.path().len()),
        header_len: r.header_len,
    }
}

fn strip_scheme(t: &[u8]) -> Option<&[u8]> {
    let lower = t.to_ascii_lowercase();
    ["http://", "https://"]
        .iter()
        .find(|s| lower.starts_with(s.as_bytes()))
        .map(|s| &t[s.len()..])
}

/// The host of an authority, port and brackets handled, unvalidated.
fn ref_authority_host(auth: &[u8]) -> &[u8] {
    if auth.first() == Some(&b'[') {
        match auth.iter().position(|&b| b == b']') {
            Some(i) => &auth[..=i],
            None => auth,
        }
    } else {
        auth.split(|&b| b == b':').next().unwrap_or_default()
    }
}

/// The host the documentation says a request names: the authority of an
/// absolute-form target, else the value of the (only) Host field.
fn ref_host<'a>(head: &'a [u8], target: &'a [u8]) -> Option<&'a [u8]> {
    if let Some(after) = strip_scheme(target) {
        let end = after
            .iter()
            .position(|&b| b"/?#".contains(&b))
            .unwrap_or(after.len());
        return Some(ref_authority_host(&after[..end]));
    }
    let mut hosts = head.split(|&b| b == b'\n').skip(1).filter_map(|line| {
        let colon = line.iter().position(|&b| b == b':')?;
        line[..colon]
            .eq_ignore_ascii_case(b"host")
            .then(|| &line[colon + 1..])
    });
    let value = hosts.next()?;
    assert!(hosts.next().is_none(), "two Host fields accepted");
    let value = value.strip_suffix(b"\r").unwrap_or(value);
    let ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !ows(b))?;
    let end = value.iter().rposition(|b| !ows(b)).map_or(start, |i| i + 1);
    Some(ref_authority_host(&value[start..end]))
}

/// Checks a complete request `r` parsed from `buf`.
fn check_request(buf: &[u8], r: &Request<'_>) {
    let n = r.header_len;
    assert!(n <= buf.len() && n <= MAX_HEADER, "header_len {n}");
    let head = &buf[..n];
    assert!(head.ends_with(b"\n\n") || head.ends_with(b"\n\r\n"));
    // Request line: METHOD SP target SP version.
    assert_eq!(offset_in(head, r.method), 0);
    assert!(!r.method.is_empty());
    let t = offset_in(head, r.target);
    assert_eq!(t, r.method.len() + 1);
    assert_eq!(head[t - 1], b' ');
    let line_end = head.iter().position(|&b| b == b'\n').unwrap();
    let line = &head[..line_end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let version = &line[t + r.target.len()..];
    assert!(
        version == b" HTTP/1.1" || version == b" HTTP/1.0",
        "version {version:?}"
    );
    assert!(!r.target.is_empty() && !r.target.contains(&b' '));
    // Path: inside the target, no query or fragment.
    let path = r.path();
    if strip_scheme(r.target).is_none() || path != b"/" {
        offset_in(r.target, path);
    }
    assert!(!path.contains(&b'?') && !path.contains(&b'#'));
    // Host: the reference's, and well-formed.
    let want = ref_host(head, r.target).filter(|h| !h.is_empty());
    assert_eq!(r.host, want, "host");
    if let Some(h) = r.host {
        offset_in(head, h);
        let ok = match h {
            [b'[', inner @ .., b']'] => {
                !inner.is_empty()
                    && inner
                        .iter()
                        .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
            }
            _ => {
                h.len() <= 253
                    && h.iter()
                        .all(|&b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
            }
        };
        assert!(ok, "host {h:?}");
    }
}

/// `later` is what the parser says on more bytes than `earlier`, whose
/// answer was not `Incomplete`.
fn check_stable(
    earlier: (&[u8], &Result<Request<'_>, HttpError>),
    later: (&[u8], &Result<Request<'_>, HttpError>),
) {
    match (earlier.1, later.1) {
        (Ok(a), Ok(b)) => assert_eq!(spans(earlier.0, a), spans(later.0, b)),
        (Err(HttpError::NotHttp), Err(HttpError::TooLarge)) => {}
        (Err(a), Err(b)) => assert_eq!(a, b, "refusal changed"),
        (a, b) => panic!("{a:?} became {b:?} with more bytes"),
    }
}

fuzz_target!(|data: &[u8]| {
    let whole = parse_request(data);
    match &whole {
        Ok(r) => {
            check_request(data, r);
            let head = &data[..r.header_len];
            // Every proper prefix of the head is incomplete (all of them
            // for short heads, a spread of cuts for long ones).
            let step = (head.len() / 256).max(1);
            for k in (0..head.len())
                .step_by(step)
                .chain(head.len().checked_sub(1))
            {
                assert_eq!(
                    parse_request(&head[..k]),
                    Err(HttpError::Incomplete),
                    "cut at {k}"
                );
            }
        }
        Err(HttpError::Incomplete) => assert!(data.len() <= MAX_HEADER),
        Err(_) => {}
    }
    // Answers on prefixes hold for the whole input.
    let step = (data.len() / 64).max(1);
    for k in (0..data.len()).step_by(step) {
        let part = &data[..k];
        let early = parse_request(part);
        if early != Err(HttpError::Incomplete) {
            check_stable((part, &early), (data, &whole));
        }
    }
    // And for more bytes after it.
    if whole != Err(HttpError::Incomplete) {
        for tail in [&b"\r\n\r\n"[..], b"x", data] {
            let longer = [data, tail].concat();
            check_stable((data, &whole), (&longer, &parse_request(&longer)));
        }
    }
});
