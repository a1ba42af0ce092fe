// SPDX-License-Identifier: GPL-2.0

//! The first HTTP/1.x request of a connection, as UTCP sees it: parsed from
//! the bytes received so far, without allocation, to pick a back-end by Host
//! and path.
//!
//! [`parse_request`] answers one of:
//!
//! * a complete [`Request`] (the header block ended with an empty line);
//! * [`HttpError::Incomplete`]: what arrived so far is a valid beginning;
//!   wait for more (bounded by [`MAX_HEADER`] and UTCP's timeout);
//! * [`HttpError::NotHttp`]: the bytes cannot start an HTTP/1.x request (or
//!   the header block is malformed): the dispatcher uses the scheduler;
//! * [`HttpError::TooLarge`], [`HttpError::DuplicateHost`],
//!   [`HttpError::BadHost`]: refused, also left to the scheduler.
//!
//! Accepted: `METHOD SP request-target SP HTTP/1.0|HTTP/1.1` lines ending in
//! CRLF or a bare LF, header fields `name: value`, origin-form targets
//! (`/path?query`) and absolute-form ones (`http://host/path`, whose
//! authority takes precedence over the Host header as RFC 9112 section 3.2.2
//! says). Obsolete line folding is refused.

/// Largest header block accepted (request line and fields).
pub const MAX_HEADER: usize = 8192;
/// Longest method accepted.
const MAX_METHOD: usize = 16;

/// A parsed request head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The method (`GET`, ...).
    pub method: &'a [u8],
    /// The request target as sent.
    pub target: &'a [u8],
    /// The host name, without port, from the absolute-form target or else
    /// the Host field; `None` if neither has one.
    pub host: Option<&'a [u8]>,
    /// Bytes of the header block, final empty line included.
    pub header_len: usize,
}

impl<'a> Request<'a> {
    /// The path of the target: the authority of an absolute-form target
    /// removed, up to the first `?` or `#`.
    pub fn path(&self) -> &'a [u8] {
        let mut t = self.target;
        if let Some(rest) = strip_scheme(t) {
            t = match rest.iter().position(|&b| b == b'/') {
                Some(i) => rest.get(i..).unwrap_or_default(),
                None => b"/",
            };
        }
        let end = t
            .iter()
            .position(|&b| b == b'?' || b == b'#')
            .unwrap_or(t.len());
        t.get(..end).unwrap_or_default()
    }
}

/// Why no request could be taken from the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// A valid beginning; more bytes are needed.
    Incomplete,
    /// Not an HTTP/1.x request.
    NotHttp,
    /// The header block exceeds [`MAX_HEADER`].
    TooLarge,
    /// More than one Host field.
    DuplicateHost,
    /// A Host that is not a host name or address.
    BadHost,
}

/// Byte classes, one table lookup per byte: the parser runs on every
/// request of a kept-alive connection whose service has rules.
const TCHAR: u8 = 1;
/// A visible character (a request target's).
const VCHAR: u8 = 2;
/// A host name's.
const HOST: u8 = 4;
/// An IPv6 literal's (hex digits, `:` and `.`).
const V6: u8 = 8;

const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let alnum = c.is_ascii_alphanumeric();
        let mut k = 0;
        if alnum
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            )
        {
            k |= TCHAR;
        }
        if c >= 0x21 && c <= 0x7e {
            k |= VCHAR;
        }
        if alnum || matches!(c, b'-' | b'.' | b'_') {
            k |= HOST;
        }
        if c.is_ascii_hexdigit() || matches!(c, b':' | b'.') {
            k |= V6;
        }
        t[b] = k;
        b += 1;
    }
    t
};

/// Whether every byte of `s` is of class `class`.
fn all_of(s: &[u8], class: u8) -> bool {
    s.iter().all(|&b| CLASS[usize::from(b)] & class != 0)
}

