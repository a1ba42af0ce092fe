// SPDX-License-Identifier: GPL-2.0

//! The HTTP request-head parser of `src/proto/http.rs`.

use baton_proto::http::{parse_request, HttpError, Request, MAX_HEADER};
use proptest::prelude::*;

fn ok(bytes: &[u8]) -> Request<'_> {
    parse_request(bytes).unwrap_or_else(|e| panic!("{:?}: {e:?}", String::from_utf8_lossy(bytes)))
}

#[test]
fn curl_request() {
    let raw = b"GET /b/index.html?x=1 HTTP/1.1\r\nHost: A.Example:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\nbody";
    let r = ok(raw);
    assert_eq!(r.method, b"GET");
    assert_eq!(r.target, b"/b/index.html?x=1");
    assert_eq!(r.path(), b"/b/index.html");
    assert_eq!(r.host, Some(&b"A.Example"[..]));
    assert_eq!(r.header_len, raw.len() - 4);
}

#[test]
fn bare_lf_http10_without_host() {
    let r = ok(b"GET / HTTP/1.0\n\n");
    assert_eq!((r.host, r.path()), (None, &b"/"[..]));
}

#[test]
fn absolute_form_wins_over_host() {
    let r = ok(b"GET http://b.example:81/x#frag HTTP/1.1\r\nHost: a.example\r\n\r\n");
    assert_eq!(r.host, Some(&b"b.example"[..]));
    assert_eq!(r.path(), b"/x");
    assert_eq!(ok(b"GET http://c.example HTTP/1.1\r\n\r\n").path(), b"/");
}

#[test]
fn ipv6_literal_host() {
    assert_eq!(
        ok(b"GET / HTTP/1.1\r\nHost: [2001:db8::1]:80\r\n\r\n").host,
        Some(&b"[2001:db8::1]"[..])
    );
}

#[test]
fn refusals() {
    let cases: &[(&[u8], HttpError)] = &[
        (b"\x16\x03\x01\x02\x00\x01", HttpError::NotHttp), // TLS ClientHello
        (b"SSH-2.0-OpenSSH_9.2\r\n", HttpError::NotHttp),
        (b"GET / HTTP/2.0\r\n\r\n", HttpError::NotHttp),
        (b"GET  / HTTP/1.1\r\n\r\n", HttpError::NotHttp),
        (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", HttpError::NotHttp),
        (
            b"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
            HttpError::NotHttp,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
            HttpError::DuplicateHost,
        ),
        (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", HttpError::BadHost),
        (
            b"GET / HTTP/1.1\r\nHost: user@a\r\n\r\n",
            HttpError::BadHost,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a:99999x\r\n\r\n",
            HttpError::BadHost,
        ),
        (b"GET / HTTP/1.1\r\nHost: a", HttpError::Incomplete),
        (b"GE", HttpError::Incomplete),
        (b"", HttpError::Incomplete),
    ];
    for (raw, want) in cases {
        assert_eq!(
            parse_request(raw),
            Err(*want),
            "{:?}",
            String::from_utf8_lossy(raw)
        );
    }
}

#[test]
fn size_bound() {
    let mut raw = b"GET / HTTP/1.1\r\nX: ".to_vec();
    raw.resize(MAX_HEADER + 10, b'a');
    assert_eq!(parse_request(&raw), Err(HttpError::TooLarge));
    raw.extend_from_slice(b"\r\n\r\n");
    assert_eq!(parse_request(&raw), Err(HttpError::TooLarge));
    let mut line = b"GET /".to_vec();
    line.resize(MAX_HEADER + 10, b'a');
    assert_eq!(parse_request(&line), Err(HttpError::TooLarge));
}

fn token() -> impl Strategy<Value = String> {
    "[A-Z]{1,8}"
}

prop_compose! {
    fn request()(
        method in token(),
        path in "/[a-z0-9/._-]{0,20}",
        query in proptest::option::of("[a-z0-9=&]{0,10}"),
        host in proptest::option::of("[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5}){0,2}"),
        port in proptest::option::of(1u16..),
        fields in proptest::collection::vec(("[A-Za-z][A-Za-z-]{0,10}", "[ -~]{0,20}"), 0..4),
        crlf in any::<bool>(),
    ) -> (Vec<u8>, String, String, Option<String>) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let target = match &query { Some(q) => format!("{path}?{q}"), None => path.clone() };
        let mut raw = format!("{method} {target} HTTP/1.1{nl}");
        for (name, value) in &fields {
            if !name.eq_ignore_ascii_case("host") {
                raw.push_str(&format!("{name}: {}{nl}", value.trim()));
            }
        }
        if let Some(h) = &host {
            match port {
                Some(p) => raw.push_str(&format!("Host: {h}:{p}{nl}")),
                None => raw.push_str(&format!("Host: {h}{nl}")),
            }
        }
        raw.push_str(nl);
        (raw.into_bytes(), method, path, host)
    }
}

proptest! {
    #[test]
    fn generated_requests_parse((raw, method, path, host) in request()) {
        let r = parse_request(&raw).unwrap();
        prop_assert_eq!(r.method, method.as_bytes());
        prop_assert_eq!(r.path(), path.as_bytes());
        prop_assert_eq!(r.host, host.as_deref().map(str::as_bytes));
        prop_assert_eq!(r.header_len, raw.len());
    }

    #[test]
    fn prefixes_are_incomplete((raw, ..) in request(), cut in any::<prop::sample::Index>()) {
        let n = cut.index(raw.len());
        prop_assert_eq!(parse_request(&raw[..n]), Err(HttpError::Incomplete));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(r) = parse_request(&bytes) {
            prop_assert!(r.header_len <= bytes.len());
        }
    }
}

/// The parser as it was before its byte classes became a table and its
/// scans were fused: written by the grammar, one predicate per class, as a
/// model the fast parser must agree with on any bytes.
mod model {
    use baton_proto::http::{HttpError, Request, MAX_HEADER};
    const MAX_METHOD: usize = 16;

    fn is_tchar(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
    }

    fn is_target_char(b: u8) -> bool {
        (0x21..=0x7e).contains(&b)
    }

    fn is_host_char(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b"-._".contains(&b)
    }

    fn strip_scheme(t: &[u8]) -> Option<&[u8]> {
        for scheme in [&b"http://"[..], b"https://"] {
            if t.len() >= scheme.len() && t[..scheme.len()].eq_ignore_ascii_case(scheme) {
                return t.get(scheme.len()..);
            }
        }
        None
    }

    /// The host of an authority (`host[:port]`, `[v6]:port`), validated.
    fn authority_host(auth: &[u8]) -> Result<&[u8], HttpError> {
        // Userinfo is not allowed in requests.
        if auth.contains(&b'@') {
            return Err(HttpError::BadHost);
        }
        let host = if auth.first() == Some(&b'[') {
            let end = auth
                .iter()
                .position(|&b| b == b']')
                .ok_or(HttpError::BadHost)?;
            let host = auth.get(..=end).ok_or(HttpError::BadHost)?;
            let inner = host.get(1..end).unwrap_or_default();
            if inner.is_empty()
                || !inner
                    .iter()
                    .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
            {
                return Err(HttpError::BadHost);
            }
            host
        } else {
            let end = auth.iter().position(|&b| b == b':').unwrap_or(auth.len());
            let host = auth.get(..end).unwrap_or_default();
            if host.is_empty() || host.len() > 253 || !host.iter().all(|&b| is_host_char(b)) {
                return Err(HttpError::BadHost);
            }
            host
        };
        let rest = auth.get(host.len()..).unwrap_or_default();
        match rest.split_first() {
            None => Ok(host),
            Some((b':', port)) if port.len() <= 5 && port.iter().all(u8::is_ascii_digit) => {
                Ok(host)
            }
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

    /// Splits off one line (without its CRLF or LF); `None` if no line end yet.
    fn line(buf: &[u8]) -> Option<(&[u8], &[u8])> {
        let nl = buf.iter().position(|&b| b == b'\n')?;
        let (l, rest) = (buf.get(..nl)?, buf.get(nl + 1..)?);
        Some((l.strip_suffix(b"\r").unwrap_or(l), rest))
    }

    /// Whether `buf`, with no line end yet, can still become a request line.
    fn plausible_request_line(buf: &[u8]) -> bool {
        let buf = buf.strip_suffix(b"\r").unwrap_or(buf);
        let mut parts = buf.splitn(3, |&b| b == b' ');
        let method = parts.next().unwrap_or_default();
        if method.len() > MAX_METHOD || !method.iter().all(|&b| is_tchar(b)) {
            return false;
        }
        let Some(target) = parts.next() else {
            return true;
        };
        if method.is_empty() || !target.iter().all(|&b| is_target_char(b)) {
            return false;
        }
        let Some(version) = parts.next() else {
            return true;
        };
        !target.is_empty() && (b"HTTP/1.1".starts_with(version) || b"HTTP/1.0".starts_with(version))
    }

    fn request_line(l: &[u8]) -> Result<(&[u8], &[u8]), HttpError> {
        let mut parts = l.splitn(3, |&b| b == b' ');
        let method = parts.next().unwrap_or_default();
        let target = parts.next().ok_or(HttpError::NotHttp)?;
        let version = parts.next().ok_or(HttpError::NotHttp)?;
        let ok = !method.is_empty()
            && method.len() <= MAX_METHOD
            && method.iter().all(|&b| is_tchar(b))
            && !target.is_empty()
            && target.iter().all(|&b| is_target_char(b))
            && (version == b"HTTP/1.1" || version == b"HTTP/1.0");
        if !ok {
            return Err(HttpError::NotHttp);
        }
        Ok((method, target))
    }

    /// Parses the request head at the start of `buf`.
    pub(super) fn parse_request(buf: &[u8]) -> Result<Request<'_>, HttpError> {
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
            let colon = l
                .iter()
                .position(|&b| b == b':')
                .ok_or(HttpError::NotHttp)?;
            let (name, value) = (
                l.get(..colon).unwrap_or_default(),
                l.get(colon + 1..).unwrap_or_default(),
            );
            if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
                // Includes obsolete line folding (a line starting with SP/HT).
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
}

/// Bytes drawn mostly from what a request head holds, so that random
/// strings reach every branch (lines, colons, brackets, ports).
fn headish() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        8 => proptest::sample::select(b"GET /HTTP1.0:[]@ \r\n\tHostabc-_.~!9".to_vec()),
        1 => any::<u8>(),
    ];
    proptest::collection::vec(byte, 0..96)
}

proptest! {
    #[test]
    fn agrees_with_the_model_on_random_heads(raw in headish()) {
        prop_assert_eq!(parse_request(&raw), model::parse_request(&raw));
    }

    #[test]
    fn agrees_with_the_model_on_mutated_requests(
        (raw, ..) in request(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        prefix in "(|GET http://|GET https://[0-9a-f:]{0,6}|Host: \\[)",
    ) {
        let mut raw = raw;
        let i = at.index(raw.len());
        raw[i] = byte;
        prop_assert_eq!(parse_request(&raw), model::parse_request(&raw));
        let mut with = prefix.into_bytes();
        with.extend_from_slice(&raw);
        prop_assert_eq!(parse_request(&with), model::parse_request(&with));
    }
}

/// An authority and the host the parser must take from it.
type AuthorityCase = (&'static [u8], Result<&'static [u8], HttpError>);

#[test]
fn authorities() {
    let cases: &[AuthorityCase] = &[
        (b"[::1]", Ok(b"[::1]")),
        (b"[2001:db8::1]:", Ok(b"[2001:db8::1]")),
        (b"[::ffff:198.18.0.1]:65535", Ok(b"[::ffff:198.18.0.1]")),
        (b"[]", Err(HttpError::BadHost)),
        (b"[", Err(HttpError::BadHost)),
        (b"[::1", Err(HttpError::BadHost)),
        (b"[::1]x", Err(HttpError::BadHost)),
        (b"[::1]:123456", Err(HttpError::BadHost)),
        (b"[g::1]", Err(HttpError::BadHost)),
        (b"a.example:80", Ok(b"a.example")),
        (b"a_b-c.example", Ok(b"a_b-c.example")),
        (b"user@a.example", Err(HttpError::BadHost)),
        (b":80", Err(HttpError::BadHost)),
        (b"a.example:8x", Err(HttpError::BadHost)),
        (b"a/b", Err(HttpError::BadHost)),
    ];
    for (auth, want) in cases {
        let mut raw = b"GET / HTTP/1.1\r\nHost: ".to_vec();
        raw.extend_from_slice(auth);
        raw.extend_from_slice(b"\r\n\r\n");
        let got = parse_request(&raw).map(|r| r.host.unwrap_or_default());
        assert_eq!(got, *want, "{:?}", String::from_utf8_lossy(auth));
        assert_eq!(parse_request(&raw), model::parse_request(&raw));
    }
    let long = [b'a'; 254];
    assert_eq!(authority(&long[..253]), Ok(&long[..253]));
    assert_eq!(authority(&long), Err(HttpError::BadHost));
}

fn authority(host: &[u8]) -> Result<&[u8], HttpError> {
    let mut raw = b"GET http://".to_vec();
    raw.extend_from_slice(host);
    raw.extend_from_slice(b"/ HTTP/1.1\r\n\r\n");
    parse_request(&raw)
        .map(|r| r.host.unwrap_or_default().len())
        .map(|n| &host[..n])
}