fn strip_scheme(t: &[u8]) -> Option<&[u8]> {
    // Most targets are origin-form ("/..."): no scheme to compare.
    if !t.first().is_some_and(|b| b.eq_ignore_ascii_case(&b'h')) {
        return None;
    }
    for scheme in [&b"http://"[..], b"https://"] {
        if t.len() >= scheme.len() && t[..scheme.len()].eq_ignore_ascii_case(scheme) {
            return t.get(scheme.len()..);
        }
    }
    None
}

/// The host of an authority (`host[:port]`, `[v6]:port`), validated in one
/// pass. Userinfo (`user@host`) is refused: `@` is in no class a host or
/// port may hold.
fn authority_host(auth: &[u8]) -> Result<&[u8], HttpError> {
    let end = if auth.first() == Some(&b'[') {
        let inner = auth.get(1..).unwrap_or_default();
        let n = inner
            .iter()
            .position(|&b| CLASS[usize::from(b)] & V6 == 0)
            .ok_or(HttpError::BadHost)?;
        if n == 0 || inner.get(n) != Some(&b']') {
            return Err(HttpError::BadHost);
        }
        n + 2
    } else {
        let n = auth
            .iter()
            .position(|&b| CLASS[usize::from(b)] & HOST == 0)
            .unwrap_or(auth.len());
        if n == 0 || n > 253 {
            return Err(HttpError::BadHost);
        }
        n
    };
    let (host, rest) = split(auth, end).ok_or(HttpError::BadHost)?;
    match rest.split_first() {
        None => Ok(host),
        Some((b':', port)) if port.len() <= 5 && port.iter().all(u8::is_ascii_digit) => Ok(host),
        _ => Err(HttpError::BadHost),
    }
}

/// `value` without leading and trailing spaces and tabs (RFC 9110 OWS).
fn trim_ows(value: &[u8]) -> &[u8] {
    let ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !ows(b)).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !ows(b)).map_or(start, |i| i + 1);
    value.get(start..end).unwrap_or_default()
}

/// The index of the first LF in `buf`, eight bytes a step: the kernel's
/// Rust has no vector instructions, and a byte loop costs some four
/// instructions a byte of every line of every request.
fn find_lf(buf: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    const LF: u64 = u64::from_ne_bytes([b'\n'; 8]);
    let mut words = buf.chunks_exact(8);
    let mut at = 0;
    for w in &mut words {
        let x = u64::from_le_bytes(w.try_into().unwrap_or_default()) ^ LF;
        // A byte of x is zero where w holds an LF: the lowest byte this
        // marks is the first zero one (marks above it may be false).
        let zero = x.wrapping_sub(ONES) & !x & HIGH;
        if zero != 0 {
            return Some(at + (zero.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| at + i)
}

/// Splits off one line (without its CRLF or LF); `None` if no line end yet.
fn line(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let nl = find_lf(buf)?;
    let (l, rest) = (buf.get(..nl)?, buf.get(nl + 1..)?);
    Some((l.strip_suffix(b"\r").unwrap_or(l), rest))
}

/// Whether `buf`, with no line end yet, can still become a request line.
fn plausible_request_line(buf: &[u8]) -> bool {
    let buf = buf.strip_suffix(b"\r").unwrap_or(buf);
    let mut parts = buf.splitn(3, |&b| b == b' ');
    let method = parts.next().unwrap_or_default();
    if method.len() > MAX_METHOD || !all_of(method, TCHAR) {
        return false;
    }
    let Some(target) = parts.next() else {
        return true;
    };
    if method.is_empty() || !all_of(target, VCHAR) {
        return false;
    }
    let Some(version) = parts.next() else {
        return true;
    };
    !target.is_empty() && (b"HTTP/1.1".starts_with(version) || b"HTTP/1.0".starts_with(version))
}

/// `s` split at `at`, if `at` is within it.
fn split(s: &[u8], at: usize) -> Option<(&[u8], &[u8])> {
    Some((s.get(..at)?, s.get(at..)?))
}

/// The length of the run of bytes of `class` that starts `s`.
fn run_of(s: &[u8], class: u8) -> usize {
    s.iter()
        .position(|&b| CLASS[usize::from(b)] & class == 0)
        .unwrap_or(s.len())
}

/// Whether `v` is `HTTP/1.1` or `HTTP/1.0`: one word compared, not two
/// calls of memcmp.
fn is_http1(v: &[u8]) -> bool {
    let Ok(v) = <[u8; 8]>::try_from(v) else {
        return false;
    };
    let v = u64::from_ne_bytes(v);
    v == u64::from_ne_bytes(*b"HTTP/1.1") || v == u64::from_ne_bytes(*b"HTTP/1.0")
}

/// `METHOD SP target SP version`, each part checked as it is split off.
fn request_line(l: &[u8]) -> Result<(&[u8], &[u8]), HttpError> {
    let m = run_of(l, TCHAR);
    let (method, rest) = split(l, m).ok_or(HttpError::NotHttp)?;
    let rest = rest.strip_prefix(b" ").ok_or(HttpError::NotHttp)?;
    let t = run_of(rest, VCHAR);
    let (target, rest) = split(rest, t).ok_or(HttpError::NotHttp)?;
    let version = rest.strip_prefix(b" ").ok_or(HttpError::NotHttp)?;
    let ok =
        !method.is_empty() && method.len() <= MAX_METHOD && !target.is_empty() && is_http1(version);
    if !ok {
        return Err(HttpError::NotHttp);
    }
    Ok((method, target))
}

/// Parses the request head at the start of `buf`.
pub fn parse_request(buf: &[u8]) -> Result<Request<'_>, HttpError> {
    let Some((first, mut rest)) = line(buf) else {
        if buf.len() > MAX_HEADER {
            return Err(HttpError::TooLarge);
        }
        return if plausible_request_line(buf) {
            Err(HttpError::Incomplete)
        } else {
            Err(HttpError::NotHttp)
        };
    };
    if first.len() > MAX_HEADER {
        return Err(HttpError::TooLarge);
    }
    let (method, target) = request_line(first)?;
    let mut field_host = None;
    loop {
        let consumed = buf.len() - rest.len();
        if consumed > MAX_HEADER {
            return Err(HttpError::TooLarge);
        }
        let Some((l, next)) = line(rest) else {
            return if rest.len() + consumed > MAX_HEADER {
                Err(HttpError::TooLarge)
            } else {
                Err(HttpError::Incomplete)
            };
        };
        rest = next;
        if l.is_empty() {
            break;
        }
        // The name is a run of token characters ended by the colon; a
        // line starting with SP/HT (obsolete line folding) has none.
        let (name, value) = split(l, run_of(l, TCHAR)).ok_or(HttpError::NotHttp)?;
        let value = value.strip_prefix(b":").ok_or(HttpError::NotHttp)?;
        if name.is_empty() {
            return Err(HttpError::NotHttp);
        }
        if name.eq_ignore_ascii_case(b"host") {
            if field_host.is_some() {
                return Err(HttpError::DuplicateHost);
            }
            field_host = Some(trim_ows(value));
        }
    }
    let header_len = buf.len() - rest.len();
    if header_len > MAX_HEADER {
        return Err(HttpError::TooLarge);
    }
    let host = match strip_scheme(target) {
        Some(after) => {
            let end = after
                .iter()
                .position(|&b| b == b'/' || b == b'?' || b == b'#')
                .unwrap_or(after.len());
            Some(authority_host(after.get(..end).unwrap_or_default())?)
        }
        None => match field_host {
            Some(h) if !h.is_empty() => Some(authority_host(h)?),
            _ => None,
        },
    };
    Ok(Request {
        method,
        target,
        host,
        header_len,
    })
}
